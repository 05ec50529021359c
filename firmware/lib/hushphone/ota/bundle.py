# The .hushota bundle: b"HUSHOTA1", u32 LE length of the signed manifest
# (0xFF-padded manifest + signature sector), the signed manifest, then the
# signed image. A reader needs only the 12-byte header to split the stream.
import struct

from hushphone.compat import const
from hushphone.ota import OtaRejected

MAGIC = b"HUSHOTA1"
HEADER_SIZE = const(12)
SECTOR = const(4096)
# A manifest is a few hundred bytes: one data sector plus the signature
# sector, with room to spare for long release notes.
MAX_SIGNED_MANIFEST = const(4 * 4096)


def parse_bundle_header(first_bytes):
    """Length of the signed manifest that follows the 12-byte header."""
    if len(first_bytes) < HEADER_SIZE:
        raise OtaRejected("truncated", "bundle is shorter than its 12-byte header")
    if bytes(first_bytes[:8]) != MAGIC:
        raise OtaRejected("malformed", "not a Hushphone update bundle (bad magic)")
    length = struct.unpack_from("<I", first_bytes, 8)[0]
    if length < 2 * SECTOR or length % SECTOR or length > MAX_SIGNED_MANIFEST:
        raise OtaRejected("malformed", "bundle header gives an impossible manifest length %d" % length)
    return length


def bundle_header(signed_manifest_len):
    return MAGIC + struct.pack("<I", signed_manifest_len)


def _read_exactly(read, n, what):
    out = bytearray(n)  # one allocation: no growing buffer to fragment the heap
    view = memoryview(out)
    got = 0
    while got < n:
        chunk = read(n - got)
        if not chunk:
            raise OtaRejected("truncated", "bundle ends inside the %s" % what)
        view[got : got + len(chunk)] = chunk
        got += len(chunk)
    return out


def verify_bundle(verifier, read, chunk_size=4096, sink=None):
    """Run `verifier` (an UpdateVerifier) over a bundle read through
    `read(n)`, streaming the image in chunks (each also given to `sink`, if
    any, e.g. a partition writer). Returns verifier.finish()'s result."""
    length = parse_bundle_header(_read_exactly(read, HEADER_SIZE, "header"))
    verifier.checks.ok("bundle-header", "signed manifest of %d bytes" % length)
    manifest = verifier.check_manifest(_read_exactly(read, length, "signed manifest"))
    remaining = manifest.image_size
    while remaining > 0:
        chunk = read(min(chunk_size, remaining))
        if not chunk:
            break  # finish() reports the truncation
        verifier.update(chunk)
        if sink is not None:
            sink(chunk)
        remaining -= len(chunk)
    if read(1):
        raise OtaRejected("oversized", "bundle has data after the image")
    return verifier.finish()
