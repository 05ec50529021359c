# Asyncio UDP drivers for a media session, used by tests only (the handset's
# own loop is app/phone.py with app/callmedia.py): UdpMediaDriver runs an
# app.media.MediaSession over a UDP socket on a 20 ms clock; ZrtpUdpDriver
# runs an app.zrtpmedia.ZrtpMediaSession, ZRTP packets on the same port.
# Runs on both runtimes (tests/core is on MICROPYPATH).
from hushphone.app.idlegc import IdleCollector
from hushphone.app.media import FRAME_BYTES, PTIME_MS, sockaddr
from hushphone.compat import const, sleep_ms, ticks_diff, ticks_us


def _ms_since(start_us):
    # ticks_diff from the start of the call stays right for days on
    # MicroPython, whose tick counters wrap: far longer than a call.
    return ticks_diff(ticks_us(), start_us) // 1000


# What one read asks for (allocated in full before the datagram shrinks it):
# a ZRTP DHPart with a DH-3072 value (484 bytes) is the largest thing a
# call receives (as app/callmedia.py reads).
_MAX_DATAGRAM = const(512)
_MAX_READS_PER_TICK = const(32)  # bounded work per tick, even under a flood
_RESYNC_AFTER_MS = const(200)  # behind schedule by more than this: re-anchor


class UdpMediaDriver:
    """Runs a MediaSession over a UDP socket on a 20 ms clock.

    Each tick: read every waiting datagram (non-blocking: MicroPython's
    asyncio has no datagram endpoint), send one frame from `source`, hand
    one played frame to `sink`. Ticks follow an absolute schedule (start +
    n * 20 ms) so sleep overshoot does not accumulate into drift."""

    def __init__(self, session, sock, remote=None):
        self.session = session
        self.sock = sock
        self.remote = remote
        self.ticks = 0
        self.late_ticks = 0
        self._stop = False
        self._frame_in = bytearray(FRAME_BYTES)
        self.gc = IdleCollector()

    def set_remote(self, host, port):
        self.remote = sockaddr(host, port)

    def stop(self):
        self._stop = True

    def _drain(self, now_ms):
        sock = self.sock
        for _ in range(_MAX_READS_PER_TICK):
            try:
                data = sock.recv(_MAX_DATAGRAM)  # (recvfrom: an address and a tuple more per packet)
            except OSError:
                return  # nothing more waiting (EAGAIN)
            self._received(data, now_ms)

    def _received(self, data, now_ms):
        self.session.receive_packet(data, now_ms)

    async def run(self, source, sink, duration_ms=None):
        """source(frame) fills the outgoing frame; sink(frame, now_ms) takes
        the played one. Runs until stop() or duration_ms has passed."""
        start = ticks_us()
        frame_in = self._frame_in
        n = 0
        while not self._stop:
            now = _ms_since(start)
            if duration_ms is not None and now >= duration_ms:
                break
            self._drain(now)
            source(frame_in)
            packet = self.session.send_frame(frame_in)  # None: nothing to send yet (ZRTP not secure)
            if packet is not None and self.remote is not None:
                self._send(packet)
            sink(self.session.play_frame(now), now)
            self.ticks += 1
            n += 1
            self.gc.idle(n * PTIME_MS - _ms_since(start))  # collections in the tick's spare time
            delay = n * PTIME_MS - _ms_since(start)
            if delay < -_RESYNC_AFTER_MS:
                # Far behind (the process was stopped, the machine is
                # overloaded): skip ahead instead of bursting to catch up.
                self.late_ticks += 1
                n = _ms_since(start) // PTIME_MS
                delay = 0
            await sleep_ms(delay if delay > 0 else 0)

    def _send(self, datagram):
        try:
            self.sock.sendto(datagram, self.remote)
        except OSError:
            pass  # e.g. ICMP unreachable reported late: UDP carries on

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class ZrtpUdpDriver(UdpMediaDriver):
    """Runs a ZrtpMediaSession over a non-blocking UDP socket on the media
    driver's 20 ms schedule: each tick reads what arrived, runs the ZRTP
    timers, sends ZRTP packets and (once secure) one audio frame, and plays
    one frame. `on_event(e)` sees every ZRTP event as it happens (to show
    the SAS, warn, hang up...)."""

    def __init__(self, session, sock, remote, on_event=None):
        UdpMediaDriver.__init__(self, session, sock, remote)
        self.on_event = on_event

    def _received(self, data, now):
        self.session.receive_datagram(data, now)  # ZRTP or SRTP on the same port

    def _drain(self, now):
        UdpMediaDriver._drain(self, now)
        session = self.session
        session.poll(now)
        for d in session.datagrams_to_send():
            self._send(d)
        while True:
            e = session.next_event()
            if e is None:
                break
            if self.on_event is not None:
                self.on_event(e)

    async def run(self, source, sink, duration_ms=None):
        """source(frame) fills the outgoing frame, sink(frame, now_ms) takes
        the played one; until stop() or duration_ms."""
        self.session.start(0)
        await UdpMediaDriver.run(self, source, sink, duration_ms)
