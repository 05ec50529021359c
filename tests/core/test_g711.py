# G.711 against the standard tables, exhaustively: every 16-bit input and
# every code. The reference files under tests/core/data were produced by
# CPython 3.11's audioop (tests/host/test_g711_audioop.py proves they still
# equal audioop's output):
#   g711_{ulaw,alaw}_encode.bin  65,536 codes, one per input sample, in the
#                                order of the sample's unsigned 16-bit value
#   g711_{ulaw,alaw}_decode.bin  256 samples, 16-bit little-endian, by code
import unittest

from coretest import IS_MICROPYTHON, read_data
from hushphone import g711


def all_samples():
    """Every 16-bit sample, little-endian, ordered by its unsigned value."""
    pcm = bytearray(2 * 65536)
    for value in range(65536):
        pcm[2 * value] = value & 0xFF
        pcm[2 * value + 1] = value >> 8
    return pcm


def first_difference(got, want):
    for i in range(min(len(got), len(want))):
        if got[i] != want[i]:
            return "index %d: got %d, want %d" % (i, got[i], want[i])
    return "lengths %d != %d" % (len(got), len(want))


class ReferenceTablesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pcm = all_samples()

    def assertSameBytes(self, got, want):
        if bytes(got) != bytes(want):
            self.fail(first_difference(got, want))

    def test_ulaw_encode_all_65536_inputs(self):
        self.assertSameBytes(g711.ulaw_encode(self.pcm), read_data("g711_ulaw_encode.bin"))

    def test_alaw_encode_all_65536_inputs(self):
        self.assertSameBytes(g711.alaw_encode(self.pcm), read_data("g711_alaw_encode.bin"))

    def test_ulaw_decode_all_256_codes(self):
        self.assertSameBytes(g711.ulaw_decode(bytes(range(256))), read_data("g711_ulaw_decode.bin"))

    def test_alaw_decode_all_256_codes(self):
        self.assertSameBytes(g711.alaw_decode(bytes(range(256))), read_data("g711_alaw_decode.bin"))

    def test_plain_python_twins_all_inputs(self):
        # On MicroPython the public functions run viper code: the plain twins
        # (what CPython runs) must agree with the same reference there too.
        out = bytearray(65536)
        g711._ulaw_encode_py(self.pcm, out, 65536)
        self.assertSameBytes(out, read_data("g711_ulaw_encode.bin"))
        g711._alaw_encode_py(self.pcm, out, 65536)
        self.assertSameBytes(out, read_data("g711_alaw_encode.bin"))
        pcm = bytearray(512)
        g711._decode_py(bytes(range(256)), pcm, 256, g711._ULAW_TO_PCM)
        self.assertSameBytes(pcm, read_data("g711_ulaw_decode.bin"))
        g711._decode_py(bytes(range(256)), pcm, 256, g711._ALAW_TO_PCM)
        self.assertSameBytes(pcm, read_data("g711_alaw_decode.bin"))

    def test_code_round_trip(self):
        # Decoding a code and encoding the sample gives the code back; the
        # only exception is mu-law's "negative zero" 0x7F, which is 0 -> 0xFF.
        codes = bytes(range(256))
        ulaw = bytearray(g711.ulaw_encode(g711.ulaw_decode(codes)))
        self.assertEqual(ulaw[0x7F], 0xFF)
        ulaw[0x7F] = 0x7F
        self.assertSameBytes(ulaw, codes)
        self.assertSameBytes(g711.alaw_encode(g711.alaw_decode(codes)), codes)


class KnownValuesTest(unittest.TestCase):
    def test_silence_and_extremes(self):
        pcm = b"\x00\x00\xff\x7f\x00\x80\xff\xff"  # 0, 32767, -32768, -1
        self.assertEqual(g711.ulaw_encode(pcm), b"\xff\x80\x00\x7e")
        self.assertEqual(g711.alaw_encode(pcm), b"\xd5\xaa\x2a\x55")
        self.assertEqual(g711.ulaw_decode(b"\xff\x7f\x80\x00"), b"\x00\x00\x00\x00\x7c\x7d\x84\x82")
        self.assertEqual(g711.alaw_decode(b"\xd5\x55\xaa\x2a"), b"\x08\x00\xf8\xff\x00\x7e\x00\x82")

    def test_empty(self):
        self.assertEqual(g711.ulaw_encode(b""), b"")
        self.assertEqual(g711.alaw_decode(b""), b"")
        self.assertEqual(g711.ulaw_encode_into(b"", bytearray(0)), 0)


