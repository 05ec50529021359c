# The update verifier the handset runs before it boots new firmware, and the
# very code `hushctl ota verify` runs on the host. Sans-IO: bytes in, a
# verdict out; the current time is passed in. The image is hashed as it
# streams (any chunk sizes); only the image head (app descriptor) and the
# last 4 KiB (the signature sector) are kept.
from hushphone.compat import const
from hushphone.crypto.sha import new_sha256, sha256
from hushphone.ota import OtaRejected, appdesc, manifest, sbv2

# hushphone.ota.sha384 (8 KB of heap on MicroPython) is imported only when a
# P-384 signature needs it.

_SECTOR = const(4096)


def _hex(data):
    import binascii

    return binascii.hexlify(data).decode()


def _needs_sha384(blocks):
    for b in blocks:
        if b.hash_name == "sha384":
            return True
    return False


class Checks:
    """The verdict so far: (check name, detail) of every check that passed."""

    def __init__(self):
        self.passed = []

    def ok(self, name, detail):
        self.passed.append((name, detail))


class SignedImageVerifier:
    """Streams one signed image of a known size: app header and chip, its
    Secure Boot V2 signature sector under the trust anchors, and the secure
    version floor. `want_sha384` also hashes with SHA-384 (for P-384 blocks).
    A filesystem image (kind "fs") has no app header: it must start with a
    LittleFS2 superblock, and its version comes from the signed manifest."""

    def __init__(self, trust, size, chip=None, secure_version_floor=0, want_sha384=False, checks=None,
                 kind=manifest.KIND_APP):
        if size < 2 * _SECTOR or size % _SECTOR:
            raise OtaRejected("malformed", "a signed image is a whole number of 4 KiB sectors (at least 2), not %d bytes" % size)
        self.trust = trust
        self.size = size
        self.chip = chip
        self.secure_version_floor = secure_version_floor
        self.kind = kind
        self.checks = checks if checks is not None else Checks()
        self.received = 0
        self._body_len = size - _SECTOR
        self._whole = new_sha256()
        self._body = new_sha256()
        self._body384 = None
        if want_sha384:
            from hushphone.ota.sha384 import new_sha384

            self._body384 = new_sha384()
        self._head = bytearray(appdesc.HEAD_SIZE)
        self._sector = bytearray(_SECTOR)
        self.sha256 = None
        self.app = None

    def update(self, chunk):
        mv = memoryview(chunk)
        n = len(mv)
        pos = self.received
        if pos + n > self.size:
            raise OtaRejected("oversized", "image is longer than the %d bytes announced" % self.size)
        self._whole.update(mv)
        if pos < appdesc.HEAD_SIZE:
            k = min(n, appdesc.HEAD_SIZE - pos)
            self._head[pos : pos + k] = mv[:k]
        body_part = min(n, max(0, self._body_len - pos))
        if body_part:
            self._body.update(mv[:body_part])
            if self._body384 is not None:
                self._body384.update(mv[:body_part])
        if body_part < n:
            start = pos + body_part - self._body_len
            self._sector[start : start + n - body_part] = mv[body_part:]
        self.received = pos + n

    def close(self):
        """End of the stream: the SHA-256 of the whole signed image."""
        if self.received < self.size:
            raise OtaRejected("truncated", "image ended after %d of %d bytes" % (self.received, self.size))
        if self.sha256 is None:
            self.sha256 = self._whole.digest()
        return self.sha256

    def app_info(self):
        """The image's header and app descriptor (parsed once)."""
        if self.app is None:
            self.app = appdesc.AppInfo(self._head)
        return self.app

    def finish(self):
        """Check the whole image; returns the trusted key slots that signed
        it. Raises OtaRejected on the first failed check."""
        self.close()
        if self.kind == manifest.KIND_FS:
            return self._finish_signature()
        app = self.app_info()
        self.checks.ok("image-header", "%s %s, %d segments" % (app.project_name, app.version, app.segment_count))
        if self.chip is not None:
            if app.chip != self.chip:
                raise OtaRejected("chip", "image is built for %s, this is a %s" % (app.chip, self.chip))
            self.checks.ok("image-chip", app.chip)
        if app.secure_version < self.secure_version_floor:
            raise OtaRejected("downgrade", "image secure_version %d is below the floor %d"
                              % (app.secure_version, self.secure_version_floor))
        self.checks.ok("image-secure-version", "%d >= %d" % (app.secure_version, self.secure_version_floor))
        return self._finish_signature()

    def _finish_signature(self):
        if self.kind == manifest.KIND_FS:
            # LittleFS2 block 0: revision count (4), metadata tag (4), then "littlefs".
            if bytes(self._head[8:16]) != b"littlefs":
                raise OtaRejected("malformed", "a filesystem update must be a LittleFS2 image")
            self.checks.ok("image-filesystem", "LittleFS2")
        blocks = sbv2.parse_signature_sector(self._sector)
        digests = {"sha256": self._body.digest()}
        if self._body384 is not None:
            digests["sha384"] = self._body384.digest()
        slots = sbv2.check_signatures(blocks, digests, self.trust)
        self.checks.ok("image-signature", "%d block(s), trusted key slot(s) %s" % (len(blocks), _slots_text(slots)))
        return slots


def _slots_text(slots):
    return ",".join(str(s) for s in slots)


class VerifiedUpdate:
    """What a successful verification established."""

    def __init__(self, manifest_, app, slots, sha256_):
        self.manifest = manifest_
        self.app = app  # None for a filesystem image
        self.key_slots = slots
        self.image_sha256 = sha256_
        self.kind = manifest_.kind
        self.version = manifest_.version if app is None else app.version
        self.secure_version = manifest_.secure_version if app is None else app.secure_version


