# AES in ECB mode, the one primitive the media path needs: counter mode
# (SRTP) and CFB (ZRTP Confirm) are built on top of it by encrypting whole
# runs of blocks in a single call.
from hushphone.compat import IS_MICROPYTHON

if IS_MICROPYTHON:
    import cryptolib

    _MODE_ECB = 1
else:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class AesEcb:
    """AES-ECB encryption with a fixed 128- or 256-bit key.

    `encrypt_into(src, dst)` encrypts len(src) bytes (a multiple of 16) into
    the preallocated buffer `dst` (same length or longer)."""

    def __init__(self, key):
        if len(key) not in (16, 32):
            raise ValueError("AES key must be 16 or 32 bytes")
        if IS_MICROPYTHON:
            # cryptolib already encrypts into a caller's buffer: bind it
            # directly, so the per-packet call costs no wrapper.
            self.encrypt_into = cryptolib.aes(bytes(key), _MODE_ECB).encrypt
        else:
            self._aes = Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor()

    def encrypt_into(self, src, dst):
        n = len(src)
        dst[:n] = self._aes.update(src)

    def encrypt(self, src):
        out = bytearray(len(src))
        self.encrypt_into(src, out)
        return bytes(out)


class AesEcbDecrypt:
    """AES-ECB decryption (a separate object: cryptolib binds a key schedule
    to one direction)."""

    def __init__(self, key):
        if len(key) not in (16, 32):
            raise ValueError("AES key must be 16 or 32 bytes")
        if IS_MICROPYTHON:
            self._aes = cryptolib.aes(bytes(key), _MODE_ECB)
        else:
            self._aes = Cipher(algorithms.AES(bytes(key)), modes.ECB()).decryptor()

    def decrypt(self, src):
        if IS_MICROPYTHON:
            out = bytearray(len(src))
            self._aes.decrypt(src, out)
            return bytes(out)
        return self._aes.update(bytes(src))
