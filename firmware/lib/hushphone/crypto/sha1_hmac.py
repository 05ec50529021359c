# HMAC-SHA1 (RFC 2104) into a caller's buffer, allocating nothing per
# message: the SRTP per-packet tag. MicroPython's hashlib has no copy(), so
# HMAC through it makes two hash objects and two digests per packet
# (~0.5 KB of garbage); here SHA-1 (FIPS 180-4) runs in viper over a state
# buffer made once per key, starting from the midstates of the padded key
# (key XOR ipad, key XOR opad), so a packet costs its own blocks plus one.
#
# State buffer: 32-bit words, native byte order (little-endian on x86, ARM
# and Xtensa: ptr32 is read and written the same way by both twins):
#   0-4 H (working), 5-9 inner midstate, 10-14 outer midstate,
#   15-18 K constants, 19 mask 0xFFFFFFFF, 20-99 W (message schedule),
#   bytes 400-527: the message's last one or two blocks (padding),
#   bytes 528-591: the outer block (inner digest + fixed padding).
# Constants above 2**30 come from the buffer, not from literals, so they
# are never boxed integers on a 32-bit target; every sum is masked to 32
# bits, so the code is right whatever the machine word (64-bit unix, 32-bit
# Xtensa).
#
# On CPython the same class uses hashlib's copy() of the two keyed states.
from hushphone.compat import IS_MICROPYTHON

DIGEST_LEN = 20
_STATE_BYTES = 592
_PAD = 400  # byte offset of the last block(s)
_OUTER = 528  # byte offset of the outer block
_IV = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0)
_K = (0x5A827999, 0x6ED9EBA1, 0x8F1BBCDC, 0xCA62C1D6)


def _put32(buf, word, value):
    # native little-endian, as ptr32 stores it
    o = word << 2
    buf[o] = value & 0xFF
    buf[o + 1] = (value >> 8) & 0xFF
    buf[o + 2] = (value >> 16) & 0xFF
    buf[o + 3] = (value >> 24) & 0xFF


def _get32(buf, word):
    o = word << 2
    return buf[o] | (buf[o + 1] << 8) | (buf[o + 2] << 16) | (buf[o + 3] << 24)


