# The simulated handset's HAL (hal/unix) and the NVS-backed store, on both
# runtimes: WAV audio, tone source, key scripts and streams, the display.
import os
import struct
import unittest

from coretest import IS_MICROPYTHON
from hushphone.audio.tone import ToneDetector, ToneGenerator
from hushphone.crypto.random import random_bytes
from hushphone.hal.esp32.nvs_store import NvsStore, StoreError
from hushphone.hal.interfaces import FRAME_BYTES, HalError, fit_lines
from hushphone.hal.unix import board as unix_board
from hushphone.hal.unix.audio import ToneSource, UnixAudio, WavSource
from hushphone.hal.unix.display import TextDisplay
from hushphone.hal.unix.keys import KeyScriptError, ScriptKeys, StreamKeys, parse_script
from hushphone.hal.unix.nvs import Nvs
from hushphone.hal.unix.wav import WavError, WavReader, WavWriter, open_wav


def _hex(b):
    import binascii

    return binascii.hexlify(b).decode()


def _rmtree(path):
    for name in os.listdir(path):
        full = path + "/" + name
        if os.stat(full)[0] & 0x4000:
            _rmtree(full)
        else:
            os.remove(full)
    os.rmdir(path)


class TempDirCase(unittest.TestCase):
    def setUp(self):
        self.dir = "/tmp/hush_hal_unix_" + _hex(random_bytes(6))
        os.mkdir(self.dir)

    def tearDown(self):
        _rmtree(self.dir)

    def path(self, name):
        return self.dir + "/" + name


def _wav_bytes(rate, channels, bits, data, extra_chunk=b"", tag=1):
    align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra_chunk + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


class WavTest(TempDirCase):
    def _write(self, name, content):
        with open(self.path(name), "wb") as f:
            f.write(content)
        return self.path(name)

    def test_round_trip_is_byte_identical(self):
        gen = ToneGenerator(440)
        frames = [bytes(gen.frame()) for _ in range(25)]
        audio = UnixAudio(speaker_path=self.path("out.wav"))
        audio.start()
        for frame in frames:
            self.assertTrue(audio.write_frame(frame))
        audio.close()
        src = WavSource(self.path("out.wav"))
        buf = bytearray(FRAME_BYTES)
        for frame in frames:
            src.fill(buf)
            self.assertEqual(bytes(buf), frame)
        self.assertFalse(src.finished)
        src.fill(buf)
        self.assertTrue(src.finished)
        self.assertEqual(bytes(buf), bytes(FRAME_BYTES))
        src.close()

    def test_header_is_canonical_pcm(self):
        w = WavWriter(self.path("h.wav"))
        w.write(b"\x01\x00\xff\xff")
        w.close()
        with open(self.path("h.wav"), "rb") as f:
            data = f.read()
        # RIFF size 36 + 4 data bytes; fmt: PCM, 1 channel, 8000 Hz, 16000 B/s, align 2, 16 bits.
        expected = (
            b"RIFF" + struct.pack("<I", 40) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
            + b"data" + struct.pack("<I", 4) + b"\x01\x00\xff\xff"
        )
        self.assertEqual(data, expected)

    def test_cpython_wave_module_reads_our_file(self):
        if IS_MICROPYTHON:
            return  # no `wave` on MicroPython: the byte-exact header test covers it there
        import wave

        w = WavWriter(self.path("c.wav"))
        frame = ToneGenerator(1000).frame()
        w.write(frame)
        w.close()
        with wave.open(self.path("c.wav"), "rb") as r:
            self.assertEqual((r.getnchannels(), r.getsampwidth(), r.getframerate(), r.getnframes()), (1, 2, 8000, 160))
            self.assertEqual(r.readframes(160), bytes(frame))

    def test_other_rate_is_refused_clearly(self):
        path = self._write("16k.wav", _wav_bytes(16000, 1, 16, bytes(640)))
        with self.assertRaises(WavError) as ctx:
            open_wav(path)
        self.assertIn("16000 Hz", str(ctx.exception))
        self.assertIn("need 8000 Hz", str(ctx.exception))
        with self.assertRaises(HalError):
            WavSource(path)

    def test_stereo_8bit_float_and_garbage_are_refused(self):
        cases = [
            ("stereo.wav", _wav_bytes(8000, 2, 16, bytes(640)), "2-channel"),
            ("u8.wav", _wav_bytes(8000, 1, 8, bytes(320)), "16-bit"),
            ("float.wav", _wav_bytes(8000, 1, 16, bytes(320), tag=3), "16-bit"),
            ("text.wav", b"hello, this is not audio at all", "not a RIFF"),
            ("nodata.wav", _wav_bytes(8000, 1, 16, b"")[:36], "no data chunk"),
            ("empty.wav", b"", "not a RIFF"),
        ]
        for name, content, words in cases:
            with self.subTest(name=name):
                with self.assertRaises(WavError) as ctx:
                    open_wav(self._write(name, content))
                self.assertIn(words, str(ctx.exception))

    def test_chunks_before_data_are_skipped(self):
        pcm = ToneGenerator(700).frame()
        odd = b"LIST" + struct.pack("<I", 3) + b"abc" + b"\x00"  # odd size: padded to a word
        path = self._write("list.wav", _wav_bytes(8000, 1, 16, bytes(pcm), extra_chunk=odd))
        r = WavReader(path)
        buf = bytearray(FRAME_BYTES)
        self.assertEqual(r.readinto(buf), FRAME_BYTES)
        self.assertEqual(bytes(buf), bytes(pcm))
        self.assertEqual(r.readinto(buf), 0)
        r.close()

    def test_source_loops_when_asked(self):
        gen = ToneGenerator(500)
        frames = [bytes(gen.frame()) for _ in range(3)]
        w = WavWriter(self.path("loop.wav"))
        for f in frames:
            w.write(f)
        w.close()
        src = WavSource(self.path("loop.wav"), loop=True)
        buf = bytearray(FRAME_BYTES)
        got = []
        for _ in range(7):
            src.fill(buf)
            got.append(bytes(buf))
        self.assertEqual(got, frames + frames + frames[:1])
        self.assertFalse(src.finished)
        src.close()


