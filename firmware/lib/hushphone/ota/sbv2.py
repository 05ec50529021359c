# Secure Boot V2 signature sectors, byte-compatible with `espsecure sign-data
# --version 2`: the signed data is padded with 0xFF to a 4 KiB boundary and a
# 4 KiB sector follows, holding 1..3 blocks of 1216 bytes:
#   RSA-3072-PSS (version 2):  magic, 2, 0, 0, SHA-256 digest[32], modulus[384 LE],
#       exponent u32, R^-1[384 LE], M' u32, signature[384 LE], CRC32, 16 zero bytes
#   ECDSA (version 3):  magic, 3, sha id, 0, digest[32|48], curve id,
#       x||y LE, r||s LE, zeros, CRC32, 16 zero bytes
# and 0xFF after the last block. The key digest (what eFuses and our trust
# store hold) is SHA-256 over the block's public-key bytes, as
# `espsecure digest-sbv2-public-key` computes it.
import binascii
import struct

from hushphone.compat import const
from hushphone.crypto.hmac import compare_digest
from hushphone.crypto.sha import sha256
from hushphone.ota import OtaRejected, ecdsa, rsa_pss

SECTOR_SIZE = const(4096)
BLOCK_SIZE = const(1216)
MAX_BLOCKS = const(3)
_CRC_OFFSET = const(1196)
_MAGIC = const(0xE7)
_VERSION_RSA = const(2)
_VERSION_ECDSA = const(3)
_SHA256_ID = const(0)
_SHA384_ID = const(1)

# curve id in the block -> (curve, hash used for the image digest)
_CURVES = {1: (ecdsa.P192, "sha256"), 2: (ecdsa.P256, "sha256"), 3: (ecdsa.P384, "sha384")}
SCHEME_NAMES = {1: "ecdsa192", 2: "ecdsa256", 3: "ecdsa384"}


class SignatureBlock:
    """One parsed signature block. `key_digest` identifies the signing key;
    `verify(digest)` checks the signature over the signed data's digest."""

    def __init__(self, index, raw):
        self.index = index
        version = raw[1]
        if raw[3] != 0 or raw[_CRC_OFFSET + 4 :] != bytes(BLOCK_SIZE - _CRC_OFFSET - 4):
            raise OtaRejected("malformed", "signature block %d has non-zero reserved bytes" % index)
        if version == _VERSION_RSA:
            self._parse_rsa(raw)
        else:
            self._parse_ecdsa(raw)

    def _parse_rsa(self, raw):
        if raw[2] != 0:
            raise OtaRejected("malformed", "signature block %d has non-zero reserved bytes" % self.index)
        self.scheme = "rsa3072"
        self.hash_name = "sha256"
        self.digest = bytes(raw[4:36])
        self.key_digest = sha256(raw[36:812])
        self._n = int.from_bytes(raw[36:420], "little")
        self._e = struct.unpack_from("<I", raw, 420)[0]
        self._sig = int.from_bytes(raw[812:1196], "little")

    def _parse_ecdsa(self, raw):
        sha_id = raw[2]
        if sha_id == _SHA384_ID:
            digest_len = 48
        elif sha_id == _SHA256_ID:
            digest_len = 32
        else:
            raise OtaRejected("malformed", "signature block %d names unknown hash %d" % (self.index, sha_id))
        pos = 4 + digest_len
        curve_id = raw[pos]
        if curve_id not in _CURVES:
            raise OtaRejected("malformed", "signature block %d names unknown curve %d" % (self.index, curve_id))
        curve, hash_name = _CURVES[curve_id]
        if (hash_name == "sha384") != (sha_id == _SHA384_ID):
            raise OtaRejected("malformed", "signature block %d pairs curve %s with the wrong hash" % (self.index, curve.name))
        # espsecure always reserves room for a P-256 point in SHA-256 blocks.
        size = 48 if curve_id == 3 else 32
        key_len = 2 * size
        key_end = pos + 1 + key_len
        sig_end = key_end + key_len
        if raw[sig_end:_CRC_OFFSET] != bytes(_CRC_OFFSET - sig_end):
            raise OtaRejected("malformed", "signature block %d has non-zero reserved bytes" % self.index)
        self.scheme = SCHEME_NAMES[curve_id]
        self.hash_name = hash_name
        self.digest = bytes(raw[4:pos])
        self.key_digest = sha256(raw[pos:key_end])
        self._curve = curve
        n = curve.size
        self._q = (int.from_bytes(raw[pos + 1 : pos + 1 + n], "little"),
                   int.from_bytes(raw[pos + 1 + n : pos + 1 + 2 * n], "little"))
        self._rs = (int.from_bytes(raw[key_end : key_end + n], "little"),
                    int.from_bytes(raw[key_end + n : key_end + 2 * n], "little"))

    def verify(self, digest):
        """True if this block carries `digest` and its signature over it is
        valid for the block's own public key."""
        if not compare_digest(self.digest, digest):
            return False
        if self.scheme == "rsa3072":
            return rsa_pss.verify(self._n, self._e, self._sig, digest)
        return ecdsa.verify(self._curve, self._q[0], self._q[1], self._rs[0], self._rs[1], digest)


