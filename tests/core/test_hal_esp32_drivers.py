# hal/esp32 drivers against recording stand-ins of the bus and pins, on
# both runtimes: the ES8388 register sequence (expected values written out
# from Espressif's esp-adf es8388.c and the ES8388 datasheet, not from our
# driver), the key matrix debounce, and the I2S frame path.
import sys
import unittest

from hushphone.audio.tone import ToneDetector, ToneGenerator
from hushphone.hal.esp32.es7210 import ES7210
from hushphone.hal.esp32.es8311 import ES8311
from hushphone.hal.esp32.es8388 import ES8388, CodecError
from hushphone.hal.esp32.keypad import ButtonKeys, Debouncer, KeypadGroup, MatrixKeypad, TouchKeys
from hushphone.hal.interfaces import FRAME_BYTES, HalError


class FakeI2C:
    """Registers of one device; records every access."""

    def __init__(self, address=0x10, fail=False):
        self.address = address
        self.regs = {}
        self.log = []
        self.fail = fail

    def _check(self, addr):
        if self.fail or addr != self.address:
            raise OSError(19, "ENODEV")

    def writeto_mem(self, addr, reg, buf):
        self._check(addr)
        self.log.append(("w", reg, buf[0]))
        self.regs[reg] = buf[0]

    def readfrom_mem_into(self, addr, reg, buf):
        self._check(addr)
        self.log.append(("r", reg))
        buf[0] = self.regs.get(reg, 0)

    def scan(self):
        return [] if self.fail else [self.address]


def _writes(log):
    return [(e[1], e[2]) for e in log if e[0] == "w"]


# esp-adf es8388_init() with cfg: I2S slave, DAC output all, ADC input LINE1.
ESP_ADF_INIT = [
    (0x19, 0x04),  # DACCONTROL3: mute
    (0x01, 0x50),  # CONTROL2
    (0x02, 0x00),  # CHIPPOWER: power up all
    (0x08, 0x00),  # MASTERMODE: codec in I2S slave mode
    (0x04, 0xC0),  # DACPOWER: DAC and outputs off
    (0x00, 0x12),  # CONTROL1: play & record
    (0x17, 0x18),  # DACCONTROL1: 16-bit I2S
    (0x18, 0x02),  # DACCONTROL2: single speed, ratio 256
    (0x26, 0x00),  # DACCONTROL16: LIN1/RIN1
    (0x27, 0x90),  # DACCONTROL17: left DAC to left mixer
    (0x2A, 0x90),  # DACCONTROL20: right DAC to right mixer
    (0x2B, 0x80),  # DACCONTROL21: ADC and DAC share LRCK
    (0x2D, 0x00),  # DACCONTROL23: vroi = 0
    (0x1B, 0x00),  # DACCONTROL5: 0 dB (es8388_set_adc_dac_volume(DAC, 0, 0))
    (0x1A, 0x00),  # DACCONTROL4: 0 dB
    (0x04, 0x3C),  # DACPOWER: LOUT1|LOUT2|ROUT1|ROUT2
    (0x03, 0xFF),  # ADCPOWER: off
    (0x09, 0xBB),  # ADCCONTROL1: mic PGA
    (0x0A, 0x00),  # ADCCONTROL2: ADC_INPUT_LINPUT1_RINPUT1
    (0x0B, 0x02),  # ADCCONTROL3
    (0x0C, 0x0D),  # ADCCONTROL4
    (0x0D, 0x02),  # ADCCONTROL5: single speed, ratio 256
    (0x10, 0x00),  # ADCCONTROL8: ADC left volume 0 dB
    (0x11, 0x00),  # ADCCONTROL9: ADC right volume 0 dB
    (0x03, 0x09),  # ADCPOWER: ADC and LIN/RIN on, mic bias off
]
# es8388_config_i2s(fmt = I2S normal, 16 bits): two read-modify-writes each.
ESP_ADF_CONFIG_I2S = [(0x0C, 0x0C), (0x17, 0x18), (0x0C, 0x0C), (0x17, 0x18)]
# es8388_start(ES_MODULE_ADC_DAC): DACCONTROL21 unchanged, so no state machine restart.
ESP_ADF_START = [(0x2B, 0x80), (0x03, 0x00), (0x04, 0x3C), (0x19, 0x00)]
# Volume 70 % -> 70 // 3 = 23 on LOUT1/ROUT1/LOUT2/ROUT2; mic 24 dB -> 8 steps on both channels.
VOLUME_70 = [(0x2E, 23), (0x2F, 23), (0x30, 23), (0x31, 23)]
MIC_24DB = [(0x09, 0x88)]


