# The media path of one call: a sans-IO session and its UDP socket helpers.
#
#   send:    PCM frame -> G.711 -> RTP -> SRTP protect -> packet
#   receive: packet -> SRTP unprotect -> RTP -> jitter buffer -> G.711 -> PCM
#
# MediaSession takes frames and packets in and gives packets and frames out;
# the time is passed in. Frames are HAL audio frames: 160 samples of 16-bit
# LE mono PCM at 8 kHz (20 ms). Every packet has the same size (no
# voice-activity detection: silence is sent like speech, so packet sizes and
# timing tell an observer nothing). SSRC, first sequence number and first
# timestamp are random per call.
#
# A peer's bad packet (forged, garbled, replayed, not RTP, wrong payload
# type) is dropped and counted; nothing a peer sends raises out of
# receive_packet(). Buffers are allocated once per call and a frame
# allocates nothing (tests/core/test_media_memory): the outgoing packet is
# built and protected in place (send_frame_view), a received one is
# unprotected into a buffer of the session, and G.711 and the jitter buffer
# work in place. Only telephone events (key presses) allocate.
from hushphone import g711, rtp
from hushphone.app.jitter import ACCEPTED, RESYNC, WAITING, Concealer, JitterBuffer
from hushphone.compat import const
from hushphone.srtp import SrtpAuthError, SrtpContext, SrtpError, SrtpReplayError
from hushphone.srtp.fastpath import same4
from hushphone.telephone_event import DtmfReceiver, TelephoneEventError

FRAME_SAMPLES = const(160)
FRAME_BYTES = const(320)
PTIME_MS = const(20)
_RTP_HEADER = const(12)
# The largest SRTP packet a call's contexts take (their buffers are sized
# by it, ~1.3 KB per context instead of ~5 KB at 1500): an RTP header
# with all 15 CSRCs (72) + one 20 ms G.711 frame (160) + a 10-byte tag
# fits; anything larger cannot be a frame we play and is dropped anyway.
MAX_MEDIA_PACKET = const(256)
_MAX_TAG = const(16)  # room after a packet for its SRTP tag (10) or the ROC (4)
_CODECS = {"PCMU": 0, "PCMA": 8}  # static payload types (RFC 3551)


class MediaError(Exception):
    """Local misuse of the media session (bad codec, bad frame size)."""


class MediaStats:
    """Counters of one call's media. lost/late/duplicate come from the
    jitter buffer; the dropped_* ones count packets refused before it."""

    def __init__(self):
        self.sent = 0
        self.received = 0  # authentic packets accepted into the jitter buffer
        self.dropped_auth = 0  # forged or corrupted (SRTP tag mismatch)
        self.dropped_replay = 0
        self.dropped_malformed = 0  # not SRTP/RTP, wrong size
        self.other_payload = 0  # authentic, but not our audio payload type
        self.dtmf_sent = 0  # RFC 4733 telephone-event packets
        self.dtmf_received = 0
        self.stun = 0  # first byte 0-3: STUN by RFC 7983 (ICE checks, keepalives), ignored
        self.zrtp = 0  # first byte 16-19: ZRTP by RFC 7983, ignored by a call keyed otherwise
        self.frames_out = 0
        self.concealed = 0
        self._jb = None  # the jitter buffer's JitterStats

    @property
    def lost(self):
        return self._jb.lost

    @property
    def late(self):
        return self._jb.late

    @property
    def duplicate(self):
        return self._jb.duplicate

    def as_dict(self):
        return {
            "sent": self.sent,
            "received": self.received,
            "lost": self.lost,
            "late": self.late,
            "duplicate": self.duplicate,
            "dropped_auth": self.dropped_auth,
            "dropped_replay": self.dropped_replay,
            "dropped_malformed": self.dropped_malformed,
            "other_payload": self.other_payload,
            "dtmf_sent": self.dtmf_sent,
            "dtmf_received": self.dtmf_received,
            "stun": self.stun,
            "zrtp": self.zrtp,
            "concealed": self.concealed,
        }


def _u32(b):
    return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]


def srtp_pair(suite, local_key, local_salt, remote_key, remote_salt):
    """The two SRTP contexts of an SDES call: ours protects with our key,
    the peer's key unprotects what it sends."""
    return (SrtpContext(suite, local_key, local_salt, max_packet=MAX_MEDIA_PACKET),
            SrtpContext(suite, remote_key, remote_salt, max_packet=MAX_MEDIA_PACKET))


