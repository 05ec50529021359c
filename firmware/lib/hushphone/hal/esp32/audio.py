# Audio through machine.I2S to codecs that are I2S slaves (ES8388; ES8311
# with ES7210).
#
# MicroPython's I2S object is one direction of one controller, always the
# clock master (docs: "controller operation only"; ports/esp32 keeps one
# object per id). A full-duplex codec therefore gets two objects on the
# chip's two controllers (ESP32 and ESP32-S3 both have I2S0 and I2S1),
# sharing BCK and WS: RX on I2S(1) first, then TX on I2S(0), so the pins end
# up carrying the TX controller's clocks (the GPIO matrix routes a pin from
# the last peripheral attached). Both divide the same clock source by the
# same ratio. The ESP32 RX path always reads 32-bit stereo slots (BCLK =
# 64 fs), so TX is opened with bits=32 too, keeping one BCLK on the wire:
# frames are widened from 16 to 32 bits on the way out (the sample in the
# upper half, as I2S sends MSB first), and the RX object's bits=16 mono mode
# picks the upper half of the left slot. MCLK (256 fs) goes out through mck=
# on the TX object: the original ESP32 can only route it to GPIO0/1/3 (the
# S3 to any GPIO), and mck= needs a MicroPython whose ESP32 I2S accepts it
# (the 1.29 stubs this code is type-checked with declare it). This
# arrangement is derived from the MicroPython and ESP-IDF sources, not yet
# measured on a board: see boards/README.md.
#
# Non-blocking: select.poll on an I2S object puts it in MicroPython's
# asyncio mode, where readinto/write move only what the DMA buffers hold
# and return at once; a frame is assembled across calls.
from hushphone.compat import IS_MICROPYTHON, const
from hushphone.hal.interfaces import FRAME_BYTES, FRAME_SAMPLES, RATE, Audio, HalError

TX_ID = const(0)
RX_ID = const(1)
WIDE_BYTES = const(640)  # one 8 kHz frame as 32-bit samples
_IBUF = const(10240)  # ~4 frames of 32-bit stereo DMA per direction at 16 kHz

# Codecs whose clock tables lack 8 kHz at MCLK = 256 fs (ES7210) run the bus
# at 16 kHz: frames are halved on the way in (a [1 2 1]/4 low-pass, then
# every other sample) and doubled on the way out (midpoints between
# samples). Both filters carry one sample across frames, so frame edges
# are seamless. Their response, cos^2(pi f / 16 kHz): -4 dB at 3.4 kHz (the
# telephone band's edge), -17 dB at 6 kHz (what would alias to 2 kHz).

import struct


def widen_16_to_32_py(dst, src, samples):
    """dst (4*samples bytes) = each 16-bit LE sample of src in the upper
    half of a 32-bit LE word."""
    for i in range(samples):
        dst[4 * i] = 0
        dst[4 * i + 1] = 0
        dst[4 * i + 2] = src[2 * i]
        dst[4 * i + 3] = src[2 * i + 1]


def upsample_widen_py(dst, src, samples, prev):
    """2*samples 32-bit words into dst: before each input sample the
    midpoint from the previous one. Returns the last input sample."""
    x = struct.unpack_from("<%dh" % samples, src, 0)
    out = []
    for v in x:
        out.append(((prev + v) >> 1) << 16)
        out.append(v << 16)
        prev = v
    struct.pack_into("<%di" % (2 * samples), dst, 0, *out)
    return prev


def decimate_2_py(dst, src, samples, prev):
    """samples 16-bit outputs into dst from 2*samples inputs:
    y[i] = (x[2i-1] + 2 x[2i] + x[2i+1]) / 4, x[-1] = prev. Returns the
    last input sample."""
    x = struct.unpack_from("<%dh" % (2 * samples), src, 0)
    out = []
    for i in range(samples):
        a = x[2 * i]
        b = x[2 * i + 1]
        out.append((prev + 2 * a + b) >> 2)
        prev = b
    struct.pack_into("<%dh" % samples, dst, 0, *out)
    return prev


if IS_MICROPYTHON:
    import micropython

    @micropython.viper
    def widen_16_to_32_viper(dst, src, samples: int):
        """dst (4*samples bytes) = each 16-bit LE sample of src in the upper
        half of a 32-bit LE word."""
        d = ptr8(dst)  # noqa: F821  (viper built-in)
        s = ptr8(src)  # noqa: F821
        i = 0
        while i < samples:
            d[4 * i] = 0
            d[4 * i + 1] = 0
            d[4 * i + 2] = s[2 * i]
            d[4 * i + 3] = s[2 * i + 1]
            i += 1

    @micropython.viper
    def upsample_widen_viper(dst, src, samples: int, prev: int) -> int:
        """2*samples 32-bit words into dst: before each input sample the
        midpoint from the previous one. Returns the last input sample."""
        d = ptr8(dst)  # noqa: F821
        s = ptr8(src)  # noqa: F821
        i = 0
        while i < samples:
            v = s[2 * i] | (s[2 * i + 1] << 8)
            if v >= 32768:
                v -= 65536
            m = (prev + v) >> 1
            o = 8 * i
            d[o] = 0
            d[o + 1] = 0
            d[o + 2] = m & 0xFF
            d[o + 3] = (m >> 8) & 0xFF
            d[o + 4] = 0
            d[o + 5] = 0
            d[o + 6] = s[2 * i]
            d[o + 7] = s[2 * i + 1]
            prev = v
            i += 1
        return prev

    @micropython.viper
    def decimate_2_viper(dst, src, samples: int, prev: int) -> int:
        """samples 16-bit outputs into dst from 2*samples inputs:
        y[i] = (x[2i-1] + 2 x[2i] + x[2i+1]) / 4, x[-1] = prev. Returns the
        last input sample."""
        d = ptr8(dst)  # noqa: F821
        s = ptr8(src)  # noqa: F821
        i = 0
        while i < samples:
            a = s[4 * i] | (s[4 * i + 1] << 8)
            if a >= 32768:
                a -= 65536
            b = s[4 * i + 2] | (s[4 * i + 3] << 8)
            if b >= 32768:
                b -= 65536
            y = (prev + 2 * a + b) >> 2
            d[2 * i] = y & 0xFF
            d[2 * i + 1] = (y >> 8) & 0xFF
            prev = b
            i += 1
        return prev