class Es8388Test(unittest.TestCase):
    def test_init_sequence_matches_esp_adf(self):
        bus = FakeI2C()
        ES8388(bus).init(volume=70, mic_gain_db=24)
        self.assertEqual(_writes(bus.log), ESP_ADF_INIT + ESP_ADF_CONFIG_I2S + ESP_ADF_START + VOLUME_70 + MIC_24DB)
        regs = bus.regs
        self.assertEqual(regs[0x08], 0x00)  # slave
        self.assertEqual(regs[0x17] >> 3 & 7, 3)  # DAC word length 16 bits
        self.assertEqual(regs[0x17] >> 1 & 3, 0)  # DAC I2S format
        self.assertEqual(regs[0x0C] >> 2 & 7, 3)  # ADC word length 16 bits
        self.assertEqual(regs[0x0C] & 3, 0)  # ADC I2S format
        self.assertEqual(regs[0x19] & 0x04, 0)  # DAC not muted
        self.assertEqual((regs[0x03], regs[0x04]), (0x00, 0x3C))  # ADC and DAC powered

    def test_inputs_and_state_machine_restart(self):
        bus = FakeI2C()
        bus.regs[0x2B] = 0x9C  # as left by es8388_stop()
        codec = ES8388(bus)
        codec.start()
        # DACCONTROL21 changed from 0x9C to 0x80: CHIPPOWER 0xF0 then 0x00 restarts the chip.
        self.assertEqual(_writes(bus.log)[:3], [(0x2B, 0x80), (0x02, 0xF0), (0x02, 0x00)])
        bus.log = []
        ES8388(bus).init(adc_input=0xF0)
        self.assertIn((0x0A, 0xF0), _writes(bus.log))  # ADC_INPUT_DIFFERENCE

    def test_stop_volume_and_gain_limits(self):
        bus = FakeI2C()
        codec = ES8388(bus)
        codec.stop()
        self.assertEqual(_writes(bus.log), [(0x04, 0x00), (0x19, 0x04), (0x03, 0xFF), (0x2B, 0x9C)])
        bus.log = []
        codec.set_volume(100)
        codec.set_volume(-5)
        codec.set_mic_gain(7)  # rounds down to 6 dB: 2 steps
        codec.set_mic_gain(99)
        self.assertEqual(
            _writes(bus.log),
            [(r, 0x21) for r in (0x2E, 0x2F, 0x30, 0x31)] + [(r, 0) for r in (0x2E, 0x2F, 0x30, 0x31)] + [(0x09, 0x22), (0x09, 0x88)],
        )

    def test_silent_bus_is_a_codec_error(self):
        codec = ES8388(FakeI2C(fail=True))
        with self.assertRaises(CodecError) as ctx:
            codec.init()
        self.assertIn("0x10", str(ctx.exception))
        self.assertFalse(codec.present())
        self.assertTrue(ES8388(FakeI2C()).present())