def parse_signature_sector(sector):
    """The signature blocks of a 4 KiB signature sector. Strict: every byte
    of the sector must belong to a well-formed block or to the 0xFF tail, so
    any change to the sector is noticed even without an outer digest."""
    if len(sector) != SECTOR_SIZE:
        raise OtaRejected("malformed", "signature sector is %d bytes, not %d" % (len(sector), SECTOR_SIZE))
    sector = memoryview(sector)
    blocks = []
    pos = 0
    while len(blocks) < MAX_BLOCKS:
        raw = sector[pos : pos + BLOCK_SIZE]
        if raw[0] != _MAGIC:
            break
        if raw[1] not in (_VERSION_RSA, _VERSION_ECDSA):
            raise OtaRejected("malformed", "signature block %d has unknown version %d" % (len(blocks), raw[1]))
        crc = struct.unpack_from("<I", raw, _CRC_OFFSET)[0]
        if binascii.crc32(raw[:_CRC_OFFSET]) & 0xFFFFFFFF != crc:
            raise OtaRejected("signature", "signature block %d is corrupt (CRC32 mismatch)" % len(blocks))
        blocks.append(SignatureBlock(len(blocks), raw))
        pos += BLOCK_SIZE
    for b in sector[pos:]:
        if b != 0xFF:
            raise OtaRejected("malformed", "signature sector has stray bytes after %d block(s)" % len(blocks))
    if not blocks:
        raise OtaRejected("signature", "no signature block: the data is not signed")
    return blocks


class TrustAnchors:
    """Up to three trusted key digests and a revocation bitmask (bit n
    revokes digest n, like the KEY_REVOKE eFuses)."""

    def __init__(self, digests, revoked_mask=0):
        # An empty slot (None or b"", e.g. an unset NVS key) keeps its place,
        # so bit n of the mask always means slot n.
        digests = [bytes(d) if d else None for d in digests]
        if len(digests) > MAX_BLOCKS:
            raise ValueError("at most 3 trusted key digests")
        for d in digests:
            if d is not None and len(d) != 32:
                raise ValueError("a key digest is 32 bytes")
        self.digests = digests
        self.revoked_mask = revoked_mask

    def slot(self, key_digest):
        """Index of `key_digest` among the trusted digests, or -1."""
        for i, d in enumerate(self.digests):
            if d is not None and compare_digest(d, key_digest):
                return i
        return -1

    def is_revoked(self, slot):
        return bool(self.revoked_mask & (1 << slot))


def check_signatures(blocks, digests, trust):
    """Apply the signature rule to parsed `blocks`.

    `digests` maps "sha256"/"sha384" to the digest of the signed data (a
    missing entry means it was not computed). Rule: every block must carry
    the data's digest and verify with its own key, and at least one block
    must come from a trusted key that is not revoked. Blocks from other keys
    (a key being rotated in, a revoked old key) are allowed but not relied on.
    Returns the trusted slots that verified; raises OtaRejected otherwise."""
    slots = []
    revoked = False
    for blk in blocks:
        digest = digests.get(blk.hash_name)
        if digest is None:
            raise OtaRejected("signature", "signature block %d needs a %s digest that was not computed"
                              % (blk.index, blk.hash_name.upper()))
        if not compare_digest(blk.digest, digest):
            raise OtaRejected("digest", "signature block %d was made for different data (digest mismatch)" % blk.index)
        if not blk.verify(digest):
            raise OtaRejected("signature", "signature block %d (%s) does not verify" % (blk.index, blk.scheme))
        slot = trust.slot(blk.key_digest)
        if slot < 0:
            continue
        if trust.is_revoked(slot):
            revoked = True
            continue
        slots.append(slot)
    if not slots:
        if revoked:
            raise OtaRejected("revoked-key", "the only trusted signing key is revoked")
        raise OtaRejected("untrusted-key", "no signature is by a trusted key")
    return slots
