# One direction of SRTP + SRTCP (RFC 3711) for AES-CM/HMAC-SHA1 suites, as
# a libsrtp session does it: keys derived once, per-SSRC state (ROC and
# replay window) created on the first packet of each SSRC.
#
# protect_into/unprotect_into work in a caller's buffer and allocate
# nothing (HMAC-SHA1 runs over preallocated state: crypto/sha1_hmac);
# protect/unprotect do the same in a scratch buffer made once and return a
# copy (bytes), their one allocation.
#
# The usual packet (the next of the stream of the previous packet, plain
# 12-byte header) takes the fast path: one viper call (srtp/fastpath),
# with the stream's highest index kept in the direction's packet state
# (srtp/cipher). Every other packet takes the slow path: RFC 3711 in
# Python, on the stream objects, then that one call set up for it.
from hushphone.compat import const
from hushphone.crypto.sha1_hmac import HmacSha1
from hushphone.rtp import RtpError, header_length
from hushphone.srtp import kdf
from hushphone.srtp.cipher import Direction, Stream
from hushphone.srtp.errors import (
    SrtpAuthError,
    SrtpLocalError,
    SrtpMalformedError,
    SrtpReplayError,
    SrtpStreamLimitError,
)
from hushphone.srtp.fastpath import copy_into, packet, same4
from hushphone.srtp.suites import SALT_LEN, SRTCP_TAG_LEN, SUITES

_RTP_HEADER = const(12)
_RTCP_HEADER = const(8)  # header word + sender SSRC stay in the clear
_SRTCP_INDEX_LEN = const(4)
_E_FLAG = const(0x80)
_MAX_SRTCP_INDEX = const(0x7FFFFFFF)
_MAX_VIEWS = const(16)


# The HMAC-SHA1 implementation: digest_into(data, n) -> 20-byte MAC. The
# benchmarks swap in one through hashlib to compare. With the firmware's
# (viper, on MicroPython) the per-packet path calls its function directly.
MAC_SHA1 = HmacSha1


