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
# The plain-Python twin (for the tests, on both runtimes) is in
# crypto/sha1_hmac_twin.py, outside the firmware's import path.
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


if IS_MICROPYTHON:
    import micropython

    @micropython.viper
    def hmac_sha1_viper(s: ptr32, msg: ptr8, n: int, o: ptr8):  # noqa: F821  (viper built-ins)
        sb = ptr8(s)  # noqa: F821
        m = uint(s[19])  # noqa: F821  0xFFFFFFFF, whatever the word size
        w = uint(s) + 80  # W, the message schedule
        if n < 0:  # (new_state) one raw block data[0:64] into H, no padding
            full = 1
            pads = 0
            blocks = 1
        else:
            # The inner message's tail at byte 400 of st: data[:n] after
            # its last full block, 0x80, zeros, and the message's length in
            # bits (the 64-byte key block + n) in one or two blocks.
            full = n >> 6
            rem = n & 63
            pads = 1
            if rem >= 56:
                pads = 2
            z = ptr32(uint(s) + 400)
            i = 0
            while i < (pads << 4):
                z[i] = 0
                i += 1
            src = uint(msg) + uint(full << 6)
            i = 0
            if int(src & 3) == 0:  # by words where the data is word aligned
                words = ptr32(src)
                while i < (rem >> 2):
                    z[i] = words[i]
                    i += 1
                i = i << 2
            while i < rem:
                sb[400 + i] = msg[(full << 6) + i]
                i += 1
            sb[400 + rem] = 0x80
            end = 400 + (pads << 6)
            bits = (n + 64) << 3  # below 2**32: shifts never pass a 32-bit word
            sb[end - 1] = bits & 0xFF
            sb[end - 2] = (bits >> 8) & 0xFF
            sb[end - 3] = (bits >> 16) & 0xFF
            sb[end - 4] = (bits >> 24) & 0xFF
            blocks = full + pads + 1  # + the outer block
            i = 0
            while i < 5:
                s[i] = s[5 + i]
                i += 1
        j = 0
        while j < blocks:
            if j < full:
                p = msg
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
            # W[0:16]: the block, big-endian; then W[16:80]. Pointers moved
            # along with t, so every index below is a constant offset.
            t = 0
            while t < 16:
                q = ptr32(w + (t << 2))
                r = ptr8(uint(p) + uint(base + (t << 2)))
                q[0] = (uint(r[0]) << 24) | (uint(r[1]) << 16) | (uint(r[2]) << 8) | uint(r[3])
                q[1] = (uint(r[4]) << 24) | (uint(r[5]) << 16) | (uint(r[6]) << 8) | uint(r[7])
                q[2] = (uint(r[8]) << 24) | (uint(r[9]) << 16) | (uint(r[10]) << 8) | uint(r[11])
                q[3] = (uint(r[12]) << 24) | (uint(r[13]) << 16) | (uint(r[14]) << 8) | uint(r[15])
                t += 4
            while t < 80:
                q = ptr32(w + ((t - 16) << 2))
                x = uint(q[13]) ^ uint(q[8]) ^ uint(q[2]) ^ uint(q[0])
                q[16] = (x << 1) | (x >> 31)
                x = uint(q[14]) ^ uint(q[9]) ^ uint(q[3]) ^ uint(q[1])
                q[17] = (x << 1) | (x >> 31)
                x = uint(q[15]) ^ uint(q[10]) ^ uint(q[4]) ^ uint(q[2])
                q[18] = (x << 1) | (x >> 31)
                x = uint(q[16]) ^ uint(q[11]) ^ uint(q[5]) ^ uint(q[3])
                q[19] = (x << 1) | (x >> 31)
                t += 4
            a = uint(s[0])
            b = uint(s[1])
            c = uint(s[2])
            d = uint(s[3])
            e = uint(s[4])
            # Four loops of 20 rounds, five per pass with the variables
            # renamed instead of moved. Only a value that is shifted right
            # must be a clean 32-bit word: the new `a` is masked, and the
            # rotated `b` (a former `a`) may keep bits above 31 on a 64-bit
            # machine, which the masked sums and the 32-bit stores drop.
            t = 0
            k = uint(s[15])
            while t < 20:
                q = ptr32(w + (t << 2))
                e = ((((c ^ d) & b) ^ d) + e + k + uint(q[0]) + ((a << 5) | (a >> 27))) & m
                b = (b << 30) | (b >> 2)
                d = ((((b ^ c) & a) ^ c) + d + k + uint(q[1]) + ((e << 5) | (e >> 27))) & m
                a = (a << 30) | (a >> 2)
                c = ((((a ^ b) & e) ^ b) + c + k + uint(q[2]) + ((d << 5) | (d >> 27))) & m
                e = (e << 30) | (e >> 2)
                b = ((((e ^ a) & d) ^ a) + b + k + uint(q[3]) + ((c << 5) | (c >> 27))) & m
                d = (d << 30) | (d >> 2)
                a = ((((d ^ e) & c) ^ e) + a + k + uint(q[4]) + ((b << 5) | (b >> 27))) & m
                c = (c << 30) | (c >> 2)
                t += 5
            k = uint(s[16])
            while t < 40:
                q = ptr32(w + (t << 2))
                e = ((b ^ c ^ d) + e + k + uint(q[0]) + ((a << 5) | (a >> 27))) & m
                b = (b << 30) | (b >> 2)
                d = ((a ^ b ^ c) + d + k + uint(q[1]) + ((e << 5) | (e >> 27))) & m
                a = (a << 30) | (a >> 2)
                c = ((e ^ a ^ b) + c + k + uint(q[2]) + ((d << 5) | (d >> 27))) & m
                e = (e << 30) | (e >> 2)
                b = ((d ^ e ^ a) + b + k + uint(q[3]) + ((c << 5) | (c >> 27))) & m
                d = (d << 30) | (d >> 2)
                a = ((c ^ d ^ e) + a + k + uint(q[4]) + ((b << 5) | (b >> 27))) & m
                c = (c << 30) | (c >> 2)
                t += 5
            k = uint(s[17])
            while t < 60:
                q = ptr32(w + (t << 2))
                e = ((((b | c) & d) | (b & c)) + e + k + uint(q[0]) + ((a << 5) | (a >> 27))) & m
                b = (b << 30) | (b >> 2)
                d = ((((a | b) & c) | (a & b)) + d + k + uint(q[1]) + ((e << 5) | (e >> 27))) & m
                a = (a << 30) | (a >> 2)
                c = ((((e | a) & b) | (e & a)) + c + k + uint(q[2]) + ((d << 5) | (d >> 27))) & m
                e = (e << 30) | (e >> 2)
                b = ((((d | e) & a) | (d & e)) + b + k + uint(q[3]) + ((c << 5) | (c >> 27))) & m
                d = (d << 30) | (d >> 2)
                a = ((((c | d) & e) | (c & d)) + a + k + uint(q[4]) + ((b << 5) | (b >> 27))) & m
                c = (c << 30) | (c >> 2)
                t += 5
            k = uint(s[18])
            while t < 80:
                q = ptr32(w + (t << 2))
                e = ((b ^ c ^ d) + e + k + uint(q[0]) + ((a << 5) | (a >> 27))) & m
                b = (b << 30) | (b >> 2)
                d = ((a ^ b ^ c) + d + k + uint(q[1]) + ((e << 5) | (e >> 27))) & m
                a = (a << 30) | (a >> 2)
                c = ((e ^ a ^ b) + c + k + uint(q[2]) + ((d << 5) | (d >> 27))) & m
                e = (e << 30) | (e >> 2)
                b = ((d ^ e ^ a) + b + k + uint(q[3]) + ((c << 5) | (c >> 27))) & m
                d = (d << 30) | (d >> 2)
                a = ((c ^ d ^ e) + a + k + uint(q[4]) + ((b << 5) | (b >> 27))) & m
                c = (c << 30) | (c >> 2)
                t += 5
            s[0] = uint(s[0]) + a
            s[1] = uint(s[1]) + b
            s[2] = uint(s[2]) + c
            s[3] = uint(s[3]) + d
            s[4] = uint(s[4]) + e
            j += 1
        if n < 0:
            return
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


def new_state(key, hmac_sha1=None):
    """The state buffer for `key`: constants and the ipad/opad midstates,
    computed by `hmac_sha1` (this runtime's; the tests pass the twin) in
    its raw-block mode (n < 0)."""
    hmac_sha1 = hmac_sha1 or _hmac_fast
    st = bytearray(_STATE_BYTES)
    key = _padded_key(key)
    for i, k in enumerate(_K):
        _put32(st, 15 + i, k)
    _put32(st, 19, 0xFFFFFFFF)
    for mid, xor in ((5, 0x36), (10, 0x5C)):
        for i in range(5):
            _put32(st, i, _IV[i])
        hmac_sha1(st, bytes(b ^ xor for b in key), -1, st)
        st[4 * mid : 4 * mid + 20] = st[0:20]
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

