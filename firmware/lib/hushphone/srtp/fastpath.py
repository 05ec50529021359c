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
        # index<<16, block number in bytes 14-15 (written once, never here).
        # The 48-bit index comes as two 24-bit halves so that it stays a
        # small int on the ESP32.
        b0 = salt[0]
        b1 = salt[1]
        b2 = salt[2]
        b3 = salt[3]
        b4 = salt[4] ^ src[ssrc_at]
        b5 = salt[5] ^ src[ssrc_at + 1]
        b6 = salt[6] ^ src[ssrc_at + 2]
        b7 = salt[7] ^ src[ssrc_at + 3]
        b8 = salt[8] ^ (i_hi >> 16)
        b9 = salt[9] ^ (i_hi >> 8)
        b10 = salt[10] ^ i_hi
        b11 = salt[11] ^ (i_lo >> 16)
        b12 = salt[12] ^ (i_lo >> 8)
        b13 = salt[13] ^ i_lo
        p = 0
        end = nblocks << 4
        while p < end:
            ctr[p] = b0
            ctr[p + 1] = b1
            ctr[p + 2] = b2
            ctr[p + 3] = b3
            ctr[p + 4] = b4
            ctr[p + 5] = b5
            ctr[p + 6] = b6
            ctr[p + 7] = b7
            ctr[p + 8] = b8
            ctr[p + 9] = b9
            ctr[p + 10] = b10
            ctr[p + 11] = b11
            ctr[p + 12] = b12
            ctr[p + 13] = b13
            p += 16

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
    def xor_keystream(buf: ptr8, at: int, n: int, ks: ptr8):
        # buf[at:at+n] ^= ks[:n], a 32-bit word at a time where aligned
        p = ptr32(uint(buf) + uint(at))
        k = ptr32(ks)
        i = 0
        if int(uint(buf) + uint(at)) & 3 == 0:
            words = n >> 2
            while i < words:
                p[i] = p[i] ^ k[i]
                i += 1
            i = words << 2
        while i < n:
            buf[at + i] = buf[at + i] ^ ks[i]
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
        iv = bytes(
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
            )
        )
        for p in range(0, nblocks << 4, 16):
            ctr[p : p + 14] = iv

    def copy_into(dst, at, src, n):
        dst[at : at + n] = src[:n]

    def xor_keystream(buf, at, n, ks):
        if n:
            x = int.from_bytes(buf[at : at + n], "big") ^ int.from_bytes(ks[:n], "big")
            buf[at : at + n] = x.to_bytes(n, "big")

    def tag_differs(buf, at, mac, n):
        return not compare_digest(bytes(buf[at : at + n]), bytes(mac[:n]))

    def same4(buf, at, key):
        return buf[at : at + 4] == key
