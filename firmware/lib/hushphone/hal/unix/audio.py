# The simulated handset's audio: the microphone is a WAV file or a tone,
# the speaker a WAV file (or nothing). Frames move when the caller asks: the
# app's own 20 ms clock paces them, as the I2S DMA does on a handset, so a
# test with a fake clock runs as fast as it likes.
from hushphone.audio.pcm import fill_zero
from hushphone.audio.tone import ToneGenerator
from hushphone.hal.interfaces import FRAME_BYTES, RATE, Audio
from hushphone.hal.unix.wav import WavError, WavWriter, open_wav


class WavSource:
    """Microphone frames from a 8 kHz mono 16-bit WAV file; at the end it
    loops (loop=True) or gives silence."""

    def __init__(self, path, loop=False):
        self._wav = open_wav(path, RATE, 1)
        self.loop = loop
        self.finished = False

    def fill(self, frame):
        got = self._wav.readinto(frame)
        if got < FRAME_BYTES and self.loop and self._wav.data_bytes >= FRAME_BYTES:
            self._wav.rewind()
            got += self._wav.readinto(memoryview(frame)[got:])
        if got < FRAME_BYTES:
            self.finished = True
            fill_zero(memoryview(frame)[got:], FRAME_BYTES - got)

    def close(self):
        self._wav.close()


class ToneSource:
    """Microphone frames of a steady sine (hushphone.audio.tone)."""

    def __init__(self, freq, amplitude=0.5):
        self._gen = ToneGenerator(freq, amplitude)

    def fill(self, frame):
        self._gen.fill(frame)

    def close(self):
        pass


class SilenceSource:
    def fill(self, frame):
        fill_zero(frame, FRAME_BYTES)

    def close(self):
        pass


class UnixAudio(Audio):
    """Audio backed by a source (WavSource/ToneSource/SilenceSource) and an
    optional speaker WAV file. `volume` scales nothing here: it is kept so
    the app's volume control can be checked."""

    def __init__(self, source=None, speaker_path=None):
        self.source = source if source is not None else SilenceSource()
        self._sink = WavWriter(speaker_path, RATE) if speaker_path else None
        self.volume = 60
        self.mic_gain_db = 0
        self.frames_in = 0
        self.frames_out = 0
        self.running = False

    def start(self):
        self.running = True

    def stop(self):
        self.running = False

    def read_frame(self, buf):
        if not self.running:
            return False
        self.source.fill(buf)
        self.frames_in += 1
        return True

    def write_frame(self, buf):
        if not self.running:
            return False
        if len(buf) != FRAME_BYTES:
            raise WavError("a frame is %d bytes, got %d" % (FRAME_BYTES, len(buf)))
        if self._sink is not None:
            self._sink.write(buf)
        self.frames_out += 1
        return True

    def set_volume(self, percent):
        self.volume = max(0, min(100, int(percent)))

    def set_mic_gain(self, db):
        self.mic_gain_db = int(db)

    def close(self):
        self.running = False
        self.source.close()
        if self._sink is not None:
            self._sink.close()
