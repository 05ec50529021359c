# The media path allocates nothing per frame beyond what SRTP returns, and a
# long call does not grow the heap. MicroPython counts every allocation
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


# Allocation counting needs MicroPython's gc.mem_alloc: this test exists
# only there (not a skip on CPython).
if IS_MICROPYTHON:

    class MediaAllocationTest(unittest.TestCase):
        def test_no_allocation_beyond_srtp(self):
            call = Call()
            for _ in range(60):
                call.one_frame()
                call.srtp_only()
            media = _allocated_per_call(call.one_frame, 100)
            srtp = _allocated_per_call(call.srtp_only, 100)
            self.assertGreater(srtp, 0)
            # The loop itself (range iteration) and small-int bookkeeping may
            # cost a few bytes; a per-frame buffer would cost hundreds.
            self.assertLessEqual(media, srtp + 32, (media, srtp))
            self.assertEqual(call.bob.stats.lost, 0)


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
