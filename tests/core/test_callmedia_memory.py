# A call's media on a small heap: reading allocates only when a datagram
# waits (a read that finds nothing used to allocate its full 2 KiB), queued
# datagrams stay separate packets, and a call's SRTP contexts are small.
# MicroPython counts allocations (gc.mem_alloc between collections);
# CPython checks the behaviour only.
import gc
import unittest

from coretest import IS_MICROPYTHON
from hushphone.app.callmedia import CallMedia
from hushphone.app.media import MediaSession, sockaddr, srtp_pair
from hushphone.audio.tone import ToneGenerator
from hushphone.crypto.random import random_bytes

SUITE = "AES_CM_128_HMAC_SHA1_80"
KA, SA, KB, SB = b"\x01" * 16, b"\x02" * 14, b"\x03" * 16, b"\x04" * 14


def pair():
    a = CallMedia("127.0.0.1", random_bytes)
    b = CallMedia("127.0.0.1", random_bytes)
    a_tx, a_rx = srtp_pair(SUITE, KA, SA, KB, SB)
    b_tx, b_rx = srtp_pair(SUITE, KB, SB, KA, SA)
    a.session = MediaSession("PCMU", a_tx, a_rx, random_bytes)
    b.session = MediaSession("PCMU", b_tx, b_rx, random_bytes)
    for m, other in ((a, b), (b, a)):
        m.remote = sockaddr("127.0.0.1", other.port)
        m.direction = "sendrecv"
    return a, b


def wait_drain(media, want, now=0):
    """Drain until `want` packets were received (bounded: ~2 s)."""
    import time

    for _ in range(200):
        media.drain(now)
        if media.session.stats.received >= want:
            return
        time.sleep(0.01)


class CallMediaMemory(unittest.TestCase):
    def setUp(self):
        self.a, self.b = pair()
        self.frame = ToneGenerator(1000, 0.5).frame()

    def tearDown(self):
        self.a.close()
        self.b.close()

    def test_queued_datagrams_stay_separate_packets(self):
        for _ in range(5):  # five packets wait before the next tick reads them
            self.a.send(self.frame)
        wait_drain(self.b, 5)
        stats = self.b.session.stats
        self.assertEqual(stats.received, 5)
        self.assertEqual(stats.dropped_malformed + stats.dropped_auth, 0)

    def test_a_read_that_finds_nothing_allocates_next_to_nothing(self):
        self.a.send(self.frame)
        wait_drain(self.b, 1)  # the session is warm (views, streams made)
        self.assertEqual(list(self.b.drain(0)), [])
        if IS_MICROPYTHON:
            gc.collect()
            before = gc.mem_alloc()
            for _ in range(50):
                self.b.drain(0)
            per_drain = (gc.mem_alloc() - before) / 50
            self.assertEqual(per_drain, 0)  # was over 2 KiB a tick; then an empty list of events
        self.assertEqual(self.b.session.stats.received, 1)

    def test_a_tick_allocates_only_the_datagram_it_reads(self):
        import time

        from hushphone.app.callmedia import _MAX_MEDIA_DATAGRAM

        for _ in range(10):  # warm-up both ways
            self.a.send(self.frame)
            self.b.send(self.frame)
            wait_drain(self.b, self.b.session.stats.received + 1)
            wait_drain(self.a, self.a.session.stats.received + 1)
            self.a.session.play_frame(0)
            self.b.session.play_frame(0)
        received = self.b.session.stats.received
        if IS_MICROPYTHON:
            gc.collect()
            gc.disable()
            try:
                before = gc.mem_alloc()
                for _ in range(20):  # send, let it arrive, read it, play
                    self.a.send(self.frame)
                    time.sleep(0.005)
                    self.b.drain(0)
                    self.b.session.play_frame(0)
                per_tick = (gc.mem_alloc() - before) / 20
            finally:
                gc.enable()
            # the bytes object recv made (at most the size asked for, plus
            # its header), and nothing else: the send, SRTP, the jitter
            # buffer and the decode allocate nothing
            self.assertLessEqual(per_tick, _MAX_MEDIA_DATAGRAM + 32, per_tick)
            self.assertEqual(self.b.session.stats.received, received + 20)

    def test_a_calls_srtp_contexts_are_small(self):
        if IS_MICROPYTHON:
            gc.collect()
            before = gc.mem_alloc()
        pair_ = srtp_pair(SUITE, KA, SA, KB, SB)
        if IS_MICROPYTHON:
            gc.collect()
            used = gc.mem_alloc() - before
            self.assertLess(used, 8 * 1024, used)  # ~16 KiB at max_packet 1500 with SRTCP keys made up front
        self.assertEqual(pair_[0].max_packet, 256)
        # SRTCP still works: its keys are derived on first use.
        sender, receiver = srtp_pair(SUITE, KA, SA, KA, SA)
        rtcp = bytes([0x80, 200, 0, 6]) + b"\x11\x22\x33\x44" + bytes(20)
        self.assertEqual(receiver.unprotect_rtcp(sender.protect_rtcp(rtcp)), rtcp)


if __name__ == "__main__":
    unittest.main()
