"""Property tests (CPython, hypothesis) for the handset's OTA parsers: any
bytes a peer can send give a result or OtaRejected, never another
exception. Signature blocks get a matching CRC so parsing goes past it."""
import binascii
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from hushphone.ota import OtaRejected, bundle, manifest, sbv2
from hushphone.ota.verifier import UpdateVerifier

TRUST = sbv2.TrustAnchors([b"\x11" * 32])


def _block(version, sha_id, curve, body):
    raw = bytearray(body.ljust(1216, b"\x00")[:1216])
    raw[0:4] = bytes((0xE7, version, sha_id, 0))
    raw[36 if sha_id == 0 else 52] = curve
    raw[1200:] = bytes(16)
    raw[1196:1200] = struct.pack("<I", binascii.crc32(bytes(raw[:1196])) & 0xFFFFFFFF)
    return bytes(raw)


blocks = st.builds(_block, st.sampled_from((2, 3, 4)), st.integers(0, 2), st.integers(0, 4),
                   st.binary(min_size=0, max_size=1216))


@settings(max_examples=300, deadline=None)
@given(st.lists(blocks, min_size=0, max_size=3), st.binary(max_size=64), st.binary(min_size=32, max_size=48))
def test_signature_sectors(block_list, tail, digest):
    sector = b"".join(block_list) + tail
    sector = sector[:4096].ljust(4096, b"\xff")
    try:
        parsed = sbv2.parse_signature_sector(sector)
    except OtaRejected:
        return
    try:
        sbv2.check_signatures(parsed, {"sha256": digest[:32], "sha384": digest.ljust(48, b"\x00")}, TRUST)
    except OtaRejected:
        return
    raise AssertionError("random blocks verified under a key nobody holds")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 2 ** 40) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=12,
)
fields = st.fixed_dictionaries({}, optional={
    k: json_values for k in ("format", "boards", "chip", "version", "secure_version", "image_size", "image_sha256",
                             "released", "expires", "notes", "extra")
})


@settings(max_examples=300, deadline=None)
@given(fields)
def test_manifest_decode(value):
    import json

    data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    try:
        m = manifest.decode(data)
    except OtaRejected as e:
        assert e.reason == "malformed"
        return
    assert manifest.encode(m.fields) == data


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64), st.integers(0, 3))
def test_bundle_header_and_signed_manifest(data, sectors):
    try:
        bundle.parse_bundle_header(data)
    except OtaRejected:
        pass
    v = UpdateVerifier([b"\x11" * 32], board="b", chip="esp32", now=1)
    try:
        v.check_manifest((data * 4096)[: sectors * 4096] if data else bytes(sectors * 4096))
    except OtaRejected:
        return
    raise AssertionError("a random manifest was accepted")
