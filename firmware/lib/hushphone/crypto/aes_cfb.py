# AES in full-block cipher feedback mode (CFB-128, NIST SP 800-38A §6.3),
# built from the ECB adapter: ZRTP encrypts part of its Confirm messages
# this way (RFC 6189 §4.6, AES1 = AES-128). Messages are tens of bytes, so
# clarity wins over speed here. A final partial block is allowed (the
# keystream is truncated), as CFB-128 on a byte string is usually defined.
from hushphone.crypto.aes import AesEcb

_BLOCK = 16


def _xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def cfb_encrypt(key, iv, plaintext):
    """Encrypt `plaintext` (any length) under a 16- or 32-byte key and a
    16-byte IV."""
    if len(iv) != _BLOCK:
        raise ValueError("CFB IV must be 16 bytes")
    aes = AesEcb(key)
    out = bytearray()
    feedback = bytes(iv)
    for start in range(0, len(plaintext), _BLOCK):
        chunk = plaintext[start : start + _BLOCK]
        block = _xor(chunk, aes.encrypt(feedback))
        out.extend(block)
        feedback = block  # a short last block is never fed back
    return bytes(out)


def cfb_decrypt(key, iv, ciphertext):
    """Decrypt `ciphertext`: the keystream is E(IV), E(C1), E(C2)..., all
    known up front, so it is made in one ECB call."""
    if len(iv) != _BLOCK:
        raise ValueError("CFB IV must be 16 bytes")
    n = len(ciphertext)
    if n == 0:
        return b""
    blocks = (n + _BLOCK - 1) // _BLOCK
    feedback = bytes(iv) + bytes(ciphertext[: (blocks - 1) * _BLOCK])
    stream = AesEcb(key).encrypt(feedback)
    return _xor(ciphertext, stream)
