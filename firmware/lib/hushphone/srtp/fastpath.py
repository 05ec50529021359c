# The byte loops of the per-packet path: @micropython.viper on MicroPython
# (no allocation, a few ns per byte), plain twins on CPython. Both sides
# have the same signatures and the same effect; tests/core checks them
# through the SRTP vectors on both runtimes.
from hushphone.compat import IS_MICROPYTHON

if IS_MICROPYTHON:
    import micropython

    @micropython.viper
    def fill_counters(ctr: ptr8, salt: ptr8, nblocks: int, src: ptr8, ssrc_at: int, i_hi: int, i_lo: int):
        # AES-CM counter blocks (RFC 3711 §4.1.1): salt XOR SSRC<<64 XOR
        # index<<16, block number in bytes 14-15. The 48-bit index comes as
        # two 24-bit halves so that it stays a small int on the ESP32.
        # Written as four 32-bit words per block, little-endian (x86, ARM,
        # Xtensa); ctr is a heap buffer, so word aligned.
        w0 = salt[0] | (salt[1] << 8) | (salt[2] << 16) | (salt[3] << 24)
        w1 = (
            (salt[4] ^ src[ssrc_at])
            | ((salt[5] ^ src[ssrc_at + 1]) << 8)
            | ((salt[6] ^ src[ssrc_at + 2]) << 16)
            | ((salt[7] ^ src[ssrc_at + 3]) << 24)
        )
        w2 = (
            (salt[8] ^ ((i_hi >> 16) & 0xFF))
            | ((salt[9] ^ ((i_hi >> 8) & 0xFF)) << 8)
            | ((salt[10] ^ (i_hi & 0xFF)) << 16)
            | ((salt[11] ^ ((i_lo >> 16) & 0xFF)) << 24)
        )
        w3 = (salt[12] ^ ((i_lo >> 8) & 0xFF)) | ((salt[13] ^ (i_lo & 0xFF)) << 8)
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
    def copy_into(dst: ptr8, at: int, src: ptr8, n: int):
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
    def xor_keystream(dst: ptr8, src: ptr8, at: int, n: int, ks: ptr8):
        # dst[:at] = src[:at] (the clear header) and dst[at:at+n] =
        # src[at:at+n] ^ ks[:n]; dst may be src. By 32-bit words where both
        # ends are aligned.
        i = 0
        while i < at:
            dst[i] = src[i]
            i += 1
        i = 0
        if int(uint(dst) + uint(at)) & 3 == 0 and int(uint(src) + uint(at)) & 3 == 0:
            d = ptr32(uint(dst) + uint(at))
            s = ptr32(uint(src) + uint(at))
            k = ptr32(ks)
            words = n >> 2
            while i < words:
                d[i] = s[i] ^ k[i]
                i += 1
            i = words << 2
        while i < n:
            dst[at + i] = src[at + i] ^ ks[i]
            i += 1

    @micropython.viper
    def tag_differs(buf: ptr8, at: int, mac: ptr8, n: int) -> int:
        # constant time: every byte is looked at whatever the first mismatch
        diff = 0
        i = 0
        while i < n:
            diff |= buf[at + i] ^ mac[i]
            i += 1
        return diff

    @micropython.viper
    def same4(buf: ptr8, at: int, key: ptr8) -> bool:
        # is buf[at:at+4] == key[:4] (the SSRC of the last packet's stream)?
        return buf[at] == key[0] and buf[at + 1] == key[1] and buf[at + 2] == key[2] and buf[at + 3] == key[3]

else:
    from hushphone.crypto.hmac import compare_digest

    def fill_counters(ctr, salt, nblocks, src, ssrc_at, i_hi, i_lo):
        block = bytearray(
            (
                salt[0],
                salt[1],
                salt[2],
                salt[3],
                salt[4] ^ src[ssrc_at],
                salt[5] ^ src[ssrc_at + 1],
                salt[6] ^ src[ssrc_at + 2],
                salt[7] ^ src[ssrc_at + 3],
                salt[8] ^ ((i_hi >> 16) & 0xFF),
                salt[9] ^ ((i_hi >> 8) & 0xFF),
                salt[10] ^ (i_hi & 0xFF),
                salt[11] ^ ((i_lo >> 16) & 0xFF),
                salt[12] ^ ((i_lo >> 8) & 0xFF),
                salt[13] ^ (i_lo & 0xFF),
                0,
                0,
            )
        )
        for b in range(nblocks):
            block[14] = b >> 8
            block[15] = b & 0xFF
            ctr[16 * b : 16 * b + 16] = block

    def copy_into(dst, at, src, n):
        dst[at : at + n] = src[:n]

    def xor_keystream(dst, src, at, n, ks):
        dst[:at] = src[:at]
        if n:
            x = int.from_bytes(src[at : at + n], "big") ^ int.from_bytes(ks[:n], "big")
            dst[at : at + n] = x.to_bytes(n, "big")

    def tag_differs(buf, at, mac, n):
        return not compare_digest(bytes(buf[at : at + n]), bytes(mac[:n]))

    def same4(buf, at, key):
        return buf[at : at + 4] == key
