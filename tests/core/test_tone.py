# Tone generator and Goertzel detector: the generated sine is what it
# claims, and the detector finds 1 kHz in noise, rejects silence and other
# frequencies, and estimates SNR accurately.
import math
import struct
import unittest

from hushphone.audio import tone
from hushphone.audio.tone import ToneDetector, ToneError, ToneGenerator, measure


def samples(pcm):
    return struct.unpack("<%dh" % (len(pcm) // 2), bytes(pcm))


class Noise:
    """Deterministic uniform noise in [-peak, peak] (an LCG: the same on
    both runtimes, no random module needed)."""

    def __init__(self, peak, seed=12345):
        self.peak = peak
        self.x = seed

    def next(self):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return ((self.x >> 8) % (2 * self.peak + 1)) - self.peak


def mix(pcm, noise):
    out = bytearray(len(pcm))
    values = samples(pcm)
    for i, v in enumerate(values):
        v += noise.next()
        if v > 32767:
            v = 32767
        if v < -32768:
            v = -32768
        struct.pack_into("<h", out, 2 * i, v)
    return out


def tone_pcm(freq, amplitude, frames):
    gen = ToneGenerator(freq, amplitude)
    out = bytearray()
    frame = bytearray(320)
    for _ in range(frames):
        gen.fill(frame)
        out += frame
    return out


class ToneGeneratorTest(unittest.TestCase):
    def test_samples_match_the_sine(self):
        pcm = tone_pcm(1000, 0.5, 3)
        values = samples(pcm)
        self.assertEqual(len(values), 480)
        for n in (0, 1, 2, 5, 161, 479):
            expected = 0.5 * 32767 * math.sin(2 * math.pi * 1000 * n / 8000)
            self.assertAlmostEqual(values[n], expected, delta=1.0)

    def test_phase_continues_across_frames_for_any_frequency(self):
        # 440 Hz does not fit a whole number of periods in a frame.
        pcm = tone_pcm(440, 0.8, 4)
        values = samples(pcm)
        for n in (159, 160, 161, 319, 320, 639):
            expected = 0.8 * 32767 * math.sin(2 * math.pi * 440 * n / 8000)
            self.assertAlmostEqual(values[n], expected, delta=1.0)

    def test_full_scale_does_not_overflow(self):
        values = samples(tone_pcm(2000, 1.0, 1))
        self.assertEqual(max(values), 32767)
        self.assertEqual(min(values), -32767)

    def test_bad_parameters(self):
        for freq, amp in ((0, 0.5), (4000, 0.5), (-5, 0.5), (1000, 1.5), (1000, -0.1)):
            with self.assertRaises(ToneError):
                ToneGenerator(freq, amp)

    def test_silence(self):
        frame = bytearray(b"\x01" * 320)
        tone.fill_silence(frame)
        self.assertEqual(bytes(frame), bytes(320))


class ToneDetectorTest(unittest.TestCase):
    def test_clean_tone(self):
        r = measure(tone_pcm(1000, 0.5, 10), 1000)
        self.assertTrue(r.present())
        self.assertGreater(r.snr_db, 60)
        self.assertAlmostEqual(r.level_dbfs, -6.02, delta=0.1)

    def test_detects_1khz_in_noise_and_estimates_snr(self):
        # Tone power A^2/2; uniform noise in [-B, B] has power B^2/3.
        amplitude = 0.25 * 32767
        for snr in (30, 20, 10, 3):
            with self.subTest(snr=snr):
                peak = int(math.sqrt(3 * (amplitude * amplitude / 2) / (10 ** (snr / 10.0))))
                pcm = mix(tone_pcm(1000, 0.25, 25), Noise(peak))
                r = measure(pcm, 1000)
                self.assertAlmostEqual(r.snr_db, snr, delta=0.5)
                self.assertEqual(r.present(min_snr_db=0), True)

    def test_rejects_silence(self):
        r = measure(bytes(8000), 1000)
        self.assertFalse(r.present(min_snr_db=0))
        self.assertLess(r.level_dbfs, -100)

    def test_rejects_noise_only(self):
        r = measure(mix(bytes(8000), Noise(3000)), 1000)
        self.assertFalse(r.present(min_snr_db=0))
        self.assertLess(r.snr_db, -10)

    def test_rejects_other_frequency(self):
        for freq in (1500, 900, 1200):
            with self.subTest(freq=freq):
                r = measure(tone_pcm(freq, 0.5, 10), 1000)
                self.assertFalse(r.present(min_snr_db=0))
                self.assertLess(r.snr_db, -20)

    def test_tone_beside_another_tone(self):
        # 1 kHz and 1.5 kHz of equal level: about 0 dB each way.
        a = samples(tone_pcm(1000, 0.3, 10))
        b = samples(tone_pcm(1500, 0.3, 10))
        both = struct.pack("<%dh" % len(a), *[x + y for x, y in zip(a, b)])
        self.assertAlmostEqual(measure(both, 1000).snr_db, 0.0, delta=0.2)
        self.assertAlmostEqual(measure(both, 1500).snr_db, 0.0, delta=0.2)

    def test_streaming_equals_one_block(self):
        pcm = mix(tone_pcm(1000, 0.5, 8), Noise(500))
        det = ToneDetector(1000)
        for i in range(0, len(pcm), 320):
            det.add(pcm[i : i + 320])
        whole = measure(pcm, 1000)
        self.assertAlmostEqual(det.result().snr_db, whole.snr_db, places=6)
        det.reset()
        self.assertEqual(det.result().samples, 0)

    def test_goertzel_matches_dft_bin(self):
        values = samples(mix(tone_pcm(1000, 0.4, 1), Noise(800)))
        n = len(values)
        re = sum(v * math.cos(2 * math.pi * 20 * i / n) for i, v in enumerate(values))
        im = sum(v * math.sin(2 * math.pi * 20 * i / n) for i, v in enumerate(values))
        power = tone.goertzel(values, 1000)
        self.assertAlmostEqual(power / (re * re + im * im), 1.0, places=6)


if __name__ == "__main__":
    unittest.main()