class UpdateVerifier:
    """Verifies an update: first the signed manifest (check_manifest), then
    the image it describes, streamed through update() and closed by finish().

    trusted_digests: up to 3 Secure Boot V2 key digests (32 bytes each);
    revoked_mask: bit n revokes digest n; board/chip: this handset (None
    skips that check, for host-side inspection only); the update's
    secure_version must be >= both running_secure_version and
    secure_version_floor; now: UNIX seconds (None refuses, as expiry cannot
    be checked); max_image_size: the update partition's size; kind: what
    this handset installs ("app" or "fs", manifest.KINDS; None accepts
    either, for host-side inspection only)."""

    def __init__(self, trusted_digests, revoked_mask=0, board=None, chip=None, running_secure_version=0,
                 secure_version_floor=0, now=None, max_image_size=None, kind=manifest.KIND_APP):
        self.trust = sbv2.TrustAnchors(trusted_digests, revoked_mask)
        self.board = board
        self.chip = chip
        self.min_secure_version = max(running_secure_version, secure_version_floor)
        self.now = now
        self.max_image_size = max_image_size
        self.kind = kind
        self.checks = Checks()
        self.manifest = None
        self._image = None

    def check_manifest(self, signed_manifest):
        """Verify a signed manifest (JSON + padding + signature sector) and
        its fields against this handset. Returns the Manifest."""
        n = len(signed_manifest)
        if n < 2 * _SECTOR or n % _SECTOR:
            raise OtaRejected("malformed", "signed manifest is %d bytes, not whole 4 KiB sectors" % n)
        mv = memoryview(signed_manifest)
        body = mv[: n - _SECTOR]
        blocks = sbv2.parse_signature_sector(mv[n - _SECTOR :])
        digests = {"sha256": sha256(body)}
        if _needs_sha384(blocks):
            from hushphone.ota.sha384 import sha384

            digests["sha384"] = sha384(body)
        slots = sbv2.check_signatures(blocks, digests, self.trust)
        self.checks.ok("manifest-signature", "%d block(s), trusted key slot(s) %s" % (len(blocks), _slots_text(slots)))
        m = manifest.decode(manifest.strip_padding(body))
        self.checks.ok("manifest-format", "version %s, secure_version %d" % (m.version, m.secure_version))
        self._check_fields(m)
        self.manifest = m
        self._image = SignedImageVerifier(self.trust, m.image_size, chip=m.chip,
                                          secure_version_floor=self.min_secure_version,
                                          want_sha384=_needs_sha384(blocks), checks=self.checks, kind=m.kind)
        return m

    def _check_fields(self, m):
        if self.kind is not None:
            if m.kind != self.kind:
                raise OtaRejected("kind", "update is a%s %s image, this handset installs %s images"
                                  % ("n" if m.kind == manifest.KIND_APP else "", m.kind, self.kind))
            self.checks.ok("kind", m.kind)
        if self.chip is not None:
            if m.chip != self.chip:
                raise OtaRejected("chip", "update is for %s, this handset is a %s" % (m.chip, self.chip))
            self.checks.ok("chip", m.chip)
        if self.board is not None:
            if self.board not in m.boards:
                raise OtaRejected("board", "update is for %s, not for board %s" % (", ".join(m.boards), self.board))
            self.checks.ok("board", self.board)
        if self.now is None:
            raise OtaRejected("expired", "the current time is unknown, so the manifest's expiry cannot be checked")
        if m.expires <= m.released:
            raise OtaRejected("malformed", "manifest expires before it was released")
        if self.now >= m.expires:
            raise OtaRejected("expired", "manifest expired at %d, it is now %d" % (m.expires, self.now))
        self.checks.ok("expiry", "valid until %d" % m.expires)
        if m.secure_version < self.min_secure_version:
            raise OtaRejected("downgrade", "update secure_version %d is below %d"
                              % (m.secure_version, self.min_secure_version))
        self.checks.ok("secure-version", "%d >= %d" % (m.secure_version, self.min_secure_version))
        if m.image_size < 2 * _SECTOR or m.image_size % _SECTOR:
            raise OtaRejected("malformed", "manifest image_size %d is not whole 4 KiB sectors" % m.image_size)
        if self.max_image_size is not None and m.image_size > self.max_image_size:
            raise OtaRejected("oversized", "image of %d bytes does not fit the %d-byte update partition"
                              % (m.image_size, self.max_image_size))
        self.checks.ok("image-size", "%d bytes" % m.image_size)

    def update(self, chunk):
        if self._image is None:
            raise ValueError("check_manifest() must succeed before image data")
        self._image.update(chunk)

    def finish(self):
        """Finish the image: size, SHA-256 against the manifest, app
        descriptor against the manifest, and the image's own signatures."""
        if self._image is None:
            raise ValueError("check_manifest() must succeed before finish()")
        img = self._image
        m = self.manifest
        digest = _hex(img.close())
        if digest != m.image_sha256:
            raise OtaRejected("digest", "image SHA-256 %s does not match the manifest's %s" % (digest, m.image_sha256))
        self.checks.ok("image-sha256", digest)
        if m.kind == manifest.KIND_FS:
            return VerifiedUpdate(m, None, img.finish(), digest)
        app = img.app_info()
        if app.version != m.version or app.secure_version != m.secure_version:
            raise OtaRejected("mismatch", "image says version %s secure_version %d, manifest says %s / %d"
                              % (app.version, app.secure_version, m.version, m.secure_version))
        self.checks.ok("app-descriptor", "version %s, secure_version %d" % (app.version, app.secure_version))
        slots = img.finish()
        return VerifiedUpdate(m, img.app, slots, digest)
