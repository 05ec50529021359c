# The per-packet SRTP path in a few viper calls (plain-Python twins NAME_py
# with the same signatures and effect, for CPython and for the tests:
# tests/core/test_viper_twins runs each viper function against its twin;
# begin's and end's are in fastpath_twin.py, which MicroPython never
# loads: compiling them from source would need more than a 64 KiB heap).
# No viper function takes more than four arguments: viper's passing of
# more has written wrong values on the ESP32 (FIELD-NOTES); what else a
# call needs lives in a per-direction state buffer, laid out below.
#
# A packet in two calls: begin checks that it is the next in-order packet
# of the stream the state mirrors (else returns -1: the context's Python
# slow path takes it), copies it to the output, appends the ROC and writes
# its AES-CM counter blocks (RFC 3711 §4.1.1); finish, given the
# direction (srtp/cipher.Direction: its AES and HMAC-SHA1), encrypts
# those in place (one AES-ECB call), XORs the keystream in and writes the
# tag, or when unprotecting checks the tag first. The slow path fills the
# FORCED fields (index, where encryption starts and its length) instead,
# and begin uses those.
from hushphone.compat import IS_MICROPYTHON, const

# State buffer (bytes; multi-byte fields big-endian, read byte by byte):
ST_MAC = const(0)  # 20: the HMAC-SHA1 of the packet (written by the MAC)
ST_TAG = const(20)  # 10: the received tag, kept aside (unprotect)
ST_SALT = const(32)  # 14: session salt
ST_SSRC = const(48)  # 4: mirror: SSRC of the stream the fast path serves
ST_ROC = const(52)  # 4: mirror: its ROC ...
ST_TOPSEQ = const(56)  # 2: ... and the sequence number of its highest index
ST_VALID = const(58)  # 1: the mirror is set (else every packet goes slow)
ST_FORCED = const(59)  # 1: the next *_begin uses the F_ fields (one shot)
ST_TAGLEN = const(60)  # 1: tag length of this direction
ST_F_SSRC_AT = const(61)  # 1: forced: SSRC offset in the packet (8 RTP, 4 RTCP)
ST_PENDING = const(62)  # 1: end commits the mirror's new top on success
ST_CHECK = const(63)  # 1: end checks the tag first (unprotect)
ST_MAXP = const(64)  # 4: largest packet (the counter area is sized for it)
ST_F_HLEN = const(68)  # 4: forced: where encryption starts
ST_F_ELEN = const(72)  # 4: forced: how many bytes are encrypted
ST_F_ROC = const(76)  # 4: forced: index bits 47..16
ST_F_SEQ = const(80)  # 2: forced: index bits 15..0
ST_RTCP = const(82)  # 1: an SRTCP direction (no ROC; index and E flag before the tag)
ST_HLEN = const(84)  # 4: this packet's encryption start (begin -> end)
ST_ELEN = const(88)  # 4: this packet's encrypted length
ST_CUR_ROC = const(92)  # 4: this packet's index bits 47..16
ST_CTR = const(96)  # counter blocks, encrypted in place into keystream


def state_size(max_packet):
    return ST_CTR + (((max_packet + 15) >> 4) << 4)


def copy_into_py(dst, at, src, n):
    dst[at : at + n] = src[:n]


def same4_py(buf, at, key):
    return bytes(buf[at : at + 4]) == bytes(key[:4])


