# One call's media on the handset: its own UDP port (random), SDP offer or
# answer, and the media session that carries the audio: SRTP keyed by SDES,
# SRTP keyed in-band by ZRTP (nothing flows before ZRTP is secure), or plain
# RTP where the configuration explicitly allows it. Key presses go out as
# RFC 4733 telephone events in place of audio frames, so the packet rate
# never changes. The phone's 20 ms loop calls drain(), send() and the
# session's play_frame().
import gc
import select

from hushphone.app.media import MAX_MEDIA_PACKET, MediaSession, bind_random_port, sockaddr, srtp_pair
from hushphone.app.security import ZRTP
from hushphone.compat import IS_MICROPYTHON, const
from hushphone.crypto.random import random_below
from hushphone.srtp.fastpath import copy_into
from hushphone.srtp.suites import SUITES
from hushphone.telephone_event import key_press_packets

DTMF_MS = const(100)  # a key press sent as 100 ms of telephone-event
# What one read asks for (and MicroPython allocates in full before the
# datagram shrinks it, so it must be found in one piece in a busy heap):
# until media flows, a ZRTP DHPart with a DH-3072 value (484 bytes) is the
# largest thing a call receives (we offer nothing bigger; a signed Confirm,
# which no known peer sends, would be cut); then only SRTP packets of at
# most MAX_MEDIA_PACKET + tag (and short ZRTP messages). Longer datagrams
# are cut and then dropped as malformed. (socket.readinto is no way out:
# on MicroPython it reads until the buffer is full, joining queued
# datagrams.)
_MAX_DATAGRAM = const(512)
_MAX_MEDIA_DATAGRAM = MAX_MEDIA_PACKET + 16
_MAX_READS = const(32)  # per call per tick: bounded work under a flood
_NO_EVENTS = ()


def _can_send(direction):
    return direction in ("sendrecv", "sendonly")


class DtmfSender:
    """The RFC 4733 packets of queued key presses, one per 20 ms tick
    (interval = one frame), each press stamped with the audio timestamp at
    which it started."""

    def __init__(self):
        self._keys = []
        self._packets = None
        self._start_ts = 0

    def press(self, key):
        if len(self._keys) < 32:
            self._keys.append(key)

    @property
    def busy(self):
        return self._packets is not None or bool(self._keys)

    def next_packet(self, session):
        """The packet to send this tick (protected), or None."""
        if self._packets is None:
            if not self._keys:
                return None
            key = self._keys.pop(0)
            self._packets = list(key_press_packets(key, DTMF_MS * 8, interval=160))
            self._start_ts = session.timestamp
        p = self._packets.pop(0)
        packet = session.send_event(p.payload, p.marker, (self._start_ts + p.timestamp_offset) & 0xFFFFFFFF)
        if not self._packets:
            self._packets = None
        return packet


