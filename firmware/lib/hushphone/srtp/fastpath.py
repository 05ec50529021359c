# The byte loops of the per-packet path: @micropython.viper on MicroPython
# (no allocation, a few ns per byte), plain twins (NAME_py) everywhere. Both
# have the same signatures and the same effect; tests/core/test_viper_twins
# runs each viper function against its twin on random inputs. No viper
# function takes more than four arguments: viper's passing of more has
# written wrong values on the ESP32 (FIELD-NOTES).
from hushphone.compat import IS_MICROPYTHON


def set_iv_py(iv, salt, src, ssrc_at):
    for i in range(4):
        iv[i] = salt[i]
        iv[4 + i] = salt[4 + i] ^ src[ssrc_at + i]
    for i in range(8, 14):
        iv[i] ^= salt[i]


def fill_counters_py(ctr, iv, nblocks):
    block = bytearray(iv[:16])
    for b in range(nblocks):
        block[14] = b >> 8
        block[15] = b & 0xFF
        ctr[16 * b : 16 * b + 16] = block


def copy_into_py(dst, at, src, n):
    dst[at : at + n] = src[:n]


def xor_in_place_py(buf, at, ks, n):
    if n:
        x = int.from_bytes(buf[at : at + n], "big") ^ int.from_bytes(ks[:n], "big")
        buf[at : at + n] = x.to_bytes(n, "big")


def tag_differs_py(buf, at, mac, n):
    # nonzero if they differ; every byte is looked at (constant time)
    diff = 0
    for i in range(n):
        diff |= buf[at + i] ^ mac[i]
    return diff


def same4_py(buf, at, key):
    return bytes(buf[at : at + 4]) == bytes(key[:4])


if IS_MICROPYTHON:
    import micropython

    @micropython.viper
    def set_iv_viper(iv: ptr8, salt: ptr8, src: ptr8, ssrc_at: int):
        # iv[0:14] = salt XOR SSRC<<64 XOR index<<16 (RFC 3711 §4.1.1): the
        # caller wrote the 48-bit index into iv[8:14]; the SSRC is read
        # from the packet at src[ssrc_at:ssrc_at+4].
        i = 0
        while i < 4:
            iv[i] = salt[i]
            iv[4 + i] = salt[4 + i] ^ src[ssrc_at + i]
            i += 1
        i = 8
        while i < 14:
            iv[i] = iv[i] ^ salt[i]
            i += 1

    @micropython.viper
    def fill_counters_viper(ctr: ptr8, iv: ptr8, nblocks: int):
        # nblocks AES-CM counter blocks: iv[0:14], block number in bytes
        # 14-15. Written as four 32-bit words per block, little-endian (x86,
        # ARM, Xtensa); ctr and iv are heap buffers, so word aligned.
        v = ptr32(iv)
        w0 = v[0]
        w1 = v[1]
        w2 = v[2]
        w3 = iv[12] | (iv[13] << 8)
        c = ptr32(ctr)
        p = 0
        b = 0
        while b < nblocks:
            c[p] = w0
            c[p + 1] = w1
            c[p + 2] = w2
            c[p + 3] = w3 | ((b >> 8) << 16) | ((b & 0xFF) << 24)
            p += 4
            b += 1

    @micropython.viper
    def copy_into_viper(dst: ptr8, at: int, src: ptr8, n: int):
        # dst[at:at+n] = src[:n] without a slice object; by 32-bit words
        # when both ends are aligned (heap buffers are)
        i = 0
        if int(uint(dst) + uint(at)) & 3 == 0 and int(uint(src)) & 3 == 0:
            d = ptr32(uint(dst) + uint(at))
            s = ptr32(src)
            words = n >> 2
            while i < words:
                d[i] = s[i]
                i += 1
            i = words << 2
        while i < n:
            dst[at + i] = src[i]
            i += 1

    @micropython.viper
    def xor_in_place_viper(buf: ptr8, at: int, ks: ptr8, n: int):
        # buf[at:at+n] ^= ks[:n], by 32-bit words where buf+at is aligned
        i = 0
        if int(uint(buf) + uint(at)) & 3 == 0:
            d = ptr32(uint(buf) + uint(at))
            k = ptr32(ks)
            words = n >> 2
            while i < words:
                d[i] = d[i] ^ k[i]
                i += 1
            i = words << 2
        while i < n:
            buf[at + i] = buf[at + i] ^ ks[i]
            i += 1

    @micropython.viper
    def tag_differs_viper(buf: ptr8, at: int, mac: ptr8, n: int) -> int:
        # constant time: every byte is looked at whatever the first mismatch
        diff = 0
        i = 0
        while i < n:
            diff |= buf[at + i] ^ mac[i]
            i += 1
        return diff

    @micropython.viper
    def same4_viper(buf: ptr8, at: int, key: ptr8) -> bool:
        # is buf[at:at+4] == key[:4] (the SSRC of the last packet's stream)?
        return buf[at] == key[0] and buf[at + 1] == key[1] and buf[at + 2] == key[2] and buf[at + 3] == key[3]


if IS_MICROPYTHON:
    set_iv = set_iv_viper
    fill_counters = fill_counters_viper
    copy_into = copy_into_viper
    xor_in_place = xor_in_place_viper
    tag_differs = tag_differs_viper
    same4 = same4_viper
else:
    set_iv = set_iv_py
    fill_counters = fill_counters_py
    copy_into = copy_into_py
    xor_in_place = xor_in_place_py
    tag_differs = tag_differs_py
    same4 = same4_py
