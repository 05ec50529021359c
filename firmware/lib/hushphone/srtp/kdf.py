# SRTP key derivation (RFC 3711 §4.3, key derivation rate 0) with the
# AES-CM PRF; AES-256 master keys use the same construction with AES-256
# (RFC 6188 §3). Runs once per context, so plain code is fine here.
from hushphone.compat import const
from hushphone.crypto.aes import AesEcb

LABEL_RTP_ENCRYPTION = const(0x00)
LABEL_RTP_AUTH = const(0x01)
LABEL_RTP_SALT = const(0x02)
LABEL_RTCP_ENCRYPTION = const(0x03)
LABEL_RTCP_AUTH = const(0x04)
LABEL_RTCP_SALT = const(0x05)


def keystream(aes, iv, first_block, nblocks):
    """AES-CM keystream: the encryptions of the 128-bit counters iv +
    first_block ... iv + first_block + nblocks - 1 (mod 2**128)."""
    base = 0
    for b in iv:
        base = (base << 8) | b
    blocks = bytearray(16 * nblocks)
    for i in range(nblocks):
        c = (base + first_block + i) & ((1 << 128) - 1)
        for j in range(16):
            blocks[16 * i + 15 - j] = (c >> (8 * j)) & 0xFF
    return aes.encrypt(blocks)


def derive(master_key, master_salt, label, length):
    """`length` bytes of session key material for `label` (r = 0, so the key
    id is just the label, XORed into byte 7 of the 112-bit salt)."""
    iv = bytearray(16)
    iv[0:14] = master_salt
    iv[7] ^= label
    return keystream(AesEcb(master_key), iv, 0, (length + 15) // 16)[:length]
