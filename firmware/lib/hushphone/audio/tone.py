# Test tones: a sine generator that fills preallocated 16-bit frames, and a
# Goertzel detector that measures one frequency and estimates its SNR.
#
# Frames are HAL audio frames: 16-bit little-endian signed mono PCM. The
# generator does no per-frame allocation (one slice copy from a table); the
# detector is a diagnostic tool (demo, tests), not part of the call path.
import math
import struct

from hushphone.audio.pcm import copy_into, fill_zero
from hushphone.compat import const

RATE = const(8000)
FRAME_SAMPLES = const(160)  # 20 ms at 8 kHz
FRAME_BYTES = const(320)
_MAX_PERIOD = const(8000)  # one second of samples: the table bound


class ToneError(ValueError):
    """Bad tone parameters (our own misuse, not a peer's data)."""


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


class ToneGenerator:
    """A continuous sine of an integer frequency.

    The waveform of an integer frequency at an integer rate repeats every
    rate/gcd(freq, rate) samples, so one period (plus one frame, to avoid a
    wrap inside a copy) is computed once as bytes; each frame is then one
    memoryview slice copy and the phase runs on without a click between
    frames."""

    def __init__(self, freq, amplitude=0.5, rate=RATE, frame_samples=FRAME_SAMPLES):
        freq = int(freq)
        if freq <= 0 or 2 * freq >= rate:
            raise ToneError("frequency must be between 0 and rate/2")
        if not 0.0 <= amplitude <= 1.0:
            raise ToneError("amplitude must be between 0 and 1 (of full scale)")
        period = rate // _gcd(freq, rate)
        if period > _MAX_PERIOD:
            raise ToneError("frequency/rate ratio needs too long a table")
        self.freq = freq
        self.rate = rate
        self.frame_samples = frame_samples
        self._period = period
        peak = amplitude * 32767
        count = period + frame_samples
        table = bytearray(2 * count)
        w = 2 * math.pi * freq / rate
        for i in range(count):
            struct.pack_into("<h", table, 2 * i, int(round(peak * math.sin(w * (i % period)))))
        self._table = table
        self._phase = 0

    def fill(self, frame):
        """Write the next frame_samples samples into `frame` (a bytearray or
        writable memoryview of 2*frame_samples bytes)."""
        copy_into(frame, self._table, 2 * self._phase, 2 * self.frame_samples)
        self._phase = (self._phase + self.frame_samples) % self._period

    def frame(self):
        """A new frame (allocates: for tests; the call path uses fill())."""
        out = bytearray(2 * self.frame_samples)
        self.fill(out)
        return out


def fill_silence(frame):
    fill_zero(frame, len(frame))


def goertzel(samples, freq, rate=RATE):
    """Power |X(f)|^2 of `samples` (a sequence of ints) at `freq`, by the
    Goertzel recurrence (works for frequencies between DFT bins too)."""
    coeff = 2.0 * math.cos(2.0 * math.pi * freq / rate)
    s1 = 0.0
    s2 = 0.0
    for x in samples:
        s0 = x + coeff * s1 - s2
        s2 = s1
        s1 = s0
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


class ToneResult:
    """One measurement: the tone's level and its signal-to-noise ratio.

    `snr_db` compares the energy of the measured frequency with everything
    else in the block (other tones, noise, quantisation, concealment
    artefacts); `level_dbfs` is the tone's RMS level against a full-scale
    sine."""

    def __init__(self, freq, samples, tone_energy, total_energy):
        self.freq = freq
        self.samples = samples
        self.tone_energy = tone_energy
        self.total_energy = total_energy
        rest = total_energy - tone_energy
        if tone_energy <= total_energy * 1e-10:
            self.snr_db = -100.0
        elif rest <= tone_energy * 1e-12:
            self.snr_db = 120.0
        else:
            self.snr_db = 10.0 * math.log10(tone_energy / rest)
        full_scale = samples * (32767.0 * 32767.0 / 2.0)
        if tone_energy <= full_scale * 1e-12 or samples == 0:
            self.level_dbfs = -120.0
        else:
            self.level_dbfs = 10.0 * math.log10(tone_energy / full_scale)

    def present(self, min_snr_db=6.0, min_level_dbfs=-50.0):
        """Whether the tone is there: clearly above the rest, and not so
        quiet that it is just idle-channel noise."""
        return self.snr_db >= min_snr_db and self.level_dbfs >= min_level_dbfs

    def __repr__(self):
        return "ToneResult(%d Hz, SNR %.1f dB, level %.1f dBFS)" % (self.freq, self.snr_db, self.level_dbfs)


class ToneDetector:
    """Measures one frequency over a stream of PCM frames.

    Feed frames with add(); result() measures everything fed since the last
    reset(). The Goertzel state runs across frames, so a block can be many
    frames long (longer blocks give a narrower bin and a steadier SNR). A
    sine of amplitude A over N samples gives |X|^2 = (A*N/2)^2, so its
    energy sum(x^2) = A^2*N/2 = 2*|X|^2/N; the rest of sum(x^2) is noise."""

    def __init__(self, freq, rate=RATE):
        self.freq = freq
        self.rate = rate
        self._coeff = 2.0 * math.cos(2.0 * math.pi * freq / rate)
        self.reset()

    def reset(self):
        self._s1 = 0.0
        self._s2 = 0.0
        self._energy = 0.0
        self._count = 0

    def add(self, frame):
        """Add one frame of 16-bit LE PCM (bytes-like, even length)."""
        n = len(frame) // 2
        samples = struct.unpack("<%dh" % n, frame[: 2 * n])
        coeff = self._coeff
        s1 = self._s1
        s2 = self._s2
        energy = 0.0
        for x in samples:
            s0 = x + coeff * s1 - s2
            s2 = s1
            s1 = s0
            energy += x * x
        self._s1 = s1
        self._s2 = s2
        self._energy += energy
        self._count += n

    def result(self):
        n = self._count
        s1 = self._s1
        s2 = self._s2
        power = s1 * s1 + s2 * s2 - self._coeff * s1 * s2
        tone = 2.0 * power / n if n else 0.0
        if tone > self._energy:
            tone = self._energy  # rounding on a pure tone
        return ToneResult(self.freq, n, tone, self._energy)


def measure(pcm, freq, rate=RATE):
    """Measure `freq` in a whole PCM buffer at once."""
    det = ToneDetector(freq, rate)
    det.add(pcm)
    return det.result()
