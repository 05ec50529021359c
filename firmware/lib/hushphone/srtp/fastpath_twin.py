# The plain-Python twins of srtp/fastpath's begin and end: what CPython
# runs, and what tests/core/test_viper_twins checks the viper code against
# on MicroPython (the firmware itself never imports this module there).
from hushphone.srtp.fastpath import (
    ST_CHECK,
    ST_CTR,
    ST_CUR_ROC,
    ST_ELEN,
    ST_F_HLEN,
    ST_F_ROC,
    ST_F_SEQ,
    ST_F_SSRC_AT,
    ST_FORCED,
    ST_HLEN,
    ST_MAC,
    ST_MAXP,
    ST_PENDING,
    ST_ROC,
    ST_RTCP,
    ST_SALT,
    ST_SSRC,
    ST_TAG,
    ST_TAGLEN,
    ST_TOPSEQ,
    ST_VALID,
)


def _be(st, at, n):
    v = 0
    for i in range(n):
        v = (v << 8) | st[at + i]
    return v


def _put_be(st, at, n, v):
    for i in range(n):
        st[at + n - 1 - i] = (v >> (8 * i)) & 0xFF


def begin_py(st, pkt, out, n):
    """Protect pkt[:n] (n >= 0) or unprotect pkt[:-n] (n < 0) into out, up
    to the AES: returns the number of counter blocks written at ST_CTR, or
    -1 if the packet is not for the fast path (nothing written then)."""
    check = 0
    m = n
    if n < 0:
        check = 1
        m = -n - st[ST_TAGLEN]
    if st[ST_FORCED]:
        st[ST_FORCED] = 0
        st[ST_PENDING] = 0
        st[ST_HLEN : ST_HLEN + 8] = st[ST_F_HLEN : ST_F_HLEN + 8]  # HLEN, ELEN
        st[ST_CUR_ROC : ST_CUR_ROC + 4] = st[ST_F_ROC : ST_F_ROC + 4]
        at = st[ST_F_SSRC_AT]
        sh = st[ST_F_SEQ]
        sl = st[ST_F_SEQ + 1]
    else:
        # the next packet of the mirrored stream, plain header, in size?
        if not st[ST_VALID] or m < 12 or m > _be(st, ST_MAXP, 4) or (pkt[0] & 0xDF) != 0x80:
            return -1
        if len(out) < m + st[ST_TAGLEN]:
            return -1
        for i in range(4):
            if pkt[8 + i] != st[ST_SSRC + i]:
                return -1
        if ((pkt[2] << 8) | pkt[3]) != _be(st, ST_TOPSEQ, 2) + 1:
            return -1  # (after top 0xFFFF the ROC changes: slow path)
        st[ST_PENDING] = 1
        _put_be(st, ST_HLEN, 4, 12)
        _put_be(st, ST_ELEN, 4, m - 12)
        st[ST_CUR_ROC : ST_CUR_ROC + 4] = st[ST_ROC : ST_ROC + 4]
        at = 8
        sh = pkt[2]
        sl = pkt[3]
    st[ST_CHECK] = check
    if check:  # the received tag, kept aside: in place the ROC goes there
        tag_len = st[ST_TAGLEN]
        st[ST_TAG : ST_TAG + tag_len] = pkt[m : m + tag_len]
    if out is not pkt:
        out[:m] = pkt[:m]
    out[m : m + 4] = st[ST_CUR_ROC : ST_CUR_ROC + 4]  # authenticated: packet || ROC
    iv = bytearray(16)
    for i in range(4):
        iv[i] = st[ST_SALT + i]
        iv[4 + i] = st[ST_SALT + 4 + i] ^ pkt[at + i]
        iv[8 + i] = st[ST_SALT + 8 + i] ^ st[ST_CUR_ROC + i]
    iv[12] = st[ST_SALT + 12] ^ sh
    iv[13] = st[ST_SALT + 13] ^ sl
    nblocks = (_be(st, ST_ELEN, 4) + 15) >> 4
    st[ST_CTR : ST_CTR + 12] = iv[:12]  # (even with no blocks, as the viper code does)
    for b in range(nblocks):
        iv[14] = b >> 8
        iv[15] = b & 0xFF
        st[ST_CTR + 16 * b : ST_CTR + 16 * b + 16] = iv
    return nblocks


def finish_py(d, out, n, nblocks):
    """After begin(d.st, pkt, out, +-n) returned nblocks: the rest of the
    packet, with d (a cipher.Direction) for the AES and the MAC. Protect:
    encrypt, then the tag of out[:n] || ROC at out[n:] (SRTCP: the 4 bytes
    after n are its E flag and index and stay; the tag follows them);
    returns the SRTP packet's length. Unprotect: the MAC of out[:m] || ROC
    (SRTCP: out[:m]), m = n - tag length, then if the tag matches decrypt
    and return m, else -1 (nothing decrypted). Success commits the
    mirror's new top (the fast path's packets)."""
    st = d.st
    view = d.views[nblocks]
    if not view:  # (None until made: views[0], empty, is made at the start)
        view = d.counter_view(nblocks)
    d.aes(view, view)
    tag_len = st[ST_TAGLEN]
    rtcp = st[ST_RTCP]
    if st[ST_CHECK]:
        n -= tag_len
        d.mac(d.mac_key, out, n if rtcp else n + 4, st)
        diff = 0  # constant time: every byte is looked at
        for i in range(tag_len):
            diff |= st[ST_TAG + i] ^ st[ST_MAC + i]
        if diff:
            st[ST_PENDING] = 0
            return -1
    hlen = _be(st, ST_HLEN, 4)
    elen = _be(st, ST_ELEN, 4)
    if elen:  # out[hlen:hlen+elen] ^= keystream, as one big integer (fast on CPython)
        x = int.from_bytes(out[hlen : hlen + elen], "big") ^ int.from_bytes(st[ST_CTR : ST_CTR + elen], "big")
        out[hlen : hlen + elen] = x.to_bytes(elen, "big")
    if st[ST_PENDING]:
        st[ST_PENDING] = 0
        st[ST_TOPSEQ] = out[2]
        st[ST_TOPSEQ + 1] = out[3]
    if st[ST_CHECK]:
        return n
    d.mac(d.mac_key, out, n + 4, st)
    if rtcp:
        n += 4
    out[n : n + tag_len] = st[ST_MAC : ST_MAC + tag_len]
    return n + tag_len
