# Once a call is up (SRTP keyed by SDES, or by ZRTP), a 20 ms frame each way
# allocates nothing (gc.mem_alloc deltas over 500 frames with the collector
# paused: deterministic), and a long call does not grow the heap. MicroPython counts every allocation
# (gc.mem_alloc with the collector paused); CPython's tracemalloc shows net
# growth only, so there the check is "no leak".
import gc
import unittest

from coretest import IS_MICROPYTHON
from hushphone.app.media import MediaSession, srtp_pair
from hushphone.audio.tone import ToneGenerator

SUITE = "AES_CM_128_HMAC_SHA1_80"


def _bytes(seed, n):
    x = seed
    out = bytearray(n)
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out[i] = (x >> 16) & 0xFF
    return bytes(out)


class Call:
    def __init__(self):
        ka, sa, kb, sb = _bytes(1, 16), _bytes(2, 14), _bytes(3, 16), _bytes(4, 14)
        self.a_tx, self.a_rx = srtp_pair(SUITE, ka, sa, kb, sb)
        self.b_tx, self.b_rx = srtp_pair(SUITE, kb, sb, ka, sa)
        counter = [0]

        def rnd(n):
            counter[0] += 1
            return _bytes(counter[0], n)

        self.alice = MediaSession("PCMU", self.a_tx, self.a_rx, rnd)
        self.bob = MediaSession("PCMU", self.b_tx, self.b_rx, rnd)
        self.frame = ToneGenerator(1000, 0.5).frame()
        self.now = 0
        self.probe = bytearray(172)
        self.probe[0] = 0x80
        self.probe_seq = 0

    def one_frame(self):
        self.bob.receive_packet(self.alice.send_frame(self.frame), self.now)
        self.bob.play_frame(self.now)
        self.now += 20

    def srtp_only(self):
        # The same SRTP work on a same-size packet, without the media engine.
        self.probe_seq = (self.probe_seq + 1) & 0xFFFF
        self.probe[2] = self.probe_seq >> 8
        self.probe[3] = self.probe_seq & 0xFF
        self.a_rx.unprotect(self.b_tx.protect(self.probe))


def _allocated_per_call(func, loops):
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        for _ in range(loops):
            func()
        return (gc.mem_alloc() - before) / loops
    finally:
        gc.enable()


def _zrtp_call():
    """Two ZrtpMediaSessions keyed by a real ZRTP exchange (fake network,
    fake clock), run until media flows both ways; returns (a, b, now)."""
    from zrtp_fakelink import Party

    from hushphone.zrtp.engine import ZrtpConfig
    from hushphone.app.zrtpmedia import ZrtpMediaSession

    counter = [100]

    def rnd(n):
        counter[0] += 1
        return _bytes(counter[0], n)

    a = ZrtpMediaSession(Party("alice").engine(), "PCMU", rnd)
    b = ZrtpMediaSession(Party("bob").engine(ZrtpConfig(passive=True)), "PCMU", rnd)
    frame = ToneGenerator(1000, 0.5).frame()
    a.start(0)
    b.start(0)
    now = 0
    for _ in range(300):
        now += 20
        _zrtp_tick(a, b, frame, now)
        if a.media and b.media and a.media.stats.received > 20 and b.media.stats.received > 20:
            break
    return a, b, frame, now


def _zrtp_tick(a, b, frame, now):
    # what the phone's 20 ms loop does for a ZRTP call (app/callmedia.py):
    # run the ZRTP timers, pass on its datagrams, send one frame each way,
    # play one frame each side (no tuple of pairs: that would allocate)
    _zrtp_one_way(a, b, frame, now)
    _zrtp_one_way(b, a, frame, now)


def _zrtp_one_way(src, dst, frame, now):
    src.poll(now)
    for d in src.datagrams_to_send():
        dst.receive_datagram(d, now)
    while src.next_event() is not None:
        pass
    if src.media is not None:
        dst.receive_datagram(src.media.send_frame_view(frame), now)
    else:
        packet = src.send_frame(frame)
        if packet is not None:
            dst.receive_datagram(packet, now)
    src.play_frame(now)


# Allocation counting needs MicroPython's gc.mem_alloc: this test exists
# only there (not a skip on CPython).
if IS_MICROPYTHON:

    class MediaAllocationTest(unittest.TestCase):
        FRAMES = 500

        def test_an_srtp_call_allocates_nothing_per_frame(self):
            call = Call()
            alice, bob, frame = call.alice, call.bob, call.frame
            now = [0]

            def both_ways():
                t = now[0] = now[0] + 20
                bob.receive_packet(alice.send_frame_view(frame), t)
                alice.receive_packet(bob.send_frame_view(frame), t)
                alice.play_frame(t)
                bob.play_frame(t)

            for _ in range(60):  # warm-up: streams, views, playout started
                both_ways()
            per_frame = _allocated_per_call(both_ways, self.FRAMES)
            self.assertEqual(per_frame, 0)
            self.assertEqual(bob.stats.received, 60 + self.FRAMES)
            self.assertEqual(alice.stats.received, 60 + self.FRAMES)
            self.assertEqual(bob.stats.lost + alice.stats.lost, 0)
            self.assertGreater(bob.jitter.stats.played, self.FRAMES)

        def test_a_zrtp_call_allocates_nothing_per_frame(self):
            a, b, frame, now = _zrtp_call()
            self.assertIsNotNone(a.secure)
            self.assertIsNotNone(b.secure)
            clock = [now]

            def tick():
                clock[0] += 20
                _zrtp_tick(a, b, frame, clock[0])

            for _ in range(20):
                tick()
            received = b.media.stats.received
            per_frame = _allocated_per_call(tick, self.FRAMES)
            self.assertEqual(per_frame, 0)
            self.assertEqual(b.media.stats.received, received + self.FRAMES)
            self.assertEqual(a.media.stats.dropped_auth + b.media.stats.dropped_auth, 0)

        def test_srtp_into_allocates_nothing(self):
            call = Call()
            wire = bytearray(200)
            plain = bytearray(200)
            probe = call.probe

            def round_trip():
                call.probe_seq = (call.probe_seq + 1) & 0xFFFF
                probe[2] = call.probe_seq >> 8
                probe[3] = call.probe_seq & 0xFF
                n = call.b_tx.protect_into(probe, wire)
                call.a_rx.unprotect_into(wire, plain, n)

            for _ in range(10):
                round_trip()
            self.assertEqual(_allocated_per_call(round_trip, self.FRAMES), 0)
            self.assertEqual(bytes(plain[:172]), bytes(probe))


class MediaMemoryTest(unittest.TestCase):
    def test_long_call_does_not_grow_the_heap(self):
        call = Call()
        for _ in range(100):
            call.one_frame()
        if IS_MICROPYTHON:
            gc.collect()
            start = gc.mem_alloc()
            for _ in range(1500):
                call.one_frame()
            gc.collect()
            growth = gc.mem_alloc() - start
        else:
            import tracemalloc

            tracemalloc.start()
            try:
                start = tracemalloc.get_traced_memory()[0]
                for _ in range(1500):
                    call.one_frame()
                gc.collect()
                growth = tracemalloc.get_traced_memory()[0] - start
            finally:
                tracemalloc.stop()
        self.assertLess(growth, 2048, growth)
        self.assertEqual(call.bob.stats.received, 1600)
        self.assertEqual(call.bob.stats.lost, 0)


if __name__ == "__main__":
    unittest.main()
