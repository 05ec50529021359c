# One direction of SRTP + SRTCP (RFC 3711) for AES-CM/HMAC-SHA1 suites, as
# a libsrtp session does it: keys derived once, per-SSRC state (ROC and
# replay window) created on the first packet of each SSRC.
#
# protect_into/unprotect_into work in a caller's buffer and allocate
# nothing (HMAC-SHA1 runs over preallocated state: crypto/sha1_hmac);
# protect/unprotect do the same in a scratch buffer made once and return a
# copy (bytes), their one allocation.
from hushphone.compat import const
from hushphone.crypto.sha1_hmac import HmacSha1
from hushphone.rtp import RtpError, header_length
from hushphone.srtp import kdf
from hushphone.srtp.cipher import KeystreamBuffers, PacketCipher
from hushphone.srtp.errors import (
    SrtpAuthError,
    SrtpLocalError,
    SrtpMalformedError,
    SrtpReplayError,
    SrtpStreamLimitError,
)
from hushphone.srtp.fastpath import copy_into, same4, tag_differs
from hushphone.srtp.replay import ReplayWindow
from hushphone.srtp.suites import AUTH_KEY_LEN, SALT_LEN, SRTCP_TAG_LEN, SUITES

_RTP_HEADER = const(12)
_RTCP_HEADER = const(8)  # header word + sender SSRC stay in the clear
_SRTCP_INDEX_LEN = const(4)
_E_FLAG = const(0x80)
_MAX_SRTCP_INDEX = const(0x7FFFFFFF)
_MAX_VIEWS = const(16)


class _Stream(ReplayWindow):
    """What a context remembers per SSRC: its replay window, whose top is
    the highest index so far (so ROC and highest sequence number too)."""

    def __init__(self, ssrc_bytes, window):
        super().__init__(window)
        self.ssrc = ssrc_bytes


# The HMAC-SHA1 implementation: digest_into(data, n) -> 20-byte MAC. The
# benchmarks swap in crypto.sha1_hmac.HashlibHmacSha1 to compare.
MAC_SHA1 = HmacSha1


