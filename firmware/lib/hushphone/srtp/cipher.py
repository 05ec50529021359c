# One direction (SRTP or SRTCP) of an SRTP context: session keys, the
# packet state the per-packet viper code works on (srtp/fastpath has its
# layout), and the per-SSRC streams. AES counter mode (RFC 3711 §4.1.1)
# runs on that state without allocating: fastpath.packet writes a
# packet's counter blocks into it, encrypts them in place with ONE AES-ECB
# call (through a view made once per block count) and XORs the keystream
# into the packet.
#
# The fast path keeps the highest index of the previous packet's stream
# in the state (its "mirror") and advances it there; the slow path (the
# context's, in Python) folds it back into the stream first (fold) and
# mirrors the stream again when done.
import struct

from hushphone.compat import IS_MICROPYTHON
from hushphone.crypto import sha1_hmac
from hushphone.crypto.aes import AesEcb
from hushphone.srtp import kdf
from hushphone.srtp.fastpath import (
    ST_CTR,
    ST_F_HLEN,
    ST_F_SSRC_AT,
    ST_FORCED,
    ST_MAXP,
    ST_ROC,
    ST_RTCP,
    ST_SALT,
    ST_SSRC,
    ST_TAGLEN,
    ST_TOPSEQ,
    ST_VALID,
    copy_into,
    state_size,
)
from hushphone.srtp.replay import ReplayWindow
from hushphone.srtp.suites import AUTH_KEY_LEN, SALT_LEN


class Stream(ReplayWindow):
    """What a context remembers per SSRC: its replay window, whose top is
    the highest index so far (so ROC and highest sequence number too)."""

    def __init__(self, ssrc_bytes, window):
        super().__init__(window)
        self.ssrc = ssrc_bytes


def _mac_via_digest_into(mac, data, n, out):
    # any MAC class (digest_into(data, n) -> 20 bytes), called as
    # sha1_hmac.hmac_sha1_viper is
    copy_into(out, 0, mac.digest_into(data, n), 20)


class Direction:
    """Keys, packet state and streams of SRTP or SRTCP. mac_class: the
    HMAC-SHA1 (crypto.sha1_hmac.HmacSha1 or one with its digest_into)."""

    def __init__(self, master_key, master_salt, first_label, key_len, tag_len, max_packet, mac_class):
        # labels: first_label (cipher key), + 1 (auth key), + 2 (salt)
        key = kdf.derive(master_key, master_salt, first_label, key_len)
        auth = kdf.derive(master_key, master_salt, first_label + 1, AUTH_KEY_LEN)
        salt = kdf.derive(master_key, master_salt, first_label + 2, SALT_LEN)
        st = self.st = bytearray(state_size(max_packet))
        st[ST_SALT : ST_SALT + 14] = salt
        st[ST_TAGLEN] = tag_len
        st[ST_RTCP] = first_label == kdf.LABEL_RTCP_ENCRYPTION
        struct.pack_into(">I", st, ST_MAXP, max_packet)
        # what fastpath.packet calls: aes(view, view) in place on a counter
        # view, mac(mac_key, data, n, out) the MAC of data[:n] into out[0:20]
        self.aes = AesEcb(key).encrypt_into
        self._ctr = memoryview(st)[ST_CTR:]
        self.views = [None] * (((max_packet + 15) >> 4) + 1)  # see counter_view
        if mac_class is sha1_hmac.HmacSha1 and IS_MICROPYTHON:
            self.mac = sha1_hmac.hmac_sha1_viper
            self.mac_key = sha1_hmac.new_state(auth)
        else:
            self.mac = _mac_via_digest_into
            self.mac_key = mac_class(auth)
        self.tag_len = tag_len
        self.streams = {}
        self.last = None  # the stream of the previous packet: the usual case

    def counter_view(self, nblocks):
        """The first nblocks counter blocks, made once per block count (the
        AES call needs exact lengths) and kept in views[nblocks]."""
        view = self.views[nblocks] = self._ctr[: nblocks << 4]
        return view

    def force(self, hlen, elen, ssrc_at, index):
        """The next packet() encrypts elen bytes from hlen with the packet
        index `index` (48 bits; SRTCP: its 31-bit index) and the SSRC at
        ssrc_at, whatever the mirror says, and commits nothing."""
        st = self.st
        # F_HLEN, F_ELEN, F_ROC, F_SEQ: one call (no allocation) rather
        # than 14 byte stores, for the slow path's sake
        struct.pack_into(">IIIH", st, ST_F_HLEN, hlen, elen, index >> 16, index & 0xFFFF)
        st[ST_F_SSRC_AT] = ssrc_at
        st[ST_FORCED] = 1

    def mirror(self, stream):
        """Let the fast path take the in-order packets of this stream (the
        last one; it has a packet, so top >= 0)."""
        st = self.st
        self.last = stream
        top = stream.top
        struct.pack_into(">4sIH", st, ST_SSRC, stream.ssrc, top >> 16, top & 0xFFFF)  # SSRC, ROC, TOPSEQ
        st[ST_VALID] = 1

    def fold(self):
        """Stop the fast path and hand its progress to its stream (last):
        its new highest index, and as seen every index it passed (all in
        order, so a plain run of accept())."""
        st = self.st
        if not st[ST_VALID]:
            return
        st[ST_VALID] = 0
        roc = (st[ST_ROC] << 24) | (st[ST_ROC + 1] << 16) | (st[ST_ROC + 2] << 8) | st[ST_ROC + 3]
        top = (roc << 16) | (st[ST_TOPSEQ] << 8) | st[ST_TOPSEQ + 1]
        stream = self.last
        old = stream.top
        if top > old:
            seen = stream.seen
            if top - old >= stream.size:
                for i in range(len(seen)):
                    seen[i] = 1
            else:
                mask = stream.mask
                for i in range(old + 1, top + 1):
                    seen[i & mask] = 1
            stream.top = top
