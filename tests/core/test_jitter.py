# Jitter buffer and concealment: order, loss, duplicates, late packets,
# adaptive depth, sequence wrap, and the fade of concealed frames.
import struct
import unittest

from hushphone.app import jitter
from hushphone.app.jitter import Concealer, JitterBuffer

PTIME = 20


def payload(seq):
    return struct.pack(">I", seq)


def seq_of(p):
    return struct.unpack(">I", bytes(p))[0]


def drain(jb, now, count):
    """Pop `count` frames, one per ptime from `now`: list of seq or None."""
    out = []
    for i in range(count):
        p = jb.pop(now + i * PTIME)
        out.append(None if p is None else seq_of(p))
    return out


def simulate(jb, arrivals, pops, start_ms=0):
    """arrivals: list of (arrival_ms, seq); pops every 20 ms from start_ms.
    Returns (played sequence numbers, states) in playout order."""
    arrivals = sorted(arrivals)
    i = 0
    played = []
    states = []
    for k in range(pops):
        now = start_ms + k * PTIME
        while i < len(arrivals) and arrivals[i][0] <= now:
            t, seq = arrivals[i]
            jb.put(seq & 0xFFFF, (seq * 160) & 0xFFFFFFFF, payload(seq & 0xFFFF), t)
            i += 1
        p = jb.pop(now)
        states.append(jb.last_state)
        if p is not None:
            played.append(seq_of(p))
    return played, states


class JitterOrderTest(unittest.TestCase):
    def test_waits_for_target_then_plays_in_order(self):
        jb = JitterBuffer(4, min_ms=40, max_ms=120)
        self.assertEqual(jb.target_frames, 2)
        self.assertIsNone(jb.pop(0))
        self.assertEqual(jb.last_state, jitter.WAITING)
        jb.put(100, 0, payload(100), 0)
        self.assertIsNone(jb.pop(0))
        self.assertEqual(jb.last_state, jitter.WAITING)
        jb.put(101, 160, payload(101), 20)
        for s in range(102, 106):
            jb.put(s, (s - 100) * 160, payload(s), 20 * (s - 100))
        self.assertEqual(drain(jb, 40, 6), [100, 101, 102, 103, 104, 105])
        self.assertEqual(jb.stats.played, 6)
        self.assertEqual(jb.stats.lost, 0)

    def test_reordered_packets_play_in_sequence(self):
        jb = JitterBuffer(4, min_ms=60, max_ms=120)
        order = [0, 2, 1, 3, 5, 4, 7, 6, 9, 8, 10, 12, 11, 13]
        arrivals = [(20 * k, s) for k, s in enumerate(order)]
        played, states = simulate(jb, arrivals, len(order) + 1)
        self.assertEqual(played, list(range(14)))
        self.assertEqual(jb.stats.lost, 0)
        self.assertEqual(jb.stats.late, 0)

    def test_reordered_before_start_begins_at_lowest(self):
        jb = JitterBuffer(4, min_ms=40)
        jb.put(11, 160, payload(11), 0)
        jb.put(10, 0, payload(10), 1)
        self.assertEqual(drain(jb, 20, 2), [10, 11])

    def test_sequence_wraps_around(self):
        jb = JitterBuffer(4)
        seqs = [65533 + k for k in range(8)]
        arrivals = [(20 * k, s) for k, s in enumerate(seqs)]
        played, _ = simulate(jb, arrivals, 9)
        self.assertEqual(played, [s & 0xFFFF for s in seqs])
        self.assertEqual(jb.stats.lost, 0)

    def test_lost_packet_is_reported_in_place(self):
        jb = JitterBuffer(4)
        for s in range(10):
            if s != 4:
                jb.put(s, s * 160, payload(s), 0)
        self.assertEqual(drain(jb, 0, 10), [0, 1, 2, 3, None, 5, 6, 7, 8, 9])
        self.assertEqual(jb.stats.lost, 1)
        self.assertEqual(jb.stats.played, 9)


class JitterDropTest(unittest.TestCase):
    def test_duplicates_dropped_before_and_after_playout(self):
        jb = JitterBuffer(4)
        for s in range(4):
            self.assertEqual(jb.put(s, s * 160, payload(s), 0), jitter.ACCEPTED)
        self.assertEqual(jb.put(2, 320, payload(2), 1), jitter.DUPLICATE)
        self.assertEqual(drain(jb, 0, 2), [0, 1])
        self.assertEqual(jb.put(0, 0, payload(0), 40), jitter.DUPLICATE)
        self.assertEqual(jb.put(1, 160, payload(1), 40), jitter.DUPLICATE)
        self.assertEqual(drain(jb, 40, 2), [2, 3])
        self.assertEqual(jb.stats.duplicate, 3)
        self.assertEqual(jb.stats.late, 0)
        self.assertEqual(jb.stats.played, 4)

    def test_late_packet_dropped_and_depth_grows(self):
        jb = JitterBuffer(4, min_ms=40, max_ms=120)
        for s in range(3):
            jb.put(s, s * 160, payload(s), 20 * s)
        self.assertEqual(drain(jb, 40, 2), [0, 1])
        # seq 3 is missing when its turn comes: concealed ...
        self.assertEqual(drain(jb, 80, 2), [2, None])
        self.assertEqual(jb.stats.lost, 1)
        before = jb.target_frames
        # ... and dropped when it finally arrives.
        self.assertEqual(jb.put(3, 480, payload(3), 130), jitter.LATE)
        self.assertEqual(jb.stats.late, 1)
        self.assertEqual(jb.target_frames, before + 1)
        # The extra depth is made by one inserted frame before the next one.
        jb.put(4, 640, payload(4), 131)
        self.assertIsNone(jb.pop(140))
        self.assertEqual(jb.last_state, jitter.STRETCHED)
        self.assertEqual(drain(jb, 160, 1), [4])

    def test_wrong_size_rejected(self):
        jb = JitterBuffer(4)
        self.assertEqual(jb.put(1, 0, b"\x00\x01\x02", 0), jitter.BAD_SIZE)
        self.assertEqual(jb.stats.bad_size, 1)
        self.assertEqual(jb.buffered(), 0)

    def test_far_jump_resynchronises(self):
        jb = JitterBuffer(4)
        for s in range(4):
            jb.put(s, s * 160, payload(s), 0)
        self.assertEqual(drain(jb, 0, 2), [0, 1])
        self.assertEqual(jb.put(30000, 0, payload(30000), 50), jitter.RESYNC)
        jb.put(30001, 160, payload(30001), 60)
        self.assertEqual(drain(jb, 60, 2), [30000, 30001])
        self.assertEqual(jb.stats.resyncs, 1)

    def test_outage_refills_before_playing_again(self):
        jb = JitterBuffer(4, min_ms=40)
        for s in range(3):
            jb.put(s, s * 160, payload(s), 0)
        out = drain(jb, 0, 10)
        self.assertEqual(out[:3], [0, 1, 2])
        self.assertEqual(out[3:], [None] * 7)
        self.assertEqual(jb.last_state, jitter.WAITING)  # gave up after the outage
        jb.put(20, 0, payload(20), 300)
        self.assertIsNone(jb.pop(300))  # one frame is not enough depth yet
        jb.put(21, 160, payload(21), 310)
        self.assertEqual(drain(jb, 320, 2), [20, 21])