class SrtpContext:
    """SRTP and SRTCP for one direction: a sender context protects, a
    receiver context unprotects (as in libsrtp, use one per direction).

    suite: one of SUITES; master_key: 16 or 32 bytes as the suite says;
    master_salt: 14 bytes. window: replay window in packets (power of two,
    64..32768); max_streams: SSRCs tracked per context; max_packet: largest
    RTP/RTCP packet, which sizes the buffers made once here.

    Local misuse raises SrtpLocalError: unknown suite, wrong key or salt
    size, a malformed packet handed to protect(), a reused sequence number,
    too many SSRCs sent, an exhausted index. A peer's bad packet makes
    unprotect()/unprotect_rtcp() raise SrtpAuthError, SrtpReplayError,
    SrtpMalformedError or SrtpStreamLimitError and is counted in `stats`.
    """

    def __init__(self, suite, master_key, master_salt, window=128, max_streams=16, max_packet=1500):
        params = SUITES.get(suite)
        if params is None:
            raise SrtpLocalError("unknown SRTP suite %r" % (suite,))
        key_len, tag_len = params
        if len(master_key) != key_len:
            raise SrtpLocalError("%s needs a %d-byte master key" % (suite, key_len))
        if len(master_salt) != SALT_LEN:
            raise SrtpLocalError("the master salt must be 14 bytes")
        if window < 64 or window > 32768 or window & (window - 1):
            raise SrtpLocalError("replay window must be a power of two from 64 to 32768")
        if max_streams < 1 or max_packet < 64:
            raise SrtpLocalError("bad stream or packet limit")
        self.suite = suite
        self.window = window
        self.max_streams = max_streams
        self.max_packet = max_packet
        self.stats = {"auth_fail": 0, "replay": 0, "malformed": 0, "ssrc_limit": 0}
        master_key = bytes(master_key)
        master_salt = bytes(master_salt)
        self._rtp = Direction(master_key, master_salt, kdf.LABEL_RTP_ENCRYPTION, key_len, tag_len, max_packet, MAC_SHA1)
        # SRTCP's keys are derived on first use: a handset that sends no
        # RTCP saves an AES context, an HMAC and a packet state per context.
        self._rtcp = None
        self._rtcp_args = (master_key, master_salt, key_len)
        # The packet under construction, and memoryviews of its first n bytes.
        self._scratch = bytearray(max_packet + _SRTCP_INDEX_LEN + SRTCP_TAG_LEN)
        self._scratch_view = memoryview(self._scratch)
        self._views = {}

    def __repr__(self):
        return "<SrtpContext %s>" % self.suite  # never the keys

    # -- helpers --------------------------------------------------------

    def _view(self, n):
        """scratch[:n] as a memoryview, made once per packet length."""
        views = self._views
        view = views.get(n)
        if view is None:
            if len(views) >= _MAX_VIEWS:
                views.clear()
            view = views[n] = self._scratch_view[:n]
        return view

    def _stream(self, direction, packet, at, create, local):
        """The stream of the SSRC at packet[at:at+4]; None if unknown and
        not `create`d. (The slow path's: the fast path's stream, if any, is
        folded back first.)"""
        direction.fold()
        stream = direction.last
        if stream is not None and same4(packet, at, stream.ssrc):
            return stream
        key = bytes(packet[at : at + 4])
        stream = direction.streams.get(key)
        if stream is None and create:
            if len(direction.streams) >= self.max_streams:
                if local:
                    raise SrtpLocalError("too many SSRCs on one SRTP context")
                self.stats["ssrc_limit"] += 1
                raise SrtpStreamLimitError("too many SSRCs on one SRTP context")
            stream = direction.streams[key] = Stream(key, self.window)
        if stream is not None:
            direction.last = stream
        return stream

    def _reject(self, counter, error, message):
        self.stats[counter] += 1
        raise error(message)

    # -- SRTP -----------------------------------------------------------

    def protect(self, rtp):
        """The SRTP packet for an RTP packet (bytes)."""
        return bytes(self._view(self.protect_into(rtp, self._scratch)))

    def protect_into(self, rtp, out, n=-1):
        """Protect the RTP packet rtp[:n] (all of rtp by default) into
        `out`, which may be rtp itself (in place); returns the length of
        the SRTP packet written to out[:n + tag]. out must have room for
        n + 10 bytes (n + 4 with a 32-bit tag). Allocates nothing."""
        if n < 0:
            n = len(rtp)
        elif n > len(rtp):  # (the viper code would read past its end)
            raise SrtpLocalError("n is beyond the end of the RTP packet")
        length = packet(self._rtp, rtp, out, n)
        if length < 0:
            return self._protect_slow(self._rtp, rtp, out, n)
        return length

    def _protect_slow(self, d, rtp, out, n):
        if 12 <= n <= self.max_packet and (rtp[0] & 0xDF) == 0x80:
            hlen = _RTP_HEADER  # the usual header: no CSRC, no extension
        else:
            hlen = self._local_header_length(rtp, n)
        tag_len = d.tag_len
        if len(out) < n + tag_len:
            raise SrtpLocalError("output buffer too small for the SRTP packet")
        stream = self._stream(d, rtp, 8, True, True)
        seq = (rtp[2] << 8) | rtp[3]
        index = stream.top + 1
        if (index & 0xFFFF) != seq:  # not simply the next packet
            index = _estimate_index(stream.top, seq)
            if index < 0 or not stream.fresh(index):
                raise SrtpLocalError("RTP sequence number reused: keystream would repeat")
        if index >> 48:  # 2**48 packets: a re-key is due
            raise SrtpLocalError("SRTP index exhausted: re-key needed")
        d.force(hlen, n - hlen, 8, index)
        packet(d, rtp, out, n)
        stream.accept(index)
        d.mirror(stream)
        return n + tag_len

    def unprotect(self, srtp):
        """The RTP packet inside an SRTP packet; SrtpError if it is not
        authentic, a replay, or malformed."""
        return bytes(self._view(self.unprotect_into(srtp, self._scratch)))

    def unprotect_into(self, srtp, out, n=-1):
        """Check and decrypt the SRTP packet srtp[:n] (all of srtp by
        default) into `out`, which may be srtp itself (in place; not
        another view of srtp's memory); returns
        the length of the RTP packet in out. out must hold n bytes.
        SrtpError (counted) if it is not authentic, a replay, or malformed;
        out's contents are then undefined. Allocates nothing."""
        if n < 0:
            n = len(srtp)
        elif n > len(srtp):  # (the viper code would read past its end)
            raise SrtpLocalError("n is beyond the end of the SRTP packet")
        m = packet(self._rtp, srtp, out, -n)
        if m < 0:
            if m == -1:  # not the next packet of the last stream, or unusual
                return self._unprotect_slow(self._rtp, srtp, out, n)
            self._reject("auth_fail", SrtpAuthError, "SRTP authentication failed")
        return m

    def _unprotect_slow(self, d, srtp, out, n):
        tag_len = d.tag_len
        m = n - tag_len
        if m >= _RTP_HEADER and (srtp[0] & 0xDF) == 0x80 and m <= self.max_packet:
            hlen = _RTP_HEADER  # the usual header: no CSRC, no extension
        else:
            hlen = self._remote_header_length(srtp, m)
        if len(out) < n:
            raise SrtpLocalError("output buffer too small for the SRTP packet")
        stream = self._stream(d, srtp, 8, False, False)
        seq = (srtp[2] << 8) | srtp[3]
        if stream is None:
            index = seq  # a new SSRC starts with ROC 0 (RFC 3711 §3.3.1)
        else:
            index = stream.top + 1
            if (index & 0xFFFF) != seq:  # not simply the next packet
                index = _estimate_index(stream.top, seq)
                if index < 0 or not stream.fresh(index):
                    self._reject("replay", SrtpReplayError, "SRTP replay")
        d.force(hlen, m - hlen, 8, index)
        if packet(d, srtp, out, -n) < 0:
            self._reject("auth_fail", SrtpAuthError, "SRTP authentication failed")
        if stream is None:  # authentic: now the new SSRC gets its state
            stream = self._stream(d, srtp, 8, True, False)
        stream.accept(index)
        d.mirror(stream)
        return m

    def _local_header_length(self, rtp, n):
        if n > self.max_packet:
            raise SrtpLocalError("RTP packet longer than max_packet")
        try:
            return header_length(rtp, n)
        except RtpError as e:
            raise SrtpLocalError("cannot protect: %s" % e)

    def _remote_header_length(self, srtp, m):
        if m > self.max_packet:
            self._reject("malformed", SrtpMalformedError, "SRTP packet longer than max_packet")
        try:
            return header_length(srtp, m)
        except RtpError as e:
            self._reject("malformed", SrtpMalformedError, "bad SRTP packet: %s" % e)

    # -- SRTCP ----------------------------------------------------------

    def _rtcp_direction(self):
        d = self._rtcp
        if d is None:
            master_key, master_salt, key_len = self._rtcp_args
            d = self._rtcp = Direction(master_key, master_salt, kdf.LABEL_RTCP_ENCRYPTION, key_len, SRTCP_TAG_LEN,
                                       self.max_packet, MAC_SHA1)
            self._rtcp_args = None
        return d

    def protect_rtcp(self, rtcp, encrypt=True):
        """The SRTCP packet for an RTCP (compound) packet. encrypt=False
        sends it authenticated only (E flag clear)."""
        n = len(rtcp)
        if n < _RTCP_HEADER or rtcp[0] >> 6 != 2:
            raise SrtpLocalError("cannot protect: not an RTCP packet")
        if n > self.max_packet:
            raise SrtpLocalError("RTCP packet longer than max_packet")
        d = self._rtcp_direction()
        stream = self._stream(d, rtcp, 4, True, True)
        index = stream.top + 1  # the SRTCP index starts at 0 (RFC 3711 §3.4)
        if index > _MAX_SRTCP_INDEX:
            raise SrtpLocalError("SRTCP index exhausted: re-key needed")
        scratch = self._scratch
        copy_into(scratch, 0, rtcp, n)
        # the E flag and the index: authenticated, before the tag
        scratch[n] = (_E_FLAG if encrypt else 0) | (index >> 24)
        scratch[n + 1] = (index >> 16) & 0xFF
        scratch[n + 2] = (index >> 8) & 0xFF
        scratch[n + 3] = index & 0xFF
        # (SRTCP never takes the fast path: its state mirrors no stream)
        d.force(_RTCP_HEADER, n - _RTCP_HEADER if encrypt else 0, 4, index)
        length = packet(d, scratch, scratch, n)  # in place
        stream.accept(index)
        return bytes(self._view(length))

    def unprotect_rtcp(self, srtcp):
        """The RTCP packet inside an SRTCP packet (encrypted, or E=0:
        authenticated only); SrtpError if not authentic, replayed, malformed."""
        n = len(srtcp)
        m = n - SRTCP_TAG_LEN  # end of the authenticated portion
        rtcp_end = m - _SRTCP_INDEX_LEN  # end of the RTCP packet
        if rtcp_end < _RTCP_HEADER or srtcp[0] >> 6 != 2 or rtcp_end > self.max_packet:
            self._reject("malformed", SrtpMalformedError, "bad SRTCP packet")
        d = self._rtcp_direction()
        e_index = srtcp[rtcp_end]
        index = ((e_index & 0x7F) << 24) | (srtcp[rtcp_end + 1] << 16) | (srtcp[rtcp_end + 2] << 8) | srtcp[rtcp_end + 3]
        stream = self._stream(d, srtcp, 4, False, False)
        if stream is not None and not stream.fresh(index):
            self._reject("replay", SrtpReplayError, "SRTCP replay")
        d.force(_RTCP_HEADER, rtcp_end - _RTCP_HEADER if e_index & _E_FLAG else 0, 4, index)
        if packet(d, srtcp, self._scratch, -n) < 0:
            self._reject("auth_fail", SrtpAuthError, "SRTCP authentication failed")
        if stream is None:  # authentic: now the new SSRC gets its state
            stream = self._stream(d, srtcp, 4, True, False)
        stream.accept(index)
        return bytes(self._view(rtcp_end))


def _estimate_index(top, seq):
    """The 48-bit SRTP index of a packet with sequence number `seq`, given
    the highest index so far (RFC 3711 Appendix A); -1 if that index would
    lie before the stream began."""
    if top < 0:
        return seq  # first packet of the stream: ROC 0
    roc = top >> 16
    s_l = top & 0xFFFF
    if s_l < 0x8000:
        if seq - s_l > 0x8000:
            roc -= 1
    elif s_l - 0x8000 > seq:
        roc += 1
    if roc < 0:
        return -1
    return (roc << 16) | seq