if IS_MICROPYTHON:
    widen_16_to_32 = widen_16_to_32_viper
    upsample_widen = upsample_widen_viper
    decimate_2 = decimate_2_viper
else:
    widen_16_to_32 = widen_16_to_32_py
    upsample_widen = upsample_widen_py
    decimate_2 = decimate_2_py


class I2sAudio(Audio):
    """pins: {"bck", "ws", "dout", "din", "mclk" (or None)} GPIO numbers;
    codec: an object with set_volume/set_mic_gain/mute (already set up for
    bus_rate) or None; pa_pin: the speaker amplifier's enable GPIO or None;
    bus_rate: 8000, or 16000 for codecs that need it (frames stay 8 kHz)."""

    def __init__(self, pins, codec=None, pa_pin=None, bus_rate=RATE):
        import select

        from machine import I2S, Pin

        if pins.get("din") is None or pins.get("dout") is None:
            raise HalError("full-duplex audio needs both I2S data pins (dout and din)")
        if bus_rate not in (RATE, 2 * RATE):
            raise HalError("I2S bus rate must be %d or %d Hz, not %r" % (RATE, 2 * RATE, bus_rate))
        self.codec = codec
        self.bus_rate = bus_rate
        self._ratio = bus_rate // RATE
        sck = Pin(pins["bck"])
        ws = Pin(pins["ws"])
        self._rx = I2S(
            RX_ID, sck=sck, ws=ws, sd=Pin(pins["din"]), mode=I2S.RX, bits=16, format=I2S.MONO, rate=bus_rate, ibuf=_IBUF
        )
        mclk = pins.get("mclk")
        self._tx = I2S(
            TX_ID,
            sck=sck,
            ws=ws,
            sd=Pin(pins["dout"]),
            mck=Pin(mclk) if mclk is not None else None,
            mode=I2S.TX,
            bits=32,
            format=I2S.MONO,
            rate=bus_rate,
            ibuf=_IBUF,
        )
        self._pa = Pin(pa_pin, Pin.OUT, value=0) if pa_pin is not None else None
        self._rx_poll = select.poll()
        self._rx_poll.register(self._rx, select.POLLIN)
        self._tx_poll = select.poll()
        self._tx_poll.register(self._tx, select.POLLOUT)
        self._rx_bytes = FRAME_BYTES * self._ratio
        self._rx_frame = bytearray(self._rx_bytes)
        self._rx_view = memoryview(self._rx_frame)
        self._rx_have = 0
        self._rx_prev = 0  # the last input sample, for the decimation filter
        self._tx_bytes = WIDE_BYTES * self._ratio
        self._wide = bytearray(self._tx_bytes)
        self._wide_view = memoryview(self._wide)
        self._tx_sent = self._tx_bytes  # nothing pending
        self._tx_prev = 0
        self.overruns = 0  # frames the caller offered while the DMA was full

    def start(self):
        if self.codec is not None:
            self.codec.mute(False)
        if self._pa is not None:
            self._pa.value(1)

    def stop(self):
        if self._pa is not None:
            self._pa.value(0)
        if self.codec is not None:
            self.codec.mute(True)

    def read_frame(self, buf):
        if self._rx_have < self._rx_bytes and self._rx_poll.poll(0):
            n = self._rx.readinto(self._rx_view[self._rx_have :])
            self._rx_have += n or 0
        if self._rx_have < self._rx_bytes:
            return False
        if self._ratio == 1:
            buf[:FRAME_BYTES] = self._rx_frame
        else:
            self._rx_prev = decimate_2(buf, self._rx_frame, FRAME_SAMPLES, self._rx_prev)
        self._rx_have = 0
        return True

    def write_frame(self, buf):
        if not self._flush():
            self.overruns += 1
            return False
        if self._ratio == 1:
            widen_16_to_32(self._wide, buf, FRAME_SAMPLES)
        else:
            self._tx_prev = upsample_widen(self._wide, buf, FRAME_SAMPLES, self._tx_prev)
        self._tx_sent = 0
        self._flush()
        return True

    def _flush(self):
        """Push what is left of the pending frame; True when none is left."""
        if self._tx_sent < self._tx_bytes and self._tx_poll.poll(0):
            n = self._tx.write(self._wide_view[self._tx_sent :])
            self._tx_sent += n or 0
        return self._tx_sent >= self._tx_bytes

    def set_volume(self, percent):
        if self.codec is not None:
            self.codec.set_volume(percent)

    def set_mic_gain(self, db):
        if self.codec is not None:
            self.codec.set_mic_gain(db)

    def deinit(self):
        self.stop()
        self._tx.deinit()
        self._rx.deinit()