class JitterAdaptTest(unittest.TestCase):
    def _jittery(self, count, max_delay, seed=7):
        # Packets every 20 ms, each delayed by 0..max_delay ms (pseudo-random).
        x = seed
        arrivals = []
        for s in range(count):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            arrivals.append((20 * s + (x >> 8) % (max_delay + 1), s))
        return arrivals

    def test_steady_stream_keeps_minimum_depth(self):
        jb = JitterBuffer(4, min_ms=40, max_ms=120)
        played, _ = simulate(jb, [(20 * s + 3, s) for s in range(200)], 205)
        self.assertEqual(played, list(range(200)))
        self.assertEqual(jb.target_frames, 2)
        self.assertEqual(jb.jitter_ms(), 0)

    def test_depth_follows_jitter_within_bounds(self):
        jb = JitterBuffer(4, min_ms=40, max_ms=120)
        played, _ = simulate(jb, self._jittery(500, 40), 520)
        self.assertGreater(jb.jitter_ms(), 5)
        self.assertGreater(jb.target_frames, 2)
        self.assertLessEqual(jb.target_frames, 6)
        # In order, no repeats, and after settling hardly anything lost.
        self.assertEqual(played, sorted(set(played)))
        self.assertGreater(len(played), 480)

    def test_depth_never_exceeds_maximum(self):
        jb = JitterBuffer(4, min_ms=40, max_ms=80)
        simulate(jb, self._jittery(300, 200), 320)
        self.assertLessEqual(jb.target_frames, 4)
        self.assertGreater(jb.stats.late, 0)

    def test_burst_is_trimmed_back_to_target(self):
        jb = JitterBuffer(4, min_ms=40, max_ms=120)
        # 9 packets arrive at once after a stall, then a steady stream.
        played, _ = simulate(jb, [(160, s) for s in range(9)], 1, start_ms=160)
        queued_after_burst = jb.buffered()
        more, _ = simulate(jb, [(20 * s, s) for s in range(9, 210)], 200, start_ms=180)
        played += more
        self.assertGreater(jb.stats.trimmed, 2)
        self.assertLess(jb.buffered(), queued_after_burst - 2)
        self.assertLessEqual(jb.buffered(), jb.target_frames + 1)
        self.assertEqual(played, sorted(set(played)))

    def test_bad_parameters(self):
        with self.assertRaises(ValueError):
            JitterBuffer(0)
        with self.assertRaises(ValueError):
            JitterBuffer(160, min_ms=100, max_ms=40)


def _pcm(values):
    return struct.pack("<%dh" % len(values), *values)


def _samples(pcm):
    return list(struct.unpack("<%dh" % (len(pcm) // 2), bytes(pcm)))


class ConcealerTest(unittest.TestCase):
    def test_silent_before_any_good_frame(self):
        c = Concealer(8)
        out = bytearray(b"\x55" * 8)
        self.assertEqual(c.conceal_into(out), 0)
        self.assertEqual(bytes(out), bytes(8))

    def test_repeats_then_fades_to_silence(self):
        c = Concealer(8)
        good = _pcm([1000, -1000, 32767, -32768])
        c.good(good)
        out = bytearray(8)
        gains = []
        peaks = []
        for _ in range(6):
            gains.append(c.conceal_into(out))
            peaks.append(max(abs(v) for v in _samples(out)))
        self.assertEqual(gains, [256, 192, 128, 64, 0, 0])
        self.assertEqual(_samples(out), [0, 0, 0, 0])
        # First a plain repeat, then strictly falling to silence.
        self.assertEqual(peaks[0], 32768)
        for a, b in zip(peaks, peaks[1:4]):
            self.assertGreater(a, b)
        c.conceal_into(out)
        c.good(good)
        c.conceal_into(out)
        self.assertEqual(bytes(out), good)  # a good frame restarts the repeat

    def test_fade_keeps_sign(self):
        c = Concealer(4)
        c.good(_pcm([-20000, 20000]))
        out = bytearray(4)
        c.conceal_into(out)
        c.conceal_into(out)
        self.assertEqual(_samples(out), [-15000, 15000])


if __name__ == "__main__":
    unittest.main()
