# The handset's OTA trust store in NVS namespace "hush_trust" (written at
# provisioning): ota_dig0..2 = trusted Secure Boot V2 key digests (32-byte
# blobs), ota_revoke = i32 bitmask (bit n revokes digest n, like the
# KEY_REVOKE eFuses), sec_ver = i32 anti-rollback floor (the stand-in for the
# SECURE_VERSION eFuse). Works with esp32.NVS and hal.unix.nvs.Nvs alike: a
# missing key is OSError(-0x1102) on the device and ENOENT in the simulation,
# and storage_layout.is_missing() knows both.
from hushphone.ota.sbv2 import TrustAnchors
from hushphone.storage_layout import is_missing

NAMESPACE = "hush_trust"
_DIGEST_KEYS = ("ota_dig0", "ota_dig1", "ota_dig2")


def _get_i32(nvs, key, default):
    try:
        return nvs.get_i32(key)
    except OSError as e:
        if is_missing(e):
            return default
        raise


class TrustStore:
    def __init__(self, digests, revoked_mask, secure_version_floor):
        self.digests = digests  # list of 3 entries: bytes or None (empty slot)
        self.revoked_mask = revoked_mask
        self.secure_version_floor = secure_version_floor

    @classmethod
    def load(cls, nvs):
        digests = []
        buf = bytearray(32)
        for key in _DIGEST_KEYS:
            try:
                n = nvs.get_blob(key, buf)
            except OSError as e:
                if not is_missing(e):
                    raise
                digests.append(None)
                continue
            digests.append(bytes(buf[:n]) if n == 32 else None)
        return cls(digests, _get_i32(nvs, "ota_revoke", 0), _get_i32(nvs, "sec_ver", 0))

    def trusted_digests(self):
        """The digests in slot order; an empty slot keeps its position (so
        revocation bit n still names slot n) as an all-zero digest that no
        key hashes to."""
        return [d if d is not None else bytes(32) for d in self.digests]

    def anchors(self):
        return TrustAnchors(self.trusted_digests(), self.revoked_mask)

    @staticmethod
    def raise_floor(nvs, version):
        """Anti-rollback: the floor only ever goes up, like eFuse bits."""
        if version > _get_i32(nvs, "sec_ver", 0):
            nvs.set_i32("sec_ver", version)
            nvs.commit()

    @staticmethod
    def provision(nvs, digests, revoked_mask=0, secure_version_floor=0):
        """Write a trust store (factory provisioning and tests)."""
        for key, digest in zip(_DIGEST_KEYS, list(digests) + [None] * 3):
            if digest is not None:
                nvs.set_blob(key, bytes(digest))
        nvs.set_i32("ota_revoke", revoked_mask)
        nvs.set_i32("sec_ver", secure_version_floor)
        nvs.commit()
