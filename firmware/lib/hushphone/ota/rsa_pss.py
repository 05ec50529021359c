# RSASSA-PSS signature verification (RFC 8017 section 8.1.2 / 9.1.2) with
# SHA-256, MGF1-SHA256 and a 32-byte salt: the scheme of Secure Boot V2 RSA
# signature blocks. The public operation is one 3-argument pow() with
# e = 65537 (a few ms on the MicroPython unix port); nothing here is secret.
from hushphone.crypto.sha import sha256

_HLEN = 32
_SALT_LEN = 32


def _bit_length(n):
    # MicroPython's int has no bit_length(); count bytes, then bits.
    length = 0
    while n >= 1 << 64:
        n >>= 64
        length += 64
    while n:
        n >>= 1
        length += 1
    return length


def mgf1_sha256(seed, length):
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += sha256(seed + counter.to_bytes(4, "big"))
        counter += 1
    return out[:length]


def emsa_pss_verify(m_hash, em, em_bits):
    """True if `em` is a valid PSS encoding of the message hash `m_hash`."""
    em_len = (em_bits + 7) // 8
    if len(em) != em_len or em_len < _HLEN + _SALT_LEN + 2 or em[-1] != 0xBC:
        return False
    db_len = em_len - _HLEN - 1
    masked_db = em[:db_len]
    h = em[db_len : db_len + _HLEN]
    top_mask = 0xFF >> (8 * em_len - em_bits)
    if masked_db[0] & ~top_mask & 0xFF:
        return False
    db = mgf1_sha256(h, db_len)
    for i in range(db_len):
        db[i] ^= masked_db[i]
    db[0] &= top_mask
    ps_len = em_len - _HLEN - _SALT_LEN - 2
    for i in range(ps_len):
        if db[i]:
            return False
    if db[ps_len] != 0x01:
        return False
    salt = bytes(db[db_len - _SALT_LEN :])
    return sha256(bytes(8) + bytes(m_hash) + salt) == bytes(h)


def verify(n, e, signature_int, m_hash):
    """Verify an RSA-PSS signature (given as an integer) over the SHA-256
    hash `m_hash` with the public key (n, e). Returns True or False."""
    if len(m_hash) != _HLEN or not 0 < signature_int < n:
        return False
    mod_bits = _bit_length(n)
    em_len = (mod_bits - 1 + 7) // 8
    m = pow(signature_int, e, n)
    if m >= 1 << (8 * em_len):
        return False
    return emsa_pss_verify(m_hash, m.to_bytes(em_len, "big"), mod_bits - 1)
