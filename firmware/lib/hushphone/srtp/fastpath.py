# The per-packet SRTP path in one viper call (plain-Python twins NAME_py
# with the same signatures and effect, for CPython and for the tests:
# tests/core/test_viper_twins runs each viper function against its twin;
# packet's is in fastpath_twin.py, which MicroPython never loads:
# compiling it from source would need more than a 64 KiB heap). No viper
# function takes more than four arguments: viper's passing of more has
# written wrong values on the ESP32 (FIELD-NOTES); what else a call needs
# lives in a per-direction state buffer, laid out below.
#
# packet(d, pkt, out, n) protects (n >= 0) or unprotects (n < 0) one
# packet with a direction d (srtp/cipher.Direction: its state buffer, AES
# and HMAC-SHA1). Unless the slow path set the FORCED fields (index, where
# encryption starts and its length) for it, the packet must be the next
# in-order one of the stream the state mirrors, with a plain 12-byte
# header; else -1 and nothing written: the context's Python slow path
# takes it. Then: the packet to the output with its ROC appended, its
# AES-CM counter blocks (RFC 3711 §4.1.1) encrypted in place by ONE
# AES-ECB call, the keystream XORed in, the tag written; unprotecting, the
# tag is checked before anything is decrypted (-2 if wrong).
from hushphone.compat import IS_MICROPYTHON, const