def _compress_py(st, block, at):
    """One SHA-1 block (block[at:at+64]) into H (words 0-4 of st)."""
    w = [0] * 80
    for t in range(16):
        q = at + 4 * t
        w[t] = (block[q] << 24) | (block[q + 1] << 16) | (block[q + 2] << 8) | block[q + 3]
    for t in range(16, 80):
        x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]
        w[t] = ((x << 1) | (x >> 31)) & 0xFFFFFFFF
    a, b, c, d, e = (_get32(st, i) for i in range(5))
    for t in range(80):
        if t < 20:
            f = (b & c) | ((b ^ 0xFFFFFFFF) & d)
        elif t < 40 or t >= 60:
            f = b ^ c ^ d
        else:
            f = (b & c) | (b & d) | (c & d)
        tmp = (((a << 5) | (a >> 27)) + f + e + _K[t // 20] + w[t]) & 0xFFFFFFFF
        e, d, c, b, a = d, c, ((b << 30) | (b >> 2)) & 0xFFFFFFFF, a, tmp
    for i, v in enumerate((a, b, c, d, e)):
        _put32(st, i, (_get32(st, i) + v) & 0xFFFFFFFF)


def _pad_into(st, data, n):
    """The last block(s) of the inner message (64 bytes of key block, then
    data[:n]) at _PAD; returns how many (1 or 2)."""
    full = n & ~63
    rem = n - full
    for i in range(rem):
        st[_PAD + i] = data[full + i]
    st[_PAD + rem] = 0x80
    blocks = 1 if rem < 56 else 2
    end = _PAD + 64 * blocks
    for i in range(_PAD + rem + 1, end - 8):
        st[i] = 0
    bits = (n + 64) << 3
    for i in range(8):
        st[end - 1 - i] = (bits >> (8 * i)) & 0xFF
    return blocks


def hmac_sha1_py(st, data, n, out):
    """The plain-Python twin of hmac_sha1_viper: out[:20] = HMAC of
    data[:n] under the key whose midstates are in st."""
    for i in range(5):
        _put32(st, i, _get32(st, 5 + i))
    full = n >> 6
    for j in range(full):
        _compress_py(st, data, j << 6)
    for j in range(_pad_into(st, data, n)):
        _compress_py(st, st, _PAD + (j << 6))
    for i in range(5):  # inner digest, big-endian, into the outer block
        v = _get32(st, i)
        for k in range(4):
            st[_OUTER + 4 * i + k] = (v >> (24 - 8 * k)) & 0xFF
        _put32(st, i, _get32(st, 10 + i))
    _compress_py(st, st, _OUTER)
    for i in range(5):
        v = _get32(st, i)
        for k in range(4):
            out[4 * i + k] = (v >> (24 - 8 * k)) & 0xFF


if IS_MICROPYTHON:
    import micropython

    @micropython.viper
    def hmac_sha1_viper(st, data, n: int, out):
        s = ptr32(st)  # noqa: F821  (viper built-ins)
        sb = ptr8(st)  # noqa: F821
        d = ptr8(data)  # noqa: F821
        o = ptr8(out)  # noqa: F821
        m = uint(s[19])  # noqa: F821  0xFFFFFFFF, whatever the word size
        i = 0
        while i < 5:
            s[i] = s[5 + i]
            i += 1
        # the inner message's tail: the bytes after its last full block,
        # 0x80, zeros, and its length in bits (64-byte key block + n)
        full = n >> 6
        rem = n & 63
        i = 0
        while i < rem:
            sb[400 + i] = d[(full << 6) + i]
            i += 1
        sb[400 + rem] = 0x80
        pads = 1
        if rem >= 56:
            pads = 2
        end = 400 + (pads << 6)
        i = 401 + rem
        while i < end - 4:  # (the length's upper 32 bits are zero)
            sb[i] = 0
            i += 1
        bits = (n + 64) << 3
        i = 0
        while i < 4:  # shifts below 32: never past a 32-bit word
            sb[end - 1 - i] = (bits >> (i << 3)) & 0xFF
            i += 1
        blocks = full + pads + 1  # + the outer block
        j = 0
        while j < blocks:
            if j < full:
                p = d
                base = j << 6
            elif j < full + pads:
                p = sb
                base = 400 + ((j - full) << 6)
            else:
                # outer: the inner digest (big-endian), then from the outer midstate
                i = 0
                while i < 5:
                    v = uint(s[i])
                    sb[528 + (i << 2)] = (v >> 24) & 0xFF
                    sb[529 + (i << 2)] = (v >> 16) & 0xFF
                    sb[530 + (i << 2)] = (v >> 8) & 0xFF
                    sb[531 + (i << 2)] = v & 0xFF
                    s[i] = s[10 + i]
                    i += 1
                p = sb
                base = 528
            t = 0
            while t < 16:
                q = base + (t << 2)
                s[20 + t] = (uint(p[q]) << 24) | (uint(p[q + 1]) << 16) | (uint(p[q + 2]) << 8) | uint(p[q + 3])
                t += 1
            while t < 80:
                x = uint(s[17 + t]) ^ uint(s[12 + t]) ^ uint(s[6 + t]) ^ uint(s[4 + t])
                s[20 + t] = (x << 1) | (x >> 31)
                t += 1
            a = uint(s[0])
            b = uint(s[1])
            c = uint(s[2])
            e4 = uint(s[3])
            e = uint(s[4])
            # four loops of 20 rounds: no branch per round
            k = uint(s[15])
            t = 0
            while t < 20:
                x = (((a << 5) | (a >> 27)) + ((b & c) | ((b ^ m) & e4)) + e + k + uint(s[20 + t])) & m
                e = e4
                e4 = c
                c = ((b << 30) | (b >> 2)) & m
                b = a
                a = x
                t += 1
            k = uint(s[16])
            while t < 40:
                x = (((a << 5) | (a >> 27)) + (b ^ c ^ e4) + e + k + uint(s[20 + t])) & m
                e = e4
                e4 = c
                c = ((b << 30) | (b >> 2)) & m
                b = a
                a = x
                t += 1
            k = uint(s[17])
            while t < 60:
                x = (((a << 5) | (a >> 27)) + ((b & c) | (e4 & (b | c))) + e + k + uint(s[20 + t])) & m
                e = e4
                e4 = c
                c = ((b << 30) | (b >> 2)) & m
                b = a
                a = x
                t += 1
            k = uint(s[18])
            while t < 80:
                x = (((a << 5) | (a >> 27)) + (b ^ c ^ e4) + e + k + uint(s[20 + t])) & m
                e = e4
                e4 = c
                c = ((b << 30) | (b >> 2)) & m
                b = a
                a = x
                t += 1
            s[0] = uint(s[0]) + a
            s[1] = uint(s[1]) + b
            s[2] = uint(s[2]) + c
            s[3] = uint(s[3]) + e4
            s[4] = uint(s[4]) + e
            j += 1
        i = 0
        while i < 5:
            v = uint(s[i])
            o[i << 2] = (v >> 24) & 0xFF
            o[(i << 2) + 1] = (v >> 16) & 0xFF
            o[(i << 2) + 2] = (v >> 8) & 0xFF
            o[(i << 2) + 3] = v & 0xFF
            i += 1

    _hmac_fast = hmac_sha1_viper
else:
    import hashlib

    _hmac_fast = None


def _padded_key(key):
    key = bytes(key)
    if len(key) > 64:
        import hashlib

        key = hashlib.sha1(key).digest()
    return key + bytes(64 - len(key))


def new_state(key):
    """The state buffer for `key`: constants and the ipad/opad midstates."""
    st = bytearray(_STATE_BYTES)
    key = _padded_key(key)
    for i, k in enumerate(_K):
        _put32(st, 15 + i, k)
    _put32(st, 19, 0xFFFFFFFF)
    for mid, xor in ((5, 0x36), (10, 0x5C)):
        for i in range(5):
            _put32(st, i, _IV[i])
        _compress_py(st, bytes(b ^ xor for b in key), 0)
        for i in range(5):
            _put32(st, mid + i, _get32(st, i))
    # the outer block's fixed part: 0x80 after the 20-byte inner digest,
    # zeros, and the outer message length (64 + 20 bytes) in bits
    st[_OUTER + 20] = 0x80
    bits = (64 + DIGEST_LEN) * 8
    st[_OUTER + 62] = bits >> 8
    st[_OUTER + 63] = bits & 0xFF
    return st


class HmacSha1:
    """A keyed HMAC-SHA1 whose digest_into(data, n) writes the MAC of
    data[:n] into `mac` (a 20-byte buffer of this object, rewritten by the
    next call) and allocates nothing on MicroPython."""

    def __init__(self, key):
        self.mac = bytearray(DIGEST_LEN)
        if _hmac_fast is not None:
            self._state = new_state(key)
        else:
            key = _padded_key(key)
            self._inner = hashlib.sha1(bytes(b ^ 0x36 for b in key))
            self._outer = hashlib.sha1(bytes(b ^ 0x5C for b in key))

    if IS_MICROPYTHON:

        def digest_into(self, data, n):
            _hmac_fast(self._state, data, n, self.mac)
            return self.mac

    else:

        def digest_into(self, data, n):
            inner = self._inner.copy()
            inner.update(memoryview(data)[:n])
            outer = self._outer.copy()
            outer.update(inner.digest())
            self.mac[:] = outer.digest()
            return self.mac


class HashlibHmacSha1:
    """The same interface through hashlib (mbedTLS; the SHA peripheral on
    an ESP32): two hash objects and two digests per message, and a
    memoryview. bench/ compares it with HmacSha1."""

    def __init__(self, key):
        from hushphone.crypto.hmac import Hmac

        self._digest = Hmac(key, "sha1").digest

    def digest_into(self, data, n):
        return self._digest(memoryview(data)[:n])
