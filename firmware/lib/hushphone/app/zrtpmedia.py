# One call's media keyed by ZRTP: ZRTP and SRTP share the RTP port, told
# apart by packets.is_zrtp (RFC 6189 §5). No audio flows until the key
# agreement is done (no plaintext fallback); then a MediaSession runs with
# the SRTP contexts ZRTP produced. ZrtpMediaSession is sans-IO; the
# phone's 20 ms loop (app/callmedia.py) carries its datagrams. It lives in
# app/ as it joins the ZRTP core to the app's MediaSession (zrtp/ never
# imports app/).
import gc

from hushphone.app.media import FRAME_BYTES, MAX_MEDIA_PACKET, MediaSession
from hushphone.srtp import SrtpError
from hushphone.zrtp import events
from hushphone.zrtp.packets import is_zrtp


class ZrtpMediaSession:
    """A MediaSession behind a ZrtpEngine.

    receive_datagram(data, now) takes anything that arrives on the port;
    poll(now) runs the ZRTP timers; datagrams_to_send() gives the ZRTP
    packets to send; send_frame(pcm) returns an SRTP packet, or None while
    not secure; play_frame(now) returns audio (silence while not secure).
    ZRTP events (secure, cache mismatch, failed...) queue up for
    next_event(); `secure` holds the ZrtpSecure event once there is one."""

    def __init__(self, engine, codec, random_bytes, payload_type=None):
        self.engine = engine
        self.codec = codec
        self.payload_type = payload_type
        self._random = random_bytes
        self.media = None
        self.secure = None
        self.failed = None
        self.dropped_before_secure = 0
        self._events = []
        self._pending_rx = None  # initiator: the responder's SRTP before Conf2ACK
        self._silence = bytearray(FRAME_BYTES)

    def start(self, now):
        self.engine.start(now)
        self._collect()

    def receive_datagram(self, data, now):
        if is_zrtp(data):
            self.engine.receive(data, now)
            self._collect()
            return False
        if self.media is not None:
            return self.media.receive_packet(data, now)
        # The initiator waits for Conf2ACK, but the responder's first
        # authentic SRTP packet counts as one (RFC 6189 §4.6).
        pending = self.engine.pending_secure()
        if pending is not None:
            if self._pending_rx is None:
                self._pending_rx = pending.rx_context(MAX_MEDIA_PACKET)
            try:
                self._pending_rx.unprotect(data)
            except SrtpError:  # not authentic (or not SRTP at all)
                self.dropped_before_secure += 1
                return False
            self.engine.srtp_received(now)
            self._collect()
            if self.media is not None:
                return self.media.receive_packet(data, now)
        self.dropped_before_secure += 1
        return False

    def poll(self, now):
        t = self.engine.get_timer()
        if t is not None and now >= t:
            self.engine.handle_timer(now)
            self._collect()

    def datagrams_to_send(self):
        return self.engine.datagrams_to_send()

    def next_event(self):
        if self._events:
            return self._events.pop(0)
        return None

    def send_frame(self, pcm):
        if self.media is None:
            return None
        return self.media.send_frame(pcm)

    def play_frame(self, now):
        if self.media is None:
            return self._silence
        return self.media.play_frame(now)

    def _collect(self):
        while True:
            e = self.engine.next_event()
            if e is None:
                return
            if isinstance(e, events.ZrtpSecure) and self.media is None:
                self.secure = e
                # The key agreement's garbage (big integers, messages) goes
                # before the call's long-lived SRTP contexts and jitter
                # buffer are made: placed in a clean heap, they leave no
                # holes behind that fragment it for the rest of the call.
                gc.collect()
                tx, rx = e.srtp_contexts(MAX_MEDIA_PACKET)
                self.media = MediaSession(self.codec, tx, rx, self._random, payload_type=self.payload_type)
                self._pending_rx = None
            elif isinstance(e, events.ZrtpFailed):
                self.failed = e
            self._events.append(e)
