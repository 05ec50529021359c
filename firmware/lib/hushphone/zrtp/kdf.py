# ZRTP key derivation (RFC 6189 §4.4-4.6) for the hash type "S256": the
# H0-H3 hash chain, message MACs, shared-secret IDs, s0, the KDF, and every
# key derived from s0. Pure functions of their inputs.
import struct

from hushphone.crypto.hmac import Hmac
from hushphone.crypto.sha import sha256

HASH_LEN = 32  # SHA-256: the negotiated and the implicit hash
MAC_LEN = 8  # message MACs and secret IDs are truncated to 64 bits
SALT_LEN = 14  # 112-bit SRTP master salt


def hmac256(key, *parts):
    return Hmac(key, "sha256").digest_parts(parts)


def mac64(key, *parts):
    """HMAC-SHA-256 truncated to the leftmost 64 bits."""
    return hmac256(key, *parts)[:MAC_LEN]


def hash_chain(h0):
    """(H0, H1, H2, H3) with Hn = SHA-256(Hn-1) (RFC 6189 §9)."""
    h1 = sha256(h0)
    h2 = sha256(h1)
    return h0, h1, h2, sha256(h2)


def kdf(ki, label, context, bits):
    """KDF(KI, Label, Context, L) = HMAC(KI, i || Label || 0x00 || Context
    || L), i = 1, L in bits, truncated to L bits (RFC 6189 §4.5.1)."""
    out = hmac256(ki, b"\x00\x00\x00\x01", label, b"\x00", context, struct.pack(">I", bits))
    return out[: bits // 8]


def secret_id(secret, role_or_h3):
    """rs1IDr = MAC(rs1, "Responder") etc. (RFC 6189 §4.3.1); the auxsecret
    IDs use an H3 instead of the role string."""
    return mac64(secret, role_or_h3)


def total_hash(hello_r, commit, dhpart1, dhpart2):
    """Hash of the messages (not packets) of the DH exchange (§4.4.1.4)."""
    return sha256(hello_r + commit + dhpart1 + dhpart2)


def _with_len(secret):
    if not secret:
        return b"\x00\x00\x00\x00"
    return struct.pack(">I", len(secret)) + secret


def s0_dh(dh_result, zidi, zidr, thash, s1=None, s2=None, s3=None):
    """s0 = hash(counter || DHResult || "ZRTP-HMAC-KDF" || ZIDi || ZIDr ||
    total_hash || len(s1) || s1 || len(s2) || s2 || len(s3) || s3)."""
    return sha256(
        b"\x00\x00\x00\x01"
        + dh_result
        + b"ZRTP-HMAC-KDF"
        + zidi
        + zidr
        + thash
        + _with_len(s1)
        + _with_len(s2)
        + _with_len(s3)
    )


class SessionKeys:
    """Everything derived from s0 for one media stream (RFC 6189 §4.5).
    Holds secrets: never printed (repr shows nothing secret)."""

    def __init__(self, s0, kdf_context, aes_key_len):
        bits = aes_key_len * 8
        self.zrtp_sess = kdf(s0, b"ZRTP Session Key", kdf_context, 256)
        self.sashash = kdf(s0, b"SAS", kdf_context, 256)
        self.srtp_key_i = kdf(s0, b"Initiator SRTP master key", kdf_context, bits)
        self.srtp_salt_i = kdf(s0, b"Initiator SRTP master salt", kdf_context, 112)
        self.srtp_key_r = kdf(s0, b"Responder SRTP master key", kdf_context, bits)
        self.srtp_salt_r = kdf(s0, b"Responder SRTP master salt", kdf_context, 112)
        self.mac_key_i = kdf(s0, b"Initiator HMAC key", kdf_context, 256)
        self.mac_key_r = kdf(s0, b"Responder HMAC key", kdf_context, 256)
        self.zrtp_key_i = kdf(s0, b"Initiator ZRTP key", kdf_context, bits)
        self.zrtp_key_r = kdf(s0, b"Responder ZRTP key", kdf_context, bits)
        self.new_rs1 = kdf(s0, b"retained secret", kdf_context, 256)
        self.exported_key = kdf(s0, b"Exported key", kdf_context, 256)

    @property
    def sas_value(self):
        """The leftmost 32 bits of sashash, as 4 bytes."""
        return self.sashash[:4]

    def __repr__(self):
        return "<SessionKeys>"