class MediaSession:
    """One call's audio, sans-IO.

    send_frame(pcm) -> SRTP packet bytes to send (send_frame_view(pcm):
    the same in a buffer reused by the next frame, allocating nothing);
    receive_packet(data, now_ms) -> True if it was accepted;
    play_frame(now_ms) -> the PCM frame to play now (a buffer reused on the
    next call). Call send_frame and play_frame once per 20 ms."""

    def __init__(
        self,
        codec,
        tx_srtp,
        rx_srtp,
        random_bytes,
        payload_type=None,
        jitter_min_ms=40,
        jitter_max_ms=120,
        dtmf_payload_type=None,
    ):
        if codec not in _CODECS:
            raise MediaError("unsupported codec %r" % (codec,))
        self.codec = codec
        self.payload_type = _CODECS[codec] if payload_type is None else payload_type
        self._encode = g711.ulaw_encode_into if codec == "PCMU" else g711.alaw_encode_into
        # decoded from a jitter-buffer slot (FRAME_SAMPLES codes) into
        # self._out (FRAME_BYTES): buffers of this session, so no checks
        self._decode, self._table = g711.frame_decoder(codec)
        self._tx = tx_srtp
        self._rx = rx_srtp
        r = random_bytes(10)
        self.ssrc = _u32(r)
        self._seq = (r[4] << 8) | r[5]
        self._ts = _u32(r[6:10])
        self._first = True
        # The outgoing RTP packet: a fixed header rewritten in place and a
        # payload view G.711 encodes into; SRTP protects it in place (room
        # for the tag after it), sent through a view of its wire length.
        self._packet = bytearray(_RTP_HEADER + FRAME_SAMPLES + _MAX_TAG)
        self._wire_len = -1
        self._wire = None
        self._packet[0] = 0x80
        self._packet[8] = r[0]
        self._packet[9] = r[1]
        self._packet[10] = r[2]
        self._packet[11] = r[3]
        self._payload = memoryview(self._packet)[_RTP_HEADER : _RTP_HEADER + FRAME_SAMPLES]
        # A received packet, unprotected in place of what the peer sent.
        self._plain = bytearray(MAX_MEDIA_PACKET + _MAX_TAG)
        self._remote_ssrc = bytearray(4)
        self._out = bytearray(FRAME_BYTES)
        self._jitter_ms = (jitter_min_ms, jitter_max_ms)
        self._new_jitter()
        self._conceal = Concealer(FRAME_BYTES)
        self.stats = MediaStats()
        self.stats._jb = self._jitter.stats
        self.remote_ssrc = None
        self.keys = []
        self.enable_dtmf(dtmf_payload_type)

    def _new_jitter(self):
        self._jitter = JitterBuffer(FRAME_SAMPLES, PTIME_MS, self._jitter_ms[0], self._jitter_ms[1])
        return self._jitter

    @property
    def jitter(self):
        return self._jitter

    # -- sending -------------------------------------------------------

    def send_frame(self, pcm):
        """Encode, packetise and protect one 20 ms frame; returns the packet
        (bytes)."""
        return bytes(self.send_frame_view(pcm))

    def send_frame_view(self, pcm):
        """send_frame without allocating: the packet is a memoryview of a
        buffer of this session, valid until the next frame is sent."""
        if len(pcm) != FRAME_BYTES:
            raise MediaError("a frame is %d bytes of 16-bit PCM" % FRAME_BYTES)
        p = self._packet
        seq = self._seq
        ts = self._ts
        p[1] = self.payload_type | (0x80 if self._first else 0)  # marker: start of talkspurt
        p[2] = seq >> 8
        p[3] = seq & 0xFF
        p[4] = ts >> 24
        p[5] = (ts >> 16) & 0xFF
        p[6] = (ts >> 8) & 0xFF
        p[7] = ts & 0xFF
        self._encode(pcm, self._payload)
        n = self._tx.protect_into(p, p, _RTP_HEADER + FRAME_SAMPLES)
        if n != self._wire_len:  # made once: every packet has the same size
            self._wire_len = n
            self._wire = memoryview(p)[:n]
        self._first = False
        self._seq = (seq + 1) & 0xFFFF
        self._ts = (ts + FRAME_SAMPLES) & 0xFFFFFFFF
        self.stats.sent += 1
        return self._wire

    def enable_dtmf(self, payload_type):
        """RFC 4733 telephone events (DTMF) on their negotiated payload type
        (None: off). Key presses received wait in `keys` for the app."""
        self.dtmf_payload_type = payload_type
        self._dtmf = DtmfReceiver() if payload_type is not None else None

    @property
    def timestamp(self):
        """The RTP timestamp the next audio frame will carry (a key press
        starting now is stamped with it)."""
        return self._ts

    def send_event(self, payload, marker, timestamp):
        """Protect one RFC 4733 telephone-event packet (4-byte `payload`)
        with our SSRC and the next sequence number; `timestamp` is the key
        press's. It takes the place of this tick's audio frame (the audio
        clock moves on by one frame), so the packet rate stays the same.
        Returns the packet."""
        if self.dtmf_payload_type is None:
            raise MediaError("no telephone-event payload type was negotiated")
        p = bytearray(_RTP_HEADER + len(payload))
        p[0] = 0x80
        p[1] = self.dtmf_payload_type | (0x80 if marker else 0)
        seq = self._seq
        p[2] = seq >> 8
        p[3] = seq & 0xFF
        p[4] = (timestamp >> 24) & 0xFF
        p[5] = (timestamp >> 16) & 0xFF
        p[6] = (timestamp >> 8) & 0xFF
        p[7] = timestamp & 0xFF
        p[8:12] = self._packet[8:12]
        p[_RTP_HEADER:] = payload
        self._seq = (seq + 1) & 0xFFFF
        self._ts = (self._ts + FRAME_SAMPLES) & 0xFFFFFFFF
        self.stats.dtmf_sent += 1
        return self._tx.protect(p)

    def _receive_event(self, plain, start, end):
        try:
            press = self._dtmf.receive(rtp.timestamp(plain), plain[start:end], bool(plain[1] & 0x80))
        except TelephoneEventError:
            self.stats.dropped_malformed += 1
            return
        self.stats.dtmf_received += 1
        if press is not None and len(self.keys) < 32:
            self.keys.append(press.key)

    # -- receiving -----------------------------------------------------

    def receive_packet(self, data, now_ms):
        """Take one packet from the network. Returns True when it went into
        the jitter buffer; anything else is dropped and counted."""
        stats = self.stats
        if len(data) and data[0] < 4:
            # RFC 7983 demultiplexing: a first byte of 0-3 is STUN (a peer's
            # ICE connectivity check or keepalive), not media.
            stats.stun += 1
            return False
        if len(data) and 16 <= data[0] <= 19:
            # ZRTP (RFC 7983): a peer that saw our a=zrtp-hash may try ZRTP
            # even though it answered with SDES keys; not media, not forged.
            stats.zrtp += 1
            return False
        plain = self._plain
        if len(data) > len(plain):
            stats.dropped_malformed += 1  # larger than any frame we play
            return False
        try:
            end = self._rx.unprotect_into(data, plain)
        except SrtpAuthError:
            stats.dropped_auth += 1
            return False
        except SrtpReplayError:
            stats.dropped_replay += 1
            return False
        except SrtpError:
            stats.dropped_malformed += 1
            return False
        try:
            start = rtp.header_length(plain, end)
        except rtp.RtpError:
            stats.dropped_malformed += 1
            return False
        if plain[0] & 0x20:  # padding: the last byte counts it
            end -= plain[end - 1]
        if (plain[1] & 0x7F) != self.payload_type:
            if self._dtmf is not None and (plain[1] & 0x7F) == self.dtmf_payload_type:
                self._receive_event(plain, start, end)
            else:
                stats.other_payload += 1  # not audio
            return False
        if end - start != FRAME_SAMPLES:
            stats.dropped_malformed += 1  # only 20 ms frames are played
            return False
        jb = self._jitter
        if self.remote_ssrc is None or not same4(plain, 8, self._remote_ssrc):
            # An authentic new stream from the peer (first packet, or it
            # restarted its sender): start its playout afresh.
            if self.remote_ssrc is not None:
                jb = self._new_jitter()
                jb.stats = self.stats._jb  # counters run on for the call
            self.remote_ssrc = rtp.ssrc(plain)
            r = self._remote_ssrc
            for i in range(4):
                r[i] = plain[8 + i]
        # The timestamp's low 24 bits: a small int on every port (the
        # jitter buffer works modulo 2**24).
        ts24 = (plain[5] << 16) | (plain[6] << 8) | plain[7]
        result = jb.put(rtp.sequence_number(plain), ts24, plain, now_ms, start, FRAME_SAMPLES)
        if result == ACCEPTED or result == RESYNC:
            stats.received += 1
            return True
        return False

    # -- playing -------------------------------------------------------

    def play_frame(self, now_ms):
        """The frame to play now: decoded audio, a concealment of a missing
        packet, or silence while the buffer fills."""
        payload = self._jitter.pop(now_ms)
        out = self._out
        if payload is not None:
            self._decode(payload, out, FRAME_SAMPLES, self._table)
            self._conceal.good(out)
        else:
            if self._jitter.last_state != WAITING:  # a gap, not the start
                self.stats.concealed += 1
            self._conceal.conceal_into(out)
        self.stats.frames_out += 1
        return out


# --- sockets (the drivers are app/callmedia.py; tests/core/media_drivers.py) ---

def sockaddr(host, port):
    """The address form this runtime's sockets take (raw sockaddr bytes on
    the MicroPython unix port, a tuple elsewhere)."""
    import socket

    return socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0][-1]


def bind_random_port(host, random_below, first=16384, last=32767, tries=32):
    """A non-blocking UDP socket on a random even port in [first, last]:
    a fresh port per call, chosen by us (the unix port has no getsockname
    to learn what port 0 picked). Returns (socket, port)."""
    import socket

    for _ in range(tries):
        port = first + 2 * random_below((last - first + 1) // 2)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(sockaddr(host, port))
        except OSError:
            s.close()
            continue
        s.setblocking(False)
        return s, port
    raise MediaError("no free UDP port in %d-%d" % (first, last))
