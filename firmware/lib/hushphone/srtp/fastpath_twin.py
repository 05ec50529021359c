# The plain-Python twin of srtp/fastpath's packet: what CPython runs, and
# what tests/core/test_viper_twins checks the viper code against on
# MicroPython (the firmware itself never imports this module there).
from hushphone.srtp.fastpath import (
    ST_CTR,
    ST_F_ELEN,
    ST_F_HLEN,
    ST_F_ROC,
    ST_F_SEQ,
    ST_F_SSRC_AT,
    ST_FORCED,
    ST_MAC,
    ST_MAXP,
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


def packet_py(d, pkt, out, n):
    """Protect pkt[:n] (n >= 0) or unprotect pkt[:-n] (n < 0) into out with
    the direction d (srtp/cipher.Direction). Returns the length written
    (SRTP packet; unprotecting: RTP packet), -1 if the packet is not for
    the fast path (nothing written), -2 if its tag is wrong (nothing
    decrypted)."""
    st = d.st
    tag_len = st[ST_TAGLEN]
    check = n < 0
    m = -n - tag_len if check else n
    roc = ST_ROC  # where this packet's ROC (index bits 47..16) is
    if st[ST_FORCED]:
        st[ST_FORCED] = 0
        hlen = _be(st, ST_F_HLEN, 4)
        elen = _be(st, ST_F_ELEN, 4)
        roc = ST_F_ROC
        at = st[ST_F_SSRC_AT]
        sh = st[ST_F_SEQ]
        sl = st[ST_F_SEQ + 1]
        commit = False
    else:
        # the next packet of the mirrored stream, plain header, in size?
        if not st[ST_VALID] or m < 12 or (pkt[0] & 0xDF) != 0x80 or m > _be(st, ST_MAXP, 4):
            return -1
        if len(out) < m + tag_len or bytes(pkt[8:12]) != bytes(st[ST_SSRC : ST_SSRC + 4]):
            return -1
        sh = pkt[2]
        sl = pkt[3]
        if ((sh << 8) | sl) != _be(st, ST_TOPSEQ, 2) + 1:
            return -1  # (after top 0xFFFF the ROC changes: slow path)
        hlen = 12
        elen = m - 12
        at = 8
        commit = True
    if check:  # the received tag, kept aside: in place the ROC goes there
        st[ST_TAG : ST_TAG + tag_len] = pkt[m : m + tag_len]
    if out is not pkt:
        out[:m] = pkt[:m]
    if not st[ST_RTCP]:
        out[m : m + 4] = st[roc : roc + 4]  # authenticated: packet || ROC
    # the counter blocks: salt ^ SSRC << 64 ^ index << 16, block number in
    # bytes 14-15; block 0's first 12 bytes even for no block (as the viper
    # code does)
    iv = bytearray(16)
    for i in range(4):
        iv[i] = st[ST_SALT + i]
        iv[4 + i] = st[ST_SALT + 4 + i] ^ pkt[at + i]
        iv[8 + i] = st[ST_SALT + 8 + i] ^ st[roc + i]
    iv[12] = st[ST_SALT + 12] ^ sh
    iv[13] = st[ST_SALT + 13] ^ sl
    nblocks = (elen + 15) >> 4
    st[ST_CTR : ST_CTR + 12] = iv[:12]
    for b in range(nblocks):
        iv[14] = b >> 8
        iv[15] = b & 0xFF
        st[ST_CTR + 16 * b : ST_CTR + 16 * b + 16] = iv
    if nblocks:
        view = d.views[nblocks]
        if not view:  # (None until made)
            view = d.counter_view(nblocks)
        d.aes(view, view)
    if check:
        d.mac(d.mac_key, out, m if st[ST_RTCP] else m + 4, st)
        diff = 0  # constant time: every byte is looked at
        for i in range(tag_len):
            diff |= st[ST_TAG + i] ^ st[ST_MAC + i]
        if diff:
            return -2
    if elen:  # out[hlen:hlen+elen] ^= keystream, as one big integer (fast on CPython)
        x = int.from_bytes(out[hlen : hlen + elen], "big") ^ int.from_bytes(st[ST_CTR : ST_CTR + elen], "big")
        out[hlen : hlen + elen] = x.to_bytes(elen, "big")
    if commit:  # the mirrored stream's new top
        st[ST_TOPSEQ] = sh
        st[ST_TOPSEQ + 1] = sl
    if check:
        return m
    d.mac(d.mac_key, out, m + 4, st)  # packet || ROC (SRTCP: || E flag, index)
    if st[ST_RTCP]:
        m += 4
    out[m : m + tag_len] = st[ST_MAC : ST_MAC + tag_len]
    return m + tag_len