if IS_MICROPYTHON:
    import micropython

    @micropython.viper
    def begin_viper(st, pkt, out, n: int) -> int:
        s = ptr8(st)  # noqa: F821  (viper built-ins)
        p = ptr8(pkt)  # noqa: F821
        o = ptr8(out)  # noqa: F821
        check = 0
        m = n
        if n < 0:
            check = 1
            m = 0 - n - s[ST_TAGLEN]
        if s[ST_FORCED]:
            s[ST_FORCED] = 0
            s[ST_PENDING] = 0
            i = 0
            while i < 4:
                s[ST_HLEN + i] = s[ST_F_HLEN + i]
                s[ST_ELEN + i] = s[ST_F_ELEN + i]
                s[ST_CUR_ROC + i] = s[ST_F_ROC + i]
                i += 1
            at = s[ST_F_SSRC_AT]
            sh = s[ST_F_SEQ]
            sl = s[ST_F_SEQ + 1]
        else:
            if s[ST_VALID] == 0 or m < 12 or (p[0] & 0xDF) != 0x80:
                return -1
            if m > ((s[ST_MAXP] << 24) | (s[ST_MAXP + 1] << 16) | (s[ST_MAXP + 2] << 8) | s[ST_MAXP + 3]):
                return -1
            if int(len(out)) < m + s[ST_TAGLEN]:
                return -1
            if p[8] != s[ST_SSRC] or p[9] != s[ST_SSRC + 1] or p[10] != s[ST_SSRC + 2] or p[11] != s[ST_SSRC + 3]:
                return -1
            if ((p[2] << 8) | p[3]) != ((s[ST_TOPSEQ] << 8) | s[ST_TOPSEQ + 1]) + 1:
                return -1  # (after top 0xFFFF the ROC changes: slow path)
            s[ST_PENDING] = 1
            e = m - 12
            s[ST_HLEN] = 0
            s[ST_HLEN + 1] = 0
            s[ST_HLEN + 2] = 0
            s[ST_HLEN + 3] = 12
            s[ST_ELEN] = (e >> 24) & 0xFF
            s[ST_ELEN + 1] = (e >> 16) & 0xFF
            s[ST_ELEN + 2] = (e >> 8) & 0xFF
            s[ST_ELEN + 3] = e & 0xFF
            i = 0
            while i < 4:
                s[ST_CUR_ROC + i] = s[ST_ROC + i]
                i += 1
            at = 8
            sh = p[2]
            sl = p[3]
        s[ST_CHECK] = check
        if check:  # the received tag, kept aside: in place the ROC goes there
            i = 0
            while i < s[ST_TAGLEN]:
                s[ST_TAG + i] = p[m + i]
                i += 1
        # pkt[:m] -> out unless in place; by words when both are aligned
        if uint(p) != uint(o):  # noqa: F821
            i = 0
            if int((uint(p) | uint(o)) & 3) == 0:  # noqa: F821
                d32 = ptr32(o)  # noqa: F821
                s32 = ptr32(p)  # noqa: F821
                words = m >> 2
                while i < words:
                    d32[i] = s32[i]
                    i += 1
                i = words << 2
            while i < m:
                o[i] = p[i]
                i += 1
        i = 0
        while i < 4:  # authenticated: packet || ROC
            o[m + i] = s[ST_CUR_ROC + i]
            i += 1
        # counter block 0: salt ^ SSRC << 64 ^ index << 16; the others as
        # 32-bit words, little-endian (x86, ARM, Xtensa), block number in
        # bytes 14-15 (heap buffers and ST_CTR are word aligned)
        c = ST_CTR
        i = 0
        while i < 4:
            s[c + i] = s[ST_SALT + i]
            s[c + 4 + i] = s[ST_SALT + 4 + i] ^ p[at + i]
            s[c + 8 + i] = s[ST_SALT + 8 + i] ^ s[ST_CUR_ROC + i]
            i += 1
        w3 = (s[ST_SALT + 12] ^ sh) | ((s[ST_SALT + 13] ^ sl) << 8)
        elen = (s[ST_ELEN] << 24) | (s[ST_ELEN + 1] << 16) | (s[ST_ELEN + 2] << 8) | s[ST_ELEN + 3]
        nblocks = (elen + 15) >> 4
        w = ptr32(uint(s) + ST_CTR)  # noqa: F821
        w0 = w[0]
        w1 = w[1]
        w2 = w[2]
        q = 0
        b = 0
        while b < nblocks:
            w[q] = w0
            w[q + 1] = w1
            w[q + 2] = w2
            w[q + 3] = w3 | ((b >> 8) << 16) | ((b & 0xFF) << 24)
            q += 4
            b += 1
        return nblocks

    @micropython.viper
    def finish_viper(d, out, n: int, nblocks: int) -> int:
        st = d.st
        view = d.views[nblocks]
        if not view:  # (None until made: views[0], empty, is made at the start)
            view = d.counter_view(nblocks)
        d.aes(view, view)
        s = ptr8(st)  # noqa: F821
        o = ptr8(out)  # noqa: F821
        tag_len = s[ST_TAGLEN]
        check = s[ST_CHECK]
        if check:
            n -= tag_len
            d.mac(d.mac_key, out, n if s[ST_RTCP] else n + 4, st)
            diff = 0  # constant time: every byte is looked at
            i = 0
            while i < tag_len:
                diff |= s[ST_TAG + i] ^ s[ST_MAC + i]
                i += 1
            if diff:
                s[ST_PENDING] = 0
                return -1
        hlen = (s[ST_HLEN] << 24) | (s[ST_HLEN + 1] << 16) | (s[ST_HLEN + 2] << 8) | s[ST_HLEN + 3]
        elen = (s[ST_ELEN] << 24) | (s[ST_ELEN + 1] << 16) | (s[ST_ELEN + 2] << 8) | s[ST_ELEN + 3]
        # out[hlen:hlen+elen] ^= keystream; by words where out+hlen is aligned
        i = 0
        if int((uint(o) + uint(hlen)) & 3) == 0:  # noqa: F821
            w = ptr32(uint(o) + uint(hlen))  # noqa: F821
            k = ptr32(uint(s) + ST_CTR)  # noqa: F821
            words = elen >> 2
            while i < words:
                w[i] = w[i] ^ k[i]
                i += 1
            i = words << 2
        while i < elen:
            o[hlen + i] = o[hlen + i] ^ s[ST_CTR + i]
            i += 1
        if s[ST_PENDING]:
            s[ST_PENDING] = 0
            s[ST_TOPSEQ] = o[2]
            s[ST_TOPSEQ + 1] = o[3]
        if check:
            return n
        d.mac(d.mac_key, out, n + 4, st)
        if s[ST_RTCP]:
            n += 4
        i = 0
        while i < tag_len:
            o[n + i] = s[ST_MAC + i]
            i += 1
        return n + tag_len

    @micropython.viper
    def copy_into_viper(dst: ptr8, at: int, src: ptr8, n: int):  # noqa: F821
        # dst[at:at+n] = src[:n] without a slice object; by 32-bit words
        # when both ends are aligned (heap buffers are)
        i = 0
        if int(uint(dst) + uint(at)) & 3 == 0 and int(uint(src)) & 3 == 0:  # noqa: F821
            d = ptr32(uint(dst) + uint(at))  # noqa: F821
            s = ptr32(src)  # noqa: F821
            words = n >> 2
            while i < words:
                d[i] = s[i]
                i += 1
            i = words << 2
        while i < n:
            dst[at + i] = src[i]
            i += 1

    @micropython.viper
    def same4_viper(buf: ptr8, at: int, key: ptr8) -> bool:  # noqa: F821
        # is buf[at:at+4] == key[:4] (the SSRC of the last packet's stream)?
        return buf[at] == key[0] and buf[at + 1] == key[1] and buf[at + 2] == key[2] and buf[at + 3] == key[3]

    begin = begin_viper
    finish = finish_viper
    copy_into = copy_into_viper
    same4 = same4_viper
else:
    from hushphone.srtp.fastpath_twin import begin_py as begin, finish_py as finish  # noqa: F401
    copy_into = copy_into_py
    same4 = same4_py
