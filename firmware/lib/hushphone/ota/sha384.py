# SHA-384 (FIPS 180-4) for ECDSA P-384 signature blocks, which hash the image
# with SHA-384. hashlib provides it on CPython; MicroPython's hashlib has only
# SHA-1/SHA-256, so a plain-Python SHA-512 core stands in there (slow: only
# images signed with P-384 keys pay for it).
import hashlib

_MASK = 0xFFFFFFFFFFFFFFFF

_K = (
    0x428A2F98D728AE22, 0x7137449123EF65CD, 0xB5C0FBCFEC4D3B2F, 0xE9B5DBA58189DBBC,
    0x3956C25BF348B538, 0x59F111F1B605D019, 0x923F82A4AF194F9B, 0xAB1C5ED5DA6D8118,
    0xD807AA98A3030242, 0x12835B0145706FBE, 0x243185BE4EE4B28C, 0x550C7DC3D5FFB4E2,
    0x72BE5D74F27B896F, 0x80DEB1FE3B1696B1, 0x9BDC06A725C71235, 0xC19BF174CF692694,
    0xE49B69C19EF14AD2, 0xEFBE4786384F25E3, 0x0FC19DC68B8CD5B5, 0x240CA1CC77AC9C65,
    0x2DE92C6F592B0275, 0x4A7484AA6EA6E483, 0x5CB0A9DCBD41FBD4, 0x76F988DA831153B5,
    0x983E5152EE66DFAB, 0xA831C66D2DB43210, 0xB00327C898FB213F, 0xBF597FC7BEEF0EE4,
    0xC6E00BF33DA88FC2, 0xD5A79147930AA725, 0x06CA6351E003826F, 0x142929670A0E6E70,
    0x27B70A8546D22FFC, 0x2E1B21385C26C926, 0x4D2C6DFC5AC42AED, 0x53380D139D95B3DF,
    0x650A73548BAF63DE, 0x766A0ABB3C77B2A8, 0x81C2C92E47EDAEE6, 0x92722C851482353B,
    0xA2BFE8A14CF10364, 0xA81A664BBC423001, 0xC24B8B70D0F89791, 0xC76C51A30654BE30,
    0xD192E819D6EF5218, 0xD69906245565A910, 0xF40E35855771202A, 0x106AA07032BBD1B8,
    0x19A4C116B8D2D0C8, 0x1E376C085141AB53, 0x2748774CDF8EEB99, 0x34B0BCB5E19B48A8,
    0x391C0CB3C5C95A63, 0x4ED8AA4AE3418ACB, 0x5B9CCA4F7763E373, 0x682E6FF3D6B2B8A3,
    0x748F82EE5DEFB2FC, 0x78A5636F43172F60, 0x84C87814A1F0AB72, 0x8CC702081A6439EC,
    0x90BEFFFA23631E28, 0xA4506CEBDE82BDE9, 0xBEF9A3F7B2C67915, 0xC67178F2E372532B,
    0xCA273ECEEA26619C, 0xD186B8C721C0C207, 0xEADA7DD6CDE0EB1E, 0xF57D4F7FEE6ED178,
    0x06F067AA72176FBA, 0x0A637DC5A2C898A6, 0x113F9804BEF90DAE, 0x1B710B35131C471B,
    0x28DB77F523047D84, 0x32CAAB7B40C72493, 0x3C9EBE0A15C9BEBC, 0x431D67C49C100D4C,
    0x4CC5D4BECB3E42B6, 0x597F299CFC657E2A, 0x5FCB6FAB3AD6FAEC, 0x6C44198C4A475817,
)

_H384 = (
    0xCBBB9D5DC1059ED8, 0x629A292A367CD507, 0x9159015A3070DD17, 0x152FECD8F70E5939,
    0x67332667FFC00B31, 0x8EB44A8768581511, 0xDB0C2E0D64F98FA7, 0x47B5481DBEFA4FA4,
)


def _rotr(x, n):
    return ((x >> n) | (x << (64 - n))) & _MASK


class _Sha384:
    """Plain-Python SHA-384 with hashlib's update()/digest() interface."""

    def __init__(self, data=b""):
        self._h = list(_H384)
        self._buf = bytearray()
        self._length = 0
        if data:
            self.update(data)

    def update(self, data):
        self._length += len(data)
        buf = self._buf
        buf.extend(data)
        full = len(buf) - len(buf) % 128
        for off in range(0, full, 128):
            self._block(buf, off)
        self._buf = buf[full:]

    def _block(self, buf, off):
        w = [int.from_bytes(buf[off + 8 * i : off + 8 * i + 8], "big") for i in range(16)]
        for t in range(16, 80):
            w15 = w[t - 15]
            w2 = w[t - 2]
            s0 = _rotr(w15, 1) ^ _rotr(w15, 8) ^ (w15 >> 7)
            s1 = _rotr(w2, 19) ^ _rotr(w2, 61) ^ (w2 >> 6)
            w.append((w[t - 16] + s0 + w[t - 7] + s1) & _MASK)
        a, b, c, d, e, f, g, h = self._h
        for t in range(80):
            s1 = _rotr(e, 14) ^ _rotr(e, 18) ^ _rotr(e, 41)
            ch = (e & f) ^ (~e & g)
            t1 = (h + s1 + ch + _K[t] + w[t]) & _MASK
            s0 = _rotr(a, 28) ^ _rotr(a, 34) ^ _rotr(a, 39)
            maj = (a & b) ^ (a & c) ^ (b & c)
            t2 = s0 + maj
            h = g
            g = f
            f = e
            e = (d + t1) & _MASK
            d = c
            c = b
            b = a
            a = (t1 + t2) & _MASK
        hs = self._h
        for i, v in enumerate((a, b, c, d, e, f, g, h)):
            hs[i] = (hs[i] + v) & _MASK

    def digest(self):
        bit_len = self._length * 8
        tail = bytearray(self._buf)
        tail.append(0x80)
        while len(tail) % 128 != 112:
            tail.append(0)
        tail += bit_len.to_bytes(16, "big")
        h = list(self._h)
        saved = self._h
        self._h = h
        for off in range(0, len(tail), 128):
            self._block(tail, off)
        self._h = saved
        out = bytearray()
        for v in h[:6]:
            out += v.to_bytes(8, "big")
        return bytes(out)


def new_sha384(data=b""):
    if hasattr(hashlib, "sha384"):
        return hashlib.sha384(data)
    return _Sha384(data)


def sha384(data=b""):
    return new_sha384(data).digest()