# State buffer (bytes; multi-byte fields big-endian, read byte by byte;
# SSRC..TOPSEQ and F_HLEN..F_SEQ stay contiguous: srtp/cipher writes each
# group with one struct.pack_into):
ST_MAC = const(0)  # 20: the HMAC-SHA1 of the packet (written by the MAC)
ST_TAG = const(20)  # 10: the received tag, kept aside (unprotect)
ST_SALT = const(32)  # 14: session salt
ST_SSRC = const(48)  # 4: mirror: SSRC of the stream the fast path serves
ST_ROC = const(52)  # 4: mirror: its ROC ...
ST_TOPSEQ = const(56)  # 2: ... and the sequence number of its highest index
ST_VALID = const(58)  # 1: the mirror is set (else every packet goes slow)
ST_FORCED = const(59)  # 1: the next packet() uses the F_ fields (one shot)
ST_TAGLEN = const(60)  # 1: tag length of this direction
ST_F_SSRC_AT = const(61)  # 1: forced: SSRC offset in the packet (8 RTP, 4 RTCP)
ST_RTCP = const(62)  # 1: an SRTCP direction: no ROC; its E flag and index,
#                          written by the caller, come before the tag
ST_MAXP = const(64)  # 4: largest packet (the counter area is sized for it)
ST_F_HLEN = const(68)  # 4: forced: where encryption starts
ST_F_ELEN = const(72)  # 4: forced: how many bytes are encrypted
ST_F_ROC = const(76)  # 4: forced: index bits 47..16
ST_F_SEQ = const(80)  # 2: forced: index bits 15..0
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
    def packet_viper(d, pkt, out, n: int) -> int:
        st = d.st
        s = ptr8(st)  # noqa: F821  (viper built-ins)
        p = ptr8(pkt)  # noqa: F821
        o = ptr8(out)  # noqa: F821
        tag_len = s[ST_TAGLEN]
        check = 0
        m = n
        if n < 0:  # unprotect: m, the packet without its tag
            check = 1
            m = 0 - n - tag_len
        roc = ST_ROC  # where this packet's ROC (index bits 47..16) is
        if s[ST_FORCED]:
            s[ST_FORCED] = 0
            hlen = (s[ST_F_HLEN] << 24) | (s[ST_F_HLEN + 1] << 16) | (s[ST_F_HLEN + 2] << 8) | s[ST_F_HLEN + 3]
            elen = (s[ST_F_ELEN] << 24) | (s[ST_F_ELEN + 1] << 16) | (s[ST_F_ELEN + 2] << 8) | s[ST_F_ELEN + 3]
            roc = ST_F_ROC
            at = s[ST_F_SSRC_AT]
            sh = s[ST_F_SEQ]
            sl = s[ST_F_SEQ + 1]
            commit = 0
        else:
            # the next packet of the mirrored stream, plain header, in size?
            if s[ST_VALID] == 0 or m < 12 or (p[0] & 0xDF) != 0x80:
                return -1
            if m > ((s[ST_MAXP] << 24) | (s[ST_MAXP + 1] << 16) | (s[ST_MAXP + 2] << 8) | s[ST_MAXP + 3]):
                return -1
            if int(len(out)) < m + tag_len:
                return -1
            if p[8] != s[ST_SSRC] or p[9] != s[ST_SSRC + 1] or p[10] != s[ST_SSRC + 2] or p[11] != s[ST_SSRC + 3]:
                return -1
            sh = p[2]
            sl = p[3]
            if ((sh << 8) | sl) != ((s[ST_TOPSEQ] << 8) | s[ST_TOPSEQ + 1]) + 1:
                return -1  # (after top 0xFFFF the ROC changes: slow path)
            hlen = 12
            elen = m - 12
            at = 8
            commit = 1
        i = 0
        if check:  # the received tag, kept aside: in place the ROC goes there
            while i < tag_len:
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
        if s[ST_RTCP] == 0:
            i = 0
            while i < 4:  # authenticated: packet || ROC
                o[m + i] = s[roc + i]
                i += 1
        # counter block 0: salt ^ SSRC << 64 ^ index << 16; the others as
        # 32-bit words, little-endian (x86, ARM, Xtensa), block number in
        # bytes 14-15 (heap buffers and ST_CTR are word aligned)
        c = ST_CTR
        i = 0
        while i < 4:
            s[c + i] = s[ST_SALT + i]
            s[c + 4 + i] = s[ST_SALT + 4 + i] ^ p[at + i]
            s[c + 8 + i] = s[ST_SALT + 8 + i] ^ s[roc + i]
            i += 1
        w3 = (s[ST_SALT + 12] ^ sh) | ((s[ST_SALT + 13] ^ sl) << 8)
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
        if nblocks:
            view = d.views[nblocks]
            if not view:  # (None until made)
                view = d.counter_view(nblocks)
            d.aes(view, view)
        if check:
            d.mac(d.mac_key, out, m if s[ST_RTCP] else m + 4, st)
            diff = 0  # constant time: every byte is looked at
            i = 0
            while i < tag_len:
                diff |= s[ST_TAG + i] ^ s[ST_MAC + i]
                i += 1
            if diff:
                return -2
        # out[hlen:hlen+elen] ^= keystream; by words where out+hlen is aligned
        i = 0
        if int((uint(o) + uint(hlen)) & 3) == 0:  # noqa: F821
            x = ptr32(uint(o) + uint(hlen))  # noqa: F821
            words = elen >> 2
            while i < words:
                x[i] = x[i] ^ w[i]
                i += 1
            i = words << 2
        while i < elen:
            o[hlen + i] = o[hlen + i] ^ s[ST_CTR + i]
            i += 1
        if commit:  # the mirrored stream's new top
            s[ST_TOPSEQ] = sh
            s[ST_TOPSEQ + 1] = sl
        if check:
            return m
        d.mac(d.mac_key, out, m + 4, st)  # packet || ROC (SRTCP: || E flag, index)
        if s[ST_RTCP]:
            m += 4
        i = 0
        while i < tag_len:
            o[m + i] = s[ST_MAC + i]
            i += 1
        return m + tag_len

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

    packet = packet_viper
    copy_into = copy_into_viper
    same4 = same4_viper
else:
    from hushphone.srtp.fastpath_twin import packet_py as packet  # noqa: F401

    copy_into = copy_into_py
    same4 = same4_py