class IntoBufferTest(unittest.TestCase):
    def setUp(self):
        # One 20 ms frame (160 samples) of a sweep over the whole range.
        self.pcm = bytearray(320)
        for i in range(160):
            value = (i * 409) & 0xFFFF
            self.pcm[2 * i] = value & 0xFF
            self.pcm[2 * i + 1] = value >> 8

    def test_encode_into_matches_encode_and_leaves_the_rest(self):
        for encode, encode_into in ((g711.ulaw_encode, g711.ulaw_encode_into), (g711.alaw_encode, g711.alaw_encode_into)):
            out = bytearray(b"\xee" * 170)
            self.assertEqual(encode_into(self.pcm, out), 160)
            self.assertEqual(bytes(out[:160]), encode(self.pcm))
            self.assertEqual(bytes(out[160:]), b"\xee" * 10)

    def test_decode_into_matches_decode_and_leaves_the_rest(self):
        codes = bytes(range(0, 256, 2))
        for decode, decode_into in ((g711.ulaw_decode, g711.ulaw_decode_into), (g711.alaw_decode, g711.alaw_decode_into)):
            out = bytearray(b"\xee" * 300)
            self.assertEqual(decode_into(codes, out), 256)
            self.assertEqual(bytes(out[:256]), decode(codes))
            self.assertEqual(bytes(out[256:]), b"\xee" * 44)

    def test_memoryview_slices_at_odd_offsets(self):
        # An RTP payload is a slice of a packet buffer: no alignment assumed.
        packet = bytearray(1 + 320)
        packet[1:] = self.pcm
        out = bytearray(1 + 160)
        g711.ulaw_encode_into(memoryview(packet)[1:], memoryview(out)[1:])
        self.assertEqual(bytes(out[1:]), g711.ulaw_encode(self.pcm))
        pcm_out = bytearray(3 + 320)
        g711.ulaw_decode_into(memoryview(out)[1:], memoryview(pcm_out)[3:])
        self.assertEqual(bytes(pcm_out[3:]), g711.ulaw_decode(bytes(out[1:])))

    def test_bad_arguments_raise_g711_error(self):
        cases = (
            (g711.ulaw_encode_into, b"\x00\x00\x00", bytearray(4)),  # odd PCM length
            (g711.alaw_encode_into, b"\x00" * 320, bytearray(159)),  # output too small
            (g711.ulaw_decode_into, b"\x00" * 160, bytearray(319)),
            (g711.alaw_decode_into, b"\x00" * 160, bytes(320)),  # immutable output
            (g711.ulaw_encode_into, b"\x00" * 4, memoryview(bytes(4))),  # read-only view
            (g711.ulaw_encode_into, [0, 0, 0, 0], bytearray(4)),  # not a buffer
            (g711.alaw_decode_into, "codes", bytearray(10)),
            (g711.ulaw_decode_into, None, bytearray(10)),
        )
        for func, src, out in cases:
            with self.assertRaises(g711.G711Error):
                func(src, out)
        for func in (g711.ulaw_encode, g711.alaw_encode, g711.ulaw_decode, g711.alaw_decode):
            with self.assertRaises(g711.G711Error):
                func(12345)
        with self.assertRaises(g711.G711Error):
            g711.alaw_encode(b"\x01")
        self.assertTrue(issubclass(g711.G711Error, ValueError))


if IS_MICROPYTHON:
    import gc

    class NoAllocationTest(unittest.TestCase):
        """The media engine calls the *_into functions every 20 ms: on the
        handset they must not touch the heap (CPython boxes every int, so
        this is a MicroPython-only property)."""

        def test_into_functions_allocate_nothing(self):
            pcm = bytearray(320)
            codes = bytearray(160)
            view = memoryview(bytearray(330))[10:]
            calls = (
                (g711.ulaw_encode_into, pcm, codes),
                (g711.alaw_encode_into, pcm, codes),
                (g711.ulaw_decode_into, codes, pcm),
                (g711.alaw_decode_into, codes, view),
            )
            for func, src, out in calls:
                func(src, out)  # warm up
                gc.collect()
                before = gc.mem_alloc()
                i = 0
                while i < 50:
                    func(src, out)
                    i += 1
                self.assertEqual(gc.mem_alloc() - before, 0)
