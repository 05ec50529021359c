# RIFF/WAVE files of 16-bit PCM, small enough for both runtimes
# (MicroPython has no `wave` module). Only what the simulated handset needs:
# read the format and the data chunk of a PCM file, write a mono file whose
# sizes are patched on close.
import struct

from hushphone.hal.interfaces import HalError

_PCM = 1
_EXTENSIBLE = 0xFFFE
_MAX_CHUNKS = 64  # a WAV with more chunks before "data" is not one we made


class WavError(HalError):
    pass


class WavReader:
    """Frames of a 16-bit PCM WAV file. `rate` and `channels` are the
    file's; open_wav() refuses files that do not match what the caller
    plays (8 kHz mono, unless told otherwise)."""

    def __init__(self, path):
        self._f = open(path, "rb")
        try:
            self._parse(path)
        except Exception:
            self._f.close()
            raise

    def _parse(self, path):
        f = self._f
        head = f.read(12)
        if len(head) != 12 or head[0:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise WavError("%s: not a RIFF/WAVE file" % path)
        fmt = None
        for _ in range(_MAX_CHUNKS):
            chunk = f.read(8)
            if len(chunk) < 8:
                break
            cid = chunk[0:4]
            size = struct.unpack("<I", chunk[4:8])[0]
            if cid == b"fmt ":
                body = f.read(size)
                if len(body) < 16:
                    raise WavError("%s: short fmt chunk" % path)
                fmt = struct.unpack("<HHIIHH", body[0:16])
                if size & 1:
                    f.read(1)
            elif cid == b"data":
                if fmt is None:
                    raise WavError("%s: data before fmt" % path)
                self._check_fmt(path, fmt)
                self.data_bytes = size
                self.remaining = size
                return
            else:
                f.seek(size + (size & 1), 1)  # skip LIST, fact, ... (word-aligned)
        raise WavError("%s: no data chunk" % path)

    def _check_fmt(self, path, fmt):
        tag, channels, rate, byte_rate, align, bits = fmt
        if tag not in (_PCM, _EXTENSIBLE) or bits != 16:
            raise WavError("%s: only 16-bit PCM is supported (format %d, %d bits)" % (path, tag, bits))
        if channels < 1 or align != 2 * channels or byte_rate != rate * align:
            raise WavError("%s: inconsistent fmt chunk" % path)
        self.rate = rate
        self.channels = channels

    def readinto(self, buf):
        """Fill buf with the next samples; returns the bytes read (0 at the
        end of the data chunk; a short last frame is not padded here)."""
        n = len(buf)
        if n > self.remaining:
            n = self.remaining
        if n == 0:
            return 0
        got = self._f.readinto(memoryview(buf)[:n]) or 0
        self.remaining -= got
        if got < n:
            self.remaining = 0  # file shorter than its header says
        return got

    def rewind(self):
        self._f.seek(-(self.data_bytes - self.remaining), 1)
        self.remaining = self.data_bytes

    def close(self):
        self._f.close()


def open_wav(path, rate=8000, channels=1):
    """A WavReader of `path`, refused clearly unless it is 16-bit PCM at
    `rate` Hz with `channels` channels (no resampling on the phone)."""
    reader = WavReader(path)
    if reader.rate != rate or reader.channels != channels:
        reader.close()
        raise WavError(
            "%s: is %d Hz %d-channel, need %d Hz %d-channel 16-bit PCM" % (path, reader.rate, reader.channels, rate, channels)
        )
    return reader


class WavWriter:
    """A mono 16-bit PCM WAV file; the RIFF and data sizes are written on
    close() (until then the header says 0 bytes)."""

    def __init__(self, path, rate=8000):
        self._f = open(path, "wb")
        self.rate = rate
        self.data_bytes = 0
        self._f.write(_header(rate, 0))

    def write(self, frame):
        if len(frame) & 1:
            raise WavError("16-bit PCM frames have an even length")
        self._f.write(frame)
        self.data_bytes += len(frame)

    def close(self):
        if self._f is None:
            return
        self._f.seek(0)
        self._f.write(_header(self.rate, self.data_bytes))
        self._f.close()
        self._f = None


def _header(rate, data_bytes):
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, _PCM, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )
