# The ZID cache (RFC 6189 §4.9, §4.6.1): our own 96-bit ZID, made once at
# random, and per peer ZID the retained secrets rs1/rs2 with their expiry
# times and the "SAS verified" flag the user sets. Persisted through a
# small storage object with get(key) -> bytes | None and set(key, bytes):
# NvsStorage wraps esp32.NVS on the handset (and the simulated, file-backed
# NVS of hal/unix in the simulation); MemoryStorage is for tests.
import struct

from hushphone.zrtp.errors import ZrtpLocalError

NVS_NAMESPACE = "hush_zrtp"
ZID_LEN = 12
SECRET_LEN = 32
NEVER = 0xFFFFFFFF  # cache expiration interval / expiry time: never expires

_KEY_OWN_ZID = "zid"
_ENTRY_VERSION = 1
_F_VERIFIED = 0x01
_F_RS1 = 0x02
_F_RS2 = 0x04
# version, flags, peer ZID, rs1, rs1 expiry, rs2, rs2 expiry
_ENTRY_LEN = 2 + ZID_LEN + 2 * (SECRET_LEN + 4)


def _hex(data):
    import binascii

    return binascii.hexlify(data).decode()


def _entry_key(zid):
    # NVS keys are at most 15 characters: 14 hex digits of the ZID; the
    # full ZID is stored inside the entry and checked on load.
    return "p" + _hex(zid)[:14]


class MemoryStorage:
    def __init__(self):
        self.data = {}

    def get(self, key):
        return self.data.get(key)

    def set(self, key, value):
        self.data[key] = bytes(value)


class NvsStorage:
    """get/set over an esp32.NVS-like namespace, committing each write."""

    def __init__(self, nvs, max_len=128):
        self._nvs = nvs
        self._buf = bytearray(max_len)

    def get(self, key):
        from hushphone.storage_layout import is_missing

        try:
            n = self._nvs.get_blob(key, self._buf)
        except OSError as e:
            if is_missing(e):
                return None
            raise
        return bytes(self._buf[:n])

    def set(self, key, value):
        self._nvs.set_blob(key, bytes(value))
        self._nvs.commit()


class PeerEntry:
    """What we retain about one peer. Secrets are bytes or None."""

    def __init__(self, zid):
        self.zid = zid
        self.rs1 = None
        self.rs1_expiry = NEVER
        self.rs2 = None
        self.rs2_expiry = NEVER
        self.verified = False

    def __repr__(self):
        return "<PeerEntry %s verified=%s>" % (_hex(self.zid), self.verified)  # never the secrets

    def live_secrets(self, now_s):
        """(rs1, rs2), each None if absent or expired."""
        rs1 = self.rs1 if self.rs1 is not None and _alive(self.rs1_expiry, now_s) else None
        rs2 = self.rs2 if self.rs2 is not None and _alive(self.rs2_expiry, now_s) else None
        return rs1, rs2

    def encode(self):
        flags = (_F_VERIFIED if self.verified else 0) | (_F_RS1 if self.rs1 else 0) | (_F_RS2 if self.rs2 else 0)
        return (
            bytes((_ENTRY_VERSION, flags))
            + self.zid
            + (self.rs1 or bytes(SECRET_LEN))
            + struct.pack(">I", self.rs1_expiry)
            + (self.rs2 or bytes(SECRET_LEN))
            + struct.pack(">I", self.rs2_expiry)
        )


def _alive(expiry, now_s):
    return expiry == NEVER or now_s < expiry


def _decode(zid, blob):
    """A PeerEntry, or None if the blob is not an entry for this ZID (a
    damaged or colliding entry counts as no entry)."""
    if blob is None or len(blob) != _ENTRY_LEN or blob[0] != _ENTRY_VERSION or blob[2:14] != zid:
        return None
    flags = blob[1]
    e = PeerEntry(zid)
    e.verified = bool(flags & _F_VERIFIED)
    at = 14
    if flags & _F_RS1:
        e.rs1 = bytes(blob[at : at + SECRET_LEN])
    e.rs1_expiry = struct.unpack(">I", blob[at + SECRET_LEN : at + SECRET_LEN + 4])[0]
    at += SECRET_LEN + 4
    if flags & _F_RS2:
        e.rs2 = bytes(blob[at : at + SECRET_LEN])
    e.rs2_expiry = struct.unpack(">I", blob[at + SECRET_LEN : at + SECRET_LEN + 4])[0]
    return e


class ZidCache:
    def __init__(self, storage, random_bytes):
        self._storage = storage
        zid = storage.get(_KEY_OWN_ZID)
        if zid is None or len(zid) != ZID_LEN:
            zid = random_bytes(ZID_LEN)
            storage.set(_KEY_OWN_ZID, zid)
        self.zid = bytes(zid)

    def lookup(self, peer_zid):
        """The peer's entry, or None for a peer never met."""
        return _decode(peer_zid, self._storage.get(_entry_key(peer_zid)))

    def store(self, entry):
        if len(entry.zid) != ZID_LEN:
            raise ZrtpLocalError("a ZID is 12 bytes")
        self._storage.set(_entry_key(entry.zid), entry.encode())

    def rotate(self, peer_zid, new_rs1, interval_s, now_s, verified):
        """After a successful DH exchange (RFC 6189 §4.6.1): rs2 <- rs1,
        rs1 <- new_rs1 expiring `interval_s` seconds from now (NEVER for
        0xFFFFFFFF). An interval of 0 keeps the new secret out of the
        cache and marks an existing rs1 as expired."""
        entry = self.lookup(peer_zid)
        if interval_s == 0:
            if entry is not None:
                entry.rs1_expiry = 0
                self.store(entry)
            return entry
        if entry is None:
            entry = PeerEntry(peer_zid)
        entry.rs2, entry.rs2_expiry = entry.rs1, entry.rs1_expiry
        entry.rs1 = new_rs1
        entry.rs1_expiry = NEVER if interval_s == NEVER else (now_s + interval_s) & 0xFFFFFFFF
        entry.verified = verified
        self.store(entry)
        return entry

    def set_verified(self, peer_zid, verified):
        entry = self.lookup(peer_zid)
        if entry is None:
            return False
        entry.verified = bool(verified)
        self.store(entry)
        return True