class ToneSourceTest(unittest.TestCase):
    def test_tone_frames_carry_the_tone(self):
        audio = UnixAudio(ToneSource(1000, amplitude=0.25))
        buf = bytearray(FRAME_BYTES)
        self.assertFalse(audio.read_frame(buf))  # not started: nothing captured
        audio.start()
        det = ToneDetector(1000)
        for _ in range(10):
            self.assertTrue(audio.read_frame(buf))
            det.add(buf)
        result = det.result()
        self.assertTrue(result.present())
        self.assertGreater(result.snr_db, 40)
        self.assertAlmostEqual(result.level_dbfs, -12.04, delta=0.2)  # 20*log10(0.25) dB below a full-scale sine
        self.assertEqual(audio.frames_in, 10)

    def test_write_refuses_a_wrong_frame_size(self):
        audio = UnixAudio()
        audio.start()
        with self.assertRaises(WavError):
            audio.write_frame(bytes(100))


class KeyScriptTest(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(
            parse_script("1,2,3,CALL,wait:2000,HANGUP"),
            [(0, "1"), (0, "2"), (0, "3"), (0, "OFFHOOK"), (2000, "ONHOOK")],
        )
        self.assertEqual(parse_script(" star , hash,wait:5,wait:10, soft2 ,ok"), [(0, "*"), (0, "#"), (15, "SOFT2"), (0, "OK")])
        self.assertEqual(parse_script(""), [])

    def test_bad_items_are_named(self):
        for text, words in (("1,FOO", "FOO"), ("wait:abc", "wait"), ("wait:-5", "wait"), ("wait:99999999", "wait"), ("12", "12")):
            with self.subTest(text=text):
                with self.assertRaises(KeyScriptError) as ctx:
                    parse_script(text)
                self.assertIn(words, str(ctx.exception))

    def test_keys_come_out_at_their_time_once_each(self):
        keys = ScriptKeys("1,2,3,CALL,wait:2000,HANGUP")
        self.assertEqual([keys.poll(1000) for _ in range(5)], ["1", "2", "3", "OFFHOOK", None])
        self.assertIsNone(keys.poll(2999))
        self.assertFalse(keys.idle())
        self.assertEqual(keys.poll(3000), "ONHOOK")
        self.assertIsNone(keys.poll(10000))
        self.assertTrue(keys.idle())

    def test_fed_scripts_follow_the_previous_keys(self):
        keys = ScriptKeys("wait:100,5")
        self.assertIsNone(keys.poll(0))
        keys.feed("wait:50,6", 10)  # due after "5" (100) + 50
        self.assertIsNone(keys.poll(99))
        self.assertEqual(keys.poll(100), "5")
        self.assertIsNone(keys.poll(149))
        self.assertEqual(keys.poll(150), "6")


class StreamKeysTest(unittest.TestCase):
    def test_lines_split_across_reads_and_a_bad_line(self):
        chunks = [b"1,2", b",CA", b"LL\nbogus\n", None, b"", b"wait:10,HANG", b"UP\n"]
        errors = []

        def read():
            return chunks.pop(0) if chunks else None

        keys = StreamKeys(read, on_error=errors.append)
        got = []
        for t in range(0, 40):
            k = keys.poll(t)
            if k:
                got.append((t, k))
        self.assertEqual([k for _, k in got], ["1", "2", "OFFHOOK", "ONHOOK"])
        self.assertEqual(keys.errors, 1)
        self.assertIn("bogus", errors[0])
        # HANGUP arrived at t=6 with a 10 ms wait: due at 16.
        self.assertEqual(got[-1][0], 16)

    def test_endless_line_is_dropped(self):
        keys = StreamKeys(lambda: b"1" * 600)
        keys.poll(0)
        keys.poll(1)
        self.assertEqual(keys.errors, 1)
        self.assertIsNone(keys.poll(2))


class DisplayTest(TempDirCase):
    def test_screen_log_and_last_screen(self):
        printed = []
        d = TextDisplay(10, 3, out=printed.append, log_path=self.path("d.log"), name="alice")
        d.show(["SRTP+ZRTP  ok", "Calling", "bob@example.org"])
        self.assertEqual(d.text(), ["SRTP+ZRTP", "Calling", "bob@exampl"])
        self.assertEqual(d.screen[0], "SRTP+ZRTP ")
        self.assertEqual(d.screen[1], "Calling   ")
        d.show(["SRTP+ZRTP  ok", "Calling", "bob@example.org"])  # same screen: not printed again
        d.show(["idle"])
        self.assertEqual(d.text(), ["idle", "", ""])
        self.assertEqual(len(printed), 2)
        self.assertEqual(d.updates, 2)
        self.assertEqual(len(d.history), 2)
        self.assertIn("[alice]", printed[0])
        self.assertIn("|Calling   |", printed[0])
        with open(self.path("d.log")) as f:
            log = f.read()
        self.assertEqual(log, printed[0] + "\n" + printed[1] + "\n")
        d.clear()
        self.assertEqual(d.text(), ["", "", ""])

    def test_history_keeps_the_last_screens_only(self):
        d = TextDisplay(10, 2, history=2)
        for i in range(5):
            d.show(["screen %d" % i])
        self.assertEqual([s[0].rstrip() for s in d.history], ["screen 3", "screen 4"])
        self.assertEqual(d.updates, 5)

    def test_fit_lines(self):
        self.assertEqual(fit_lines(("abc", "toolongline"), 4, 3), ["abc ", "tool", "    "])


class StoreTest(TempDirCase):
    def test_values_defaults_and_durability(self):
        store = NvsStore(Nvs(self.dir, "hush_cfg"))
        self.assertIsNone(store.get_int("ring_vol"))
        self.assertEqual(store.get_int("ring_vol", 5), 5)
        store.set_int("ring_vol", 7)
        store.set_int("neg", -(1 << 31))
        big = bytes(range(256)) * 3  # larger than the first read buffer
        store.set_bytes("cert", big)
        store.set_bytes("lang", "de")
        self.assertEqual(store.get_int("ring_vol"), 7)
        self.assertEqual(store.get_bytes("cert"), big)
        # Not committed: a fresh handle (a reboot) sees nothing yet.
        self.assertIsNone(NvsStore(Nvs(self.dir, "hush_cfg")).get_int("ring_vol"))
        store.commit()
        again = NvsStore(Nvs(self.dir, "hush_cfg"))
        self.assertEqual((again.get_int("ring_vol"), again.get_int("neg")), (7, -(1 << 31)))
        self.assertEqual(again.get_bytes("cert"), big)
        self.assertEqual(again.get_bytes("lang"), b"de")
        again.delete("lang")
        again.delete("lang")  # deleting a missing key is not an error
        again.commit()
        self.assertIsNone(NvsStore(Nvs(self.dir, "hush_cfg")).get_bytes("lang"))

    def test_misuse_is_a_store_error(self):
        store = NvsStore(Nvs(self.dir, "hush_cfg"))
        store.set_int("n", 1)
        store.set_bytes("b", b"x")
        for fn in (
            lambda: store.get_bytes("n"),  # stored as an integer
            lambda: store.get_int("b"),
            lambda: store.set_int("n", 1 << 31),
            lambda: store.set_int("n", True),
            lambda: store.set_int("a_key_that_is_too_long", 1),
            lambda: store.get_int(""),
            lambda: store.set_bytes("b", bytes(5000)),
        ):
            with self.assertRaises(StoreError):
                fn()


class BoardTest(TempDirCase):
    def test_build_gives_every_part(self):
        printed = []
        hal = unix_board.build(
            {"root": self.dir, "tone_hz": 1000, "speaker_wav": self.path("spk.wav"), "keys": "1,CALL", "name": "sim"},
            out=printed.append,
        )
        self.assertEqual(hal.board, "sim")
        hal.audio.start()
        buf = bytearray(FRAME_BYTES)
        self.assertTrue(hal.audio.read_frame(buf))
        self.assertTrue(hal.audio.write_frame(buf))
        hal.audio.close()
        self.assertEqual(open_wav(self.path("spk.wav")).data_bytes, FRAME_BYTES)
        self.assertEqual([hal.keypad.poll(0), hal.keypad.poll(0), hal.keypad.poll(0)], ["1", "OFFHOOK", None])
        hal.display.show(["ready"])
        self.assertEqual(hal.display.text()[0], "ready")
        self.assertEqual(len(printed), 1)
        hal.settings.set_int("ring_vol", 3)
        hal.settings.commit()
        self.assertEqual(NvsStore(Nvs(self.dir, "hush_cfg")).get_int("ring_vol"), 3)
        self.assertEqual(len(hal.random_bytes(16)), 16)
        t0 = hal.clock.ticks_ms()
        self.assertGreaterEqual(hal.clock.ticks_diff(hal.clock.ticks_ms(), t0), 0)
        self.assertIsNone(hal.clock.unix_time())
        hal.clock.set_unix_time(1700000000)
        self.assertAlmostEqual(hal.clock.unix_time(), 1700000000, delta=1)


if __name__ == "__main__":
    unittest.main()
