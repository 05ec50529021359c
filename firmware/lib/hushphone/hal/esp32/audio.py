# Audio through machine.I2S to a codec that is an I2S slave (ES8388).
#
# MicroPython's I2S object is one direction of one controller, always the
# clock master (docs: "controller operation only"; ports/esp32 keeps one
# object per id). A full-duplex codec therefore gets two objects on the
# ESP32's two controllers, sharing BCK and WS: RX on I2S(1) first, then TX
# on I2S(0), so the pins end up carrying the TX controller's clocks (the
# GPIO matrix routes a pin from the last peripheral attached). Both run
# from the same clock source with the same divider. The ESP32 RX path
# always reads 32-bit stereo slots (BCLK = 64 fs), so TX is opened with
# bits=32 too, keeping one BCLK on the wire; frames are widened from 16 to
# 32 bits on the way out (the sample in the upper half, as I2S sends MSB
# first) and the RX object's bits=16 mono mode picks the upper half of the
# left slot. MCLK (256 fs) goes out through mck= on the TX object: the
# ESP32 can only route it to GPIO0/1/3, and mck= needs a MicroPython whose
# ESP32 I2S accepts it (declared in the 1.29 stubs this code is checked
# with). This arrangement is derived from the MicroPython and ESP-IDF
# sources, not yet measured on a board: see boards/README.md.
#
# Non-blocking: registering each I2S object with select.poll puts it in
# MicroPython's asyncio mode, where readinto/write move only what the DMA
# buffers hold and return at once.
from hushphone.compat import IS_MICROPYTHON, const
from hushphone.hal.interfaces import FRAME_BYTES, FRAME_SAMPLES, RATE, Audio, HalError

TX_ID = const(0)
RX_ID = const(1)
WIDE_BYTES = const(640)  # one frame as 32-bit samples
_IBUF = const(5120)  # 4 frames of 32-bit stereo DMA per direction (the RX DMA is 32-bit stereo)

if IS_MICROPYTHON:
    import micropython

    @micropython.viper
    def widen_16_to_32(dst, src, samples: int):
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

else:

    def widen_16_to_32(dst, src, samples):
        """dst (4*samples bytes) = each 16-bit LE sample of src in the upper
        half of a 32-bit LE word."""
        for i in range(samples):
            dst[4 * i] = 0
            dst[4 * i + 1] = 0
            dst[4 * i + 2] = src[2 * i]
            dst[4 * i + 3] = src[2 * i + 1]


class I2sAudio(Audio):
    """pins: {"bck", "ws", "dout", "din", "mclk" (or None)} GPIO numbers;
    codec: an object with init/set_volume/set_mic_gain/mute/stop (ES8388)
    or None; pa_pin: the speaker amplifier's enable GPIO or None."""

    def __init__(self, pins, codec=None, pa_pin=None, rate=RATE):
        import select

        from machine import I2S, Pin

        if pins.get("din") is None or pins.get("dout") is None:
            raise HalError("full-duplex audio needs both I2S data pins (dout and din)")
        self.codec = codec
        self.rate = rate
        sck = Pin(pins["bck"])
        ws = Pin(pins["ws"])
        self._rx = I2S(
            RX_ID, sck=sck, ws=ws, sd=Pin(pins["din"]), mode=I2S.RX, bits=16, format=I2S.MONO, rate=rate, ibuf=_IBUF
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
            rate=rate,
            ibuf=_IBUF,
        )
        self._pa = Pin(pa_pin, Pin.OUT, value=0) if pa_pin is not None else None
        self._rx_poll = select.poll()
        self._rx_poll.register(self._rx, select.POLLIN)
        self._tx_poll = select.poll()
        self._tx_poll.register(self._tx, select.POLLOUT)
        self._rx_frame = bytearray(FRAME_BYTES)
        self._rx_view = memoryview(self._rx_frame)
        self._rx_have = 0
        self._wide = bytearray(WIDE_BYTES)
        self._wide_view = memoryview(self._wide)
        self._tx_sent = WIDE_BYTES  # nothing pending
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
        if self._rx_have < FRAME_BYTES and self._rx_poll.poll(0):
            n = self._rx.readinto(self._rx_view[self._rx_have :])
            self._rx_have += n or 0
        if self._rx_have < FRAME_BYTES:
            return False
        buf[:FRAME_BYTES] = self._rx_frame
        self._rx_have = 0
        return True

    def write_frame(self, buf):
        if not self._flush():
            self.overruns += 1
            return False
        widen_16_to_32(self._wide, buf, FRAME_SAMPLES)
        self._tx_sent = 0
        self._flush()
        return True

    def _flush(self):
        """Push what is left of the pending frame; True when none is left."""
        if self._tx_sent < WIDE_BYTES and self._tx_poll.poll(0):
            n = self._tx.write(self._wide_view[self._tx_sent :])
            self._tx_sent += n or 0
        return self._tx_sent >= WIDE_BYTES

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
