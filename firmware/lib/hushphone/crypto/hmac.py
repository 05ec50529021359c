# HMAC (RFC 2104) for SHA-1 and SHA-256: MicroPython has no hmac module.
# The padded keys are computed once per key, so per-packet work is the two
# hash passes only.
import hashlib

_BLOCK = 64  # block size of SHA-1 and SHA-256


class Hmac:
    """A keyed HMAC. `digest(data, tail)` authenticates data followed by
    tail without joining them (a packet and its ROC, for example)."""

    def __init__(self, key, hash_name="sha1"):
        if hash_name == "sha1":
            self._new = hashlib.sha1
        elif hash_name == "sha256":
            self._new = hashlib.sha256
        else:
            raise ValueError("unsupported HMAC hash")
        key = bytes(key)
        if len(key) > _BLOCK:
            key = self._new(key).digest()
        key = key + bytes(_BLOCK - len(key))
        self._ipad = bytes(b ^ 0x36 for b in key)
        self._opad = bytes(b ^ 0x5C for b in key)

    def digest(self, data, tail=None):
        """HMAC of data (+ tail): two explicit parameters rather than
        *parts, which would allocate a tuple per packet on MicroPython."""
        new = self._new
        inner = new(self._ipad)
        inner.update(data)
        if tail is not None:
            inner.update(tail)
        outer = new(self._opad)
        outer.update(inner.digest())
        return outer.digest()

    def digest_parts(self, parts):
        """HMAC of the concatenation of an iterable of byte strings."""
        inner = self._new(self._ipad)
        for part in parts:
            inner.update(part)
        outer = self._new(self._opad)
        outer.update(inner.digest())
        return outer.digest()


def hmac_sha1(key, data):
    return Hmac(key, "sha1").digest(data)


def hmac_sha256(key, data):
    return Hmac(key, "sha256").digest(data)


def compare_digest(a, b):
    """Constant-time comparison of two byte strings (length is not secret)."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0
