# The plain-Python twin of crypto.sha1_hmac.hmac_sha1_viper, same state
# layout, same effect: tests/core runs both on random inputs. Not imported
# by the firmware at run time (it would only cost heap there).
from hushphone.crypto.sha1_hmac import _K, _OUTER, _PAD, _put32


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


def _pad_py(st, data, n):
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
    """out[:20] = HMAC of data[:n] under the key whose midstates are in
    st; n < 0: compress the raw block data[0:64] into H only."""
    if n < 0:
        _compress_py(st, data, 0)
        return
    for i in range(5):
        _put32(st, i, _get32(st, 5 + i))
    full = n >> 6
    for j in range(full):
        _compress_py(st, data, j << 6)
    for j in range(_pad_py(st, data, n)):
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