# esp-bsp es8311_init() (reset, clock config for MCLK 4.096 MHz / 16 kHz from
# the MCLK pin, slave 16-bit I2S, analog power-up), then
# es8311_voice_volume_set(70) and es8311_voice_mute(false); registers read
# before a read-modify-write are all 0 on the recording bus except 0x00.
ESP_BSP_ES8311_16K = [
    (0x00, 0x1F), (0x00, 0x00), (0x00, 0x80),  # reset, power-on command
    (0x01, 0x3F),  # all clocks on, MCLK from the MCLK pin
    (0x06, 0x00),  # SCLK not inverted
    (0x02, 0x00),  # pre_div 1, pre_multi 1x
    (0x03, 0x10),  # single speed, ADC OSR 0x10
    (0x04, 0x10),  # DAC OSR 0x10
    (0x05, 0x00),  # ADC and DAC dividers 1
    (0x06, 0x03),  # BCLK = MCLK / 4
    (0x07, 0x00), (0x08, 0xFF),  # LRCK = MCLK / 256
    (0x00, 0x80),  # slave serial port
    (0x09, 0x0C), (0x0A, 0x0C),  # SDP in/out 16-bit
    (0x0D, 0x01), (0x0E, 0x02), (0x12, 0x00), (0x13, 0x10), (0x1C, 0x6A), (0x37, 0x08),
    (0x32, 70 * 256 // 100 - 1),  # volume
    (0x31, 0x00),  # unmuted
]
# esp-bsp es7210_config_codec() for 16 kHz, MCLK 256 fs, 16-bit I2S without
# TDM, mic bias 2.87 V, mic gain 30 dB.
ESP_BSP_ES7210_16K = [
    (0x00, 0xFF), (0x00, 0x32), (0x09, 0x30), (0x0A, 0x30),
    (0x23, 0x2A), (0x22, 0x0A), (0x21, 0x2A), (0x20, 0x0A),
    (0x11, 0x60), (0x12, 0x00), (0x40, 0xC3), (0x41, 0x70), (0x42, 0x70),
    (0x43, 0x1A), (0x44, 0x1A), (0x45, 0x1A), (0x46, 0x1A),
    (0x47, 0x08), (0x48, 0x08), (0x49, 0x08), (0x4A, 0x08),
    (0x07, 0x20), (0x02, 0xC1), (0x04, 0x01), (0x05, 0x00),  # coeff row {4096000, 16000}
    (0x06, 0x04), (0x4B, 0x0F), (0x4C, 0x0F), (0x00, 0x71), (0x00, 0x41),
]


class Es8311Es7210Test(unittest.TestCase):
    def test_es8311_sequence_matches_esp_bsp(self):
        bus = FakeI2C(0x18)
        sleeps = []
        ES8311(bus, sleep_ms=sleeps.append).init(rate=16000, volume=70)
        self.assertEqual(_writes(bus.log), ESP_BSP_ES8311_16K)
        self.assertEqual(sleeps, [20])
        bus.log = []
        chip = ES8311(bus, sleep_ms=sleeps.append)
        chip.mute(True)
        chip.set_volume(0)
        chip.set_volume(100)
        self.assertEqual(_writes(bus.log), [(0x31, 0x60), (0x32, 0x00), (0x32, 0xFF)])

    def test_es7210_sequence_matches_esp_bsp(self):
        bus = FakeI2C(0x40)
        ES7210(bus).init(rate=16000, mic_gain_db=30)
        self.assertEqual(_writes(bus.log), ESP_BSP_ES7210_16K)
        bus.log = []
        ES7210(bus).set_mic_gain(99)
        self.assertEqual(_writes(bus.log), [(r, 0x1B) for r in (0x43, 0x44, 0x45, 0x46)])

    def test_unsupported_clocks_are_refused(self):
        with self.assertRaises(CodecError) as ctx:
            ES7210(FakeI2C(0x40)).init(rate=8000)  # no row for 2.048 MHz MCLK
        self.assertIn("8000 Hz", str(ctx.exception))
        with self.assertRaises(CodecError):
            ES8311(FakeI2C(0x18), sleep_ms=lambda ms: None).init(rate=44100)
        with self.assertRaises(CodecError) as ctx:
            ES8311(FakeI2C(0x18, fail=True), sleep_ms=lambda ms: None).init()
        self.assertIn("ES8311 at 0x18", str(ctx.exception))


IN, OUT, PULL_UP = 1, 3, 2


class Matrix:
    """A key matrix: a column reads 0 when a pressed key joins it to a row
    that is driven low."""

    def __init__(self, nrows, ncols):
        self.pressed = set()
        self.rows = [RowPin(self) for _ in range(nrows)]
        self.cols = [ColPin(self, c) for c in range(ncols)]


class RowPin:
    def __init__(self, matrix):
        self.matrix = matrix
        self.mode = None
        self.level = 1

    def init(self, mode, pull=None, value=None):
        self.mode = mode
        if value is not None:
            self.level = value

    def value(self, v=None):
        if v is not None:
            self.level = v
        return self.level


class ColPin:
    def __init__(self, matrix, col):
        self.matrix = matrix
        self.col = col
        self.mode = self.pull = None

    def init(self, mode, pull=None, value=None):
        self.mode = mode
        self.pull = pull

    def value(self, v=None):
        for r, c in self.matrix.pressed:
            row = self.matrix.rows[r]
            if c == self.col and row.mode == OUT and row.level == 0:
                return 0
        return 1 if self.pull == PULL_UP else 0


class LevelPin:
    def __init__(self, level=1):
        self.level = level

    def value(self, v=None):
        return self.level


DIALPAD = [["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"], ["*", "0", "#"]]


def _run(keypad, start, end, step=1):
    events = []
    t = start
    while t < end:
        e = keypad.poll(t)
        if e is not None:
            events.append((t, e))
        t += step
    return events


class MatrixKeypadTest(unittest.TestCase):
    def setUp(self):
        self.m = Matrix(4, 3)
        self.keys = MatrixKeypad(self.m.rows, self.m.cols, DIALPAD, mode_in=IN, mode_out=OUT, pull_up=PULL_UP)

    def test_pins_are_set_up_for_scanning(self):
        self.assertTrue(all(c.mode == IN and c.pull == PULL_UP for c in self.m.cols))
        self.keys.poll(0)
        self.assertTrue(all(r.mode == IN for r in self.m.rows))  # no row left driven

    def test_a_5ms_glitch_is_ignored(self):
        self.m.pressed.add((1, 1))
        self.assertEqual(_run(self.keys, 0, 5), [])
        self.m.pressed.clear()
        self.assertEqual(_run(self.keys, 5, 200), [])

    def test_a_held_key_reports_once(self):
        self.m.pressed.add((1, 1))
        events = _run(self.keys, 0, 2000)
        self.assertEqual([e for _, e in events], ["5"])
        self.assertGreaterEqual(events[0][0], 20)  # only after the debounce time
        self.assertLessEqual(events[0][0], 21)
        self.m.pressed.clear()
        self.assertEqual(_run(self.keys, 2000, 2100), [])  # release of a dial key: no event
        self.m.pressed.add((1, 1))
        self.assertEqual([e for _, e in _run(self.keys, 2100, 2200)], ["5"])  # pressed again

    def test_bouncing_contact_settles_to_one_press(self):
        t = 0
        events = []
        for i in range(8):  # 8 ms of chatter, then held
            if i % 2:
                self.m.pressed.discard((0, 0))
            else:
                self.m.pressed.add((0, 0))
            e = self.keys.poll(t)
            if e:
                events.append(e)
            t += 1
        self.m.pressed.add((0, 0))
        events += [e for _, e in _run(self.keys, t, 200)]
        self.assertEqual(events, ["1"])

    def test_two_keys_at_once(self):
        self.m.pressed.update(((0, 0), (2, 2)))
        self.assertEqual(sorted(e for _, e in _run(self.keys, 0, 100)), ["1", "9"])
        self.m.pressed.clear()
        self.m.pressed.update(((0, 1), (3, 1)))  # same column: rows are not both driven
        self.assertEqual(sorted(e for _, e in _run(self.keys, 100, 200)), ["0", "2"])

    def test_bad_key_map(self):
        with self.assertRaises(HalError):
            MatrixKeypad(self.m.rows, self.m.cols, [["1", "2"]], mode_in=IN, mode_out=OUT, pull_up=PULL_UP)
        with self.assertRaises(HalError):
            MatrixKeypad(self.m.rows[:1], self.m.cols, [["1", "2", "NOPE"]], mode_in=IN, mode_out=OUT, pull_up=PULL_UP)


class ButtonAndTouchTest(unittest.TestCase):
    def test_hook_switch_reports_lift_and_put_down(self):
        hook = LevelPin(1)  # active low: released = on hook
        mute = LevelPin(0)  # active high button, not pressed
        keys = ButtonKeys([(hook, "OFFHOOK", "ONHOOK", True), (mute, "MUTE", None, False)])
        self.assertEqual(_run(keys, 0, 100), [])
        hook.level = 0
        self.assertEqual([e for _, e in _run(keys, 100, 300)], ["OFFHOOK"])
        hook.level = 1
        mute.level = 1
        self.assertEqual(sorted(e for _, e in _run(keys, 300, 500)), ["MUTE", "ONHOOK"])

    def test_touch_pads_and_group_share_one_queue(self):
        class Pad:
            count = 900

            def read(self):
                return self.count

        pad = Pad()
        deb = Debouncer()
        m = Matrix(4, 3)
        group = KeypadGroup(
            [
                MatrixKeypad(m.rows, m.cols, DIALPAD, deb, mode_in=IN, mode_out=OUT, pull_up=PULL_UP),
                TouchKeys([(pad, "OK")], threshold=400, debouncer=deb),
            ],
            deb,
        )
        pad.count = 150  # touched
        m.pressed.add((3, 2))
        self.assertEqual(sorted(e for _, e in _run(group, 0, 100)), ["#", "OK"])

    def test_event_queue_is_bounded(self):
        deb = Debouncer(debounce_ms=0)
        for i in range(40):
            deb.update(i, True, 0, "1")
            deb.update(i, True, 1, "1")
        self.assertEqual(len(deb.events), 16)


class FakeI2S:
    RX, TX, MONO, STEREO = 1, 2, 0, 1
    made = []

    def __init__(self, id, **kw):
        self.id = id
        self.kw = kw
        self.room = 10000  # bytes the DMA accepts (TX) or holds (RX)
        self.data = b""
        self.written = bytearray()
        FakeI2S.made.append(self)

    def readinto(self, buf):
        n = min(len(buf), len(self.data))
        buf[:n] = self.data[:n]
        self.data = self.data[n:]
        return n

    def write(self, buf):
        n = min(len(buf), self.room)
        self.written += bytes(buf[:n])
        self.room -= n
        return n

    def deinit(self):
        pass


class FakePin:
    OUT = 3
    IN = 1

    def __init__(self, n, mode=None, value=None):
        self.n = n
        self.level = value

    def value(self, v=None):
        if v is not None:
            self.level = v
        return self.level


class FakeMachine:
    I2S = FakeI2S
    Pin = FakePin


class FakePoll:
    def __init__(self):
        self.obj = None

    def register(self, obj, flags):
        self.obj = obj
        self.flags = flags

    def poll(self, timeout):
        ready = self.obj.data if self.flags == 1 else self.obj.room
        return [(self.obj, self.flags)] if ready else []


class FakeSelect:
    POLLIN = 1
    POLLOUT = 4

    @staticmethod
    def poll():
        return FakePoll()


class I2sAudioTest(unittest.TestCase):
    def setUp(self):
        self.saved = dict((name, sys.modules.get(name)) for name in ("machine", "select"))
        sys.modules["machine"] = FakeMachine
        sys.modules["select"] = FakeSelect
        FakeI2S.made = []
        from hushphone.hal.esp32.audio import I2sAudio

        self.audio = I2sAudio({"bck": 5, "ws": 25, "dout": 26, "din": 35, "mclk": 0}, pa_pin=21)
        self.rx, self.tx = FakeI2S.made

    def tearDown(self):
        for name, mod in self.saved.items():
            if mod is None:
                del sys.modules[name]
            else:
                sys.modules[name] = mod

    def test_two_controllers_share_the_clock_pins(self):
        rx, tx = self.rx, self.tx
        self.assertEqual((rx.id, tx.id), (1, 0))
        self.assertEqual((rx.kw["mode"], tx.kw["mode"]), (FakeI2S.RX, FakeI2S.TX))
        self.assertEqual((rx.kw["sck"].n, rx.kw["ws"].n, rx.kw["sd"].n), (5, 25, 35))
        self.assertEqual((tx.kw["sck"].n, tx.kw["ws"].n, tx.kw["sd"].n, tx.kw["mck"].n), (5, 25, 26, 0))
        # One BCLK on the wire: the RX DMA is 32-bit, so TX is 32-bit too.
        self.assertEqual((rx.kw["bits"], tx.kw["bits"]), (16, 32))
        self.assertEqual((rx.kw["rate"], tx.kw["rate"], rx.kw["format"]), (8000, 8000, FakeI2S.MONO))
        self.audio.start()
        self.assertEqual(self.audio._pa.level, 1)
        self.audio.stop()
        self.assertEqual(self.audio._pa.level, 0)

    def test_frames_in_come_whole_and_only_when_ready(self):
        buf = bytearray(FRAME_BYTES)
        self.assertFalse(self.audio.read_frame(buf))
        frame = bytes(range(256)) + bytes(range(64))
        self.rx.data = frame[:100]
        self.assertFalse(self.audio.read_frame(buf))  # part of a frame: keep it, say not ready
        self.rx.data = frame[100:] + b"\x01\x02"
        self.assertTrue(self.audio.read_frame(buf))
        self.assertEqual(bytes(buf), frame)

    def test_frames_out_are_widened_and_never_block(self):
        frame = bytearray(FRAME_BYTES)
        frame[0:4] = b"\x34\x12\xff\x80"  # samples 0x1234 and -32513
        self.tx.room = 700
        self.assertTrue(self.audio.write_frame(frame))
        self.assertEqual(bytes(self.tx.written[:8]), b"\x00\x00\x34\x12\x00\x00\xff\x80")
        self.assertEqual(len(self.tx.written), 640)
        self.assertTrue(self.audio.write_frame(frame))  # 60 bytes fit, 580 pending
        self.assertFalse(self.audio.write_frame(frame))  # DMA full: refused, not blocked
        self.assertEqual(self.audio.overruns, 1)
        self.tx.room = 10000
        self.assertTrue(self.audio.write_frame(frame))  # the pending rest goes first
        self.assertEqual(len(self.tx.written), 3 * 640)

    def test_a_16khz_bus_is_halved_on_the_way_in(self):
        from hushphone.hal.esp32.audio import I2sAudio

        FakeI2S.made = []
        audio = I2sAudio({"bck": 17, "ws": 45, "dout": 15, "din": 16, "mclk": 2}, bus_rate=16000)
        rx = FakeI2S.made[0]
        self.assertEqual(rx.kw["rate"], 16000)
        buf = bytearray(FRAME_BYTES)
        for freq, expect in ((1000, "pass"), (7000, "stop")):
            gen = ToneGenerator(freq, 0.5, rate=16000, frame_samples=320)
            det = ToneDetector(1000)
            for i in range(25):
                rx.data = bytes(gen.frame())
                self.assertTrue(audio.read_frame(buf))
                if i >= 1:
                    det.add(buf)
            level = det.result().level_dbfs
            if expect == "pass":
                # 0.5 of full scale (-6 dB) less cos^2(pi/16) (-0.34 dB); clean across frame edges.
                self.assertAlmostEqual(level, -6.35, delta=0.3)
                self.assertGreater(det.result().snr_db, 30)
            else:
                self.assertLess(level, -6.0 - 25)  # 7 kHz would alias onto 1 kHz: filtered (-28 dB)

    def test_a_16khz_bus_is_doubled_on_the_way_out(self):
        import struct

        from hushphone.hal.esp32.audio import I2sAudio

        FakeI2S.made = []
        audio = I2sAudio({"bck": 17, "ws": 45, "dout": 15, "din": 16, "mclk": 2}, bus_rate=16000)
        tx = FakeI2S.made[1]
        tx.room = 1 << 20
        self.assertEqual(tx.kw["rate"], 16000)
        gen = ToneGenerator(1000, 0.5)
        for _ in range(20):
            self.assertTrue(audio.write_frame(gen.frame()))
        words = struct.unpack("<%di" % (len(tx.written) // 4), bytes(tx.written))
        self.assertEqual(len(words), 20 * 320)
        pcm = struct.pack("<%dh" % len(words), *[w >> 16 for w in words])
        tone = ToneDetector(1000, 16000)
        image = ToneDetector(7000, 16000)
        tone.add(pcm[1280:])
        image.add(pcm[1280:])
        self.assertGreater(tone.result().snr_db, 25)
        self.assertAlmostEqual(tone.result().level_dbfs, -6.35, delta=0.3)
        self.assertLess(image.result().level_dbfs, -6.0 - 25)
        with self.assertRaises(HalError):
            I2sAudio({"bck": 17, "ws": 45, "dout": 15, "din": 16, "mclk": 2}, bus_rate=44100)

    def test_missing_data_pin_is_refused(self):
        from hushphone.hal.esp32.audio import I2sAudio

        with self.assertRaises(HalError):
            I2sAudio({"bck": 5, "ws": 25, "dout": 26, "din": None, "mclk": 0})


if __name__ == "__main__":
    unittest.main()