class CallMedia:
    """One call's media: its UDP port, SDP, media session and protection.
    The session is replaced when a re-INVITE brings new keys."""

    def __init__(self, host, random_bytes, zrtp_engine=None):
        self.sock, self.port = bind_random_port(host, random_below)
        # Ask before reading: a read that finds nothing allocates all the same.
        self._poll = select.poll()
        self._poll.register(self.sock, select.POLLIN)
        self._closed = False
        self.host = host
        self.random_bytes = random_bytes
        self.engine = zrtp_engine  # offered ZRTP (its Hello hash is in our SDP)
        self.zsession = None  # the ZRTP-keyed media, once ZRTP was chosen
        self.offer = None  # our last offer (outgoing call, our re-INVITE)
        self.plan = None  # the call's offers (app/offers.py): ZRTP first, SDES only as a fallback
        self.relay = None  # a TURN relay (turn/callrelay.py): the socket then talks to the relay only
        self.pending_answer = None  # (answer bytes, Negotiated) for a ringing call
        self.session = None
        self.neg = None
        self.security = None
        self.remote = None
        self.direction = "inactive"
        self.dtmf = DtmfSender()
        self.keys_received = []
        self.old_stats = []

    def advertised(self):
        """(address, port) for our SDP: the relayed address when a TURN
        relay carries the call, else our own."""
        if self.relay is not None:
            return self.relay.relayed
        return self.host, self.port

    def heard_zrtp(self):
        """Whether any ZRTP message came from the peer."""
        return self.engine is not None and self.engine.stats["received"] > 0

    def hello_hash(self):
        return self.engine.hello_hash() if self.engine is not None else None

    def start(self, neg, security, now):
        """Key and start the media for a negotiated stream. A ZRTP call
        keeps its key agreement (and SAS) across re-INVITEs."""
        # The setup's garbage goes first, so the call's long-lived state
        # (sessions, jitter buffer) is placed low in a clean heap rather
        # than above holes that would fragment it for the whole call.
        gc.collect()
        if self.relay is not None:
            self.relay.peer(neg.remote_addr, neg.remote_port, now)  # the peer is reached through the relay
        else:
            self.remote = sockaddr(neg.remote_addr, neg.remote_port)
        self.direction = neg.direction
        if security.kind == ZRTP:
            if self.zsession is None:
                from hushphone.app.zrtpmedia import ZrtpMediaSession

                if neg.zrtp_hash is not None:  # else (no a=zrtp-hash) the Hello is not bound to SIP
                    self.engine.set_peer_hello_hash("%s %s" % neg.zrtp_hash)
                self.zsession = ZrtpMediaSession(self.engine, neg.codec, self.random_bytes,
                                                 payload_type=neg.payload_type)
                self.zsession.start(now)
                self.security = security
            self.neg = neg
            return
        self.zsession = None
        if self.session is not None:
            self.old_stats.append(self.session.stats.as_dict())
        self.neg = neg
        self.security = security
        if neg.crypto_suite is not None:
            key_len = SUITES[neg.crypto_suite][0]
            tx, rx = srtp_pair(neg.crypto_suite, neg.local_key[:key_len], neg.local_key[key_len:],
                               neg.remote_key[:key_len], neg.remote_key[key_len:])
        else:
            tx = rx = _Plain()  # allowed only by allow_insecure_media (the policy said so)
        self.session = MediaSession(neg.codec, tx, rx, self.random_bytes, payload_type=neg.payload_type,
                                    dtmf_payload_type=neg.dtmf_payload_type)

    def drain(self, now):
        """Take what arrived; returns the ZRTP events that happened."""
        zs = self.zsession
        session = self.session
        if self._closed:
            return _NO_EVENTS  # released after a failure: nothing more to do
        size = _MAX_DATAGRAM if session is None else _MAX_MEDIA_DATAGRAM
        if self.relay is not None:
            size += 64  # a Data indication's header and attributes around the packet
        for _ in range(_MAX_READS):
            if not self._readable():
                break
            try:
                data = self.sock.recv(size)
            except OSError:
                break  # nothing after all (EAGAIN), or an ICMP error
            if self.relay is not None:
                data = self.relay.receive(data, now)  # what the peer sent through the relay, if anything
                if data is not None:
                    self._deliver(zs, session, data, now)
            else:
                self._deliver(zs, session, data, now)
        if self.relay is not None:
            for payload in self.relay.poll(now):  # TURN over TLS: from its stream
                self._deliver(zs, session, payload, now)
            self.relay.tick(now)
        found = _NO_EVENTS  # a list only when something happened: a tick makes none
        if zs is not None:
            zs.poll(now)
            for d in zs.datagrams_to_send():
                self._sendto(d)
            while True:
                e = zs.next_event()
                if e is None:
                    break
                if found is _NO_EVENTS:
                    found = []
                found.append(e)
            if zs.media is not None and self.session is not zs.media:
                self.session = zs.media  # secure: audio may flow now, never before
                self.session.enable_dtmf(self.neg.dtmf_payload_type)
                session = self.session
        if session is not None and session.keys:
            self.keys_received += session.keys
            del session.keys[:]
        return found

    def _deliver(self, zs, session, data, now):
        if zs is not None:
            zs.receive_datagram(data, now)  # ZRTP or SRTP on the same port
        elif session is not None:
            session.receive_packet(data, now)

    def _readable(self):
        if IS_MICROPYTHON:
            for _ in self._poll.ipoll(0):  # no list made when nothing waits
                return True
            return False
        return bool(self._poll.poll(0))

    def send(self, frame):
        if self.session is None or not _can_send(self.direction):
            return
        packet = None
        if self.dtmf.busy and self.session.dtmf_payload_type is not None:
            packet = self.dtmf.next_packet(self.session)  # instead of this frame's audio (RFC 4733)
        if packet is None:
            packet = self.session.send_frame_view(frame)  # allocates nothing
        self._sendto(packet)

    def _sendto(self, packet):
        if self.relay is not None:
            self.relay.send(packet)
            return
        try:
            self.sock.sendto(packet, self.remote)
        except OSError:
            pass  # e.g. ICMP unreachable reported late: UDP carries on

    def stats(self):
        if self.session is None and not self.old_stats:
            return None
        parts = self.old_stats if self.session is None else self.old_stats + [self.session.stats.as_dict()]
        total = dict(parts[-1])
        for old in parts[:-1]:  # counters over the whole call
            for k in total:
                total[k] += old.get(k, 0)
        return total

    def close(self):
        if self.relay is not None and not self._closed:
            self.relay.close(0)  # free the allocation at once (Refresh, lifetime 0)
        self._closed = True
        try:
            self.sock.close()
        except OSError:
            pass

    def release(self):
        """After a failure in this call: close the socket and drop the
        session, ZRTP state and buffers at once so their memory is free
        for ending the call (the stats of what was carried stay)."""
        self.close()
        if self.session is not None:
            self.old_stats.append(self.session.stats.as_dict())
        self.session = self.zsession = self.engine = None
        self.offer = self.pending_answer = None


class _Plain:
    """No SRTP: only for calls the configuration explicitly allows to be
    unencrypted (shown NOT ENCRYPTED)."""

    def protect(self, packet):
        return bytes(packet)

    def unprotect(self, packet):
        return bytes(packet)

    def protect_into(self, packet, out, n=-1):
        if n < 0:
            n = len(packet)
        if out is not packet:
            copy_into(out, 0, packet, n)
        return n

    def unprotect_into(self, packet, out, n=-1):
        return self.protect_into(packet, out, n)