class _Direction:
    """Session keys and per-SSRC streams of SRTP or of SRTCP."""

    def __init__(self, master_key, master_salt, first_label, key_len, tag_len, buffers):
        # labels: first_label (cipher key), + 1 (auth key), + 2 (salt)
        key = kdf.derive(master_key, master_salt, first_label, key_len)
        auth = kdf.derive(master_key, master_salt, first_label + 1, AUTH_KEY_LEN)
        salt = kdf.derive(master_key, master_salt, first_label + 2, SALT_LEN)
        self.crypt = PacketCipher(key, salt, buffers).crypt
        self.digest_into = MAC_SHA1(auth).digest_into
        self.tag_len = tag_len
        self.streams = {}
        self.last = None  # the stream of the previous packet: the usual case


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
        buffers = KeystreamBuffers(max_packet)
        self._rtp = _Direction(master_key, master_salt, kdf.LABEL_RTP_ENCRYPTION, key_len, tag_len, buffers)
        # SRTCP's keys are derived on first use: a handset that sends no
        # RTCP saves an AES context and an HMAC per SRTP context.
        self._rtcp = None
        self._rtcp_args = (master_key, master_salt, key_len, buffers)
        # The packet under construction, and memoryviews of its first n bytes.
        self._scratch = bytearray(max_packet + _SRTCP_INDEX_LEN + SRTCP_TAG_LEN)
        self._scratch_view = memoryview(self._scratch)
        self._views = {}
        self._roc_bytes = bytearray(4)
        self._roc = 0
        self._tag = bytearray(SRTCP_TAG_LEN)  # a received tag, kept aside when unprotecting in place

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

    def _set_roc(self, roc):
        self._roc = roc
        b = self._roc_bytes
        b[0] = roc >> 24
        b[1] = (roc >> 16) & 0xFF
        b[2] = (roc >> 8) & 0xFF
        b[3] = roc & 0xFF

    def _stream(self, direction, packet, at, create, local):
        """The stream of the SSRC at packet[at:at+4]; None if unknown and
        not `create`d."""
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
            stream = direction.streams[key] = _Stream(key, self.window)
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
        if 12 <= n <= self.max_packet and (rtp[0] & 0xDF) == 0x80:
            hlen = _RTP_HEADER  # the usual header: no CSRC, no extension
        else:
            hlen = self._local_header_length(rtp, n)
        d = self._rtp
        tag_len = d.tag_len
        if len(out) < n + tag_len:
            raise SrtpLocalError("output buffer too small for the SRTP packet")
        stream = d.last
        if stream is None or not same4(rtp, 8, stream.ssrc):
            stream = self._stream(d, rtp, 8, True, True)
        seq = (rtp[2] << 8) | rtp[3]
        index = stream.top + 1
        if (index & 0xFFFF) != seq:  # not simply the next packet
            index = _estimate_index(stream.top, seq)
            if index < 0 or not stream.fresh(index):
                raise SrtpLocalError("RTP sequence number reused: keystream would repeat")
        roc = index >> 16
        if roc != self._roc:
            if index >> 48:  # 2**48 packets: a re-key is due
                raise SrtpLocalError("SRTP index exhausted: re-key needed")
            self._set_roc(roc)
        if out is not rtp:
            copy_into(out, 0, rtp, n)
        d.crypt(out, hlen, n - hlen, 8, roc >> 8, ((roc & 0xFF) << 16) | seq)
        copy_into(out, n, self._roc_bytes, 4)  # authenticated: packet || ROC
        copy_into(out, n, d.digest_into(out, n + 4), tag_len)
        if index == stream.top + 1:  # in order: ReplayWindow.accept, inlined
            stream.top = index
            stream.seen[index & stream.mask] = 1
        else:
            stream.accept(index)
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
        d = self._rtp
        tag_len = d.tag_len
        m = n - tag_len
        if m >= _RTP_HEADER and (srtp[0] & 0xDF) == 0x80 and m <= self.max_packet:
            hlen = _RTP_HEADER  # the usual header: no CSRC, no extension
        else:
            hlen = self._remote_header_length(srtp, m)
        if len(out) < n:
            raise SrtpLocalError("output buffer too small for the SRTP packet")
        stream = d.last
        if stream is None or not same4(srtp, 8, stream.ssrc):
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
        roc = index >> 16
        if roc != self._roc:
            self._set_roc(roc)
        if out is srtp:  # in place: the ROC goes where the tag is, keep it aside
            tag = self._tag
            for i in range(tag_len):
                tag[i] = srtp[m + i]
            tag_at = 0
        else:
            copy_into(out, 0, srtp, m)
            tag = srtp
            tag_at = m
        copy_into(out, m, self._roc_bytes, 4)  # authenticated: packet || ROC
        if tag_differs(tag, tag_at, d.digest_into(out, m + 4), tag_len):
            self._reject("auth_fail", SrtpAuthError, "SRTP authentication failed")
        d.crypt(out, hlen, m - hlen, 8, roc >> 8, ((roc & 0xFF) << 16) | seq)
        if stream is None:  # authentic: now the new SSRC gets its state
            stream = self._stream(d, srtp, 8, True, False)
        if index == stream.top + 1:  # in order: ReplayWindow.accept, inlined
            stream.top = index
            stream.seen[index & stream.mask] = 1
        else:
            stream.accept(index)
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
            master_key, master_salt, key_len, buffers = self._rtcp_args
            d = self._rtcp = _Direction(master_key, master_salt, kdf.LABEL_RTCP_ENCRYPTION, key_len, SRTCP_TAG_LEN,
                                        buffers)
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
        if encrypt:
            d.crypt(scratch, _RTCP_HEADER, n - _RTCP_HEADER, 4, index >> 24, index & 0xFFFFFF)
            scratch[n] = _E_FLAG | (index >> 24)
        else:
            scratch[n] = index >> 24
        scratch[n + 1] = (index >> 16) & 0xFF
        scratch[n + 2] = (index >> 8) & 0xFF
        scratch[n + 3] = index & 0xFF
        m = n + _SRTCP_INDEX_LEN
        copy_into(scratch, m, d.digest_into(scratch, m), SRTCP_TAG_LEN)
        stream.accept(index)
        return bytes(self._view(m + SRTCP_TAG_LEN))

    def unprotect_rtcp(self, srtcp):
        """The RTCP packet inside an SRTCP packet (encrypted, or E=0:
        authenticated only); SrtpError if not authentic, replayed, malformed."""
        n = len(srtcp)
        m = n - SRTCP_TAG_LEN  # end of the authenticated portion
        end = m - _SRTCP_INDEX_LEN  # end of the RTCP packet
        if end < _RTCP_HEADER or srtcp[0] >> 6 != 2 or end > self.max_packet:
            self._reject("malformed", SrtpMalformedError, "bad SRTCP packet")
        d = self._rtcp_direction()
        e_index = srtcp[end]
        index = ((e_index & 0x7F) << 24) | (srtcp[end + 1] << 16) | (srtcp[end + 2] << 8) | srtcp[end + 3]
        stream = self._stream(d, srtcp, 4, False, False)
        if stream is not None and not stream.fresh(index):
            self._reject("replay", SrtpReplayError, "SRTCP replay")
        copy_into(self._scratch, 0, srtcp, m)
        if tag_differs(srtcp, m, d.digest_into(self._scratch, m), SRTCP_TAG_LEN):
            self._reject("auth_fail", SrtpAuthError, "SRTCP authentication failed")
        if e_index & _E_FLAG:
            d.crypt(self._scratch, _RTCP_HEADER, end - _RTCP_HEADER, 4, index >> 24, index & 0xFFFFFF)
        if stream is None:  # authentic: now the new SSRC gets its state
            stream = self._stream(d, srtcp, 4, True, False)
        stream.accept(index)
        return bytes(self._view(end))


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
