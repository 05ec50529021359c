# RTP packets (RFC 3550 §5.1): byte-exact round trips, every header field,
# and malformed packets rejected with RtpError.
import unittest

from coretest import unhex
from hushphone import rtp
from hushphone.rtp import RtpError, RtpPacket

# V=2 P=0 X=0 CC=0 M=1 PT=0 seq=0x1234 ts=0xcafebabe ssrc=0xdecafbad
SIMPLE = unhex("80801234 cafebabe decafbad") + b"\xff" * 160
# V=2 P=1 X=1 CC=2, M=0 PT=8, 2 CSRCs, extension 0xBEDE with 2 words, 3 payload bytes, 4 padding bytes
FULL = (
    unhex("b208fffe 00000001 11223344 aaaaaaaa bbbbbbbb bede0002 01020304 05060708")
    + b"xyz"
    + unhex("00000004")
)


class ParseTest(unittest.TestCase):
    def test_simple(self):
        p = RtpPacket.parse(SIMPLE)
        self.assertEqual(p.payload_type, 0)
        self.assertTrue(p.marker)
        self.assertEqual(p.sequence_number, 0x1234)
        self.assertEqual(p.timestamp, 0xCAFEBABE)
        self.assertEqual(p.ssrc, 0xDECAFBAD)
        self.assertEqual(p.csrcs, [])
        self.assertIsNone(p.extension)
        self.assertEqual(p.padding, 0)
        self.assertEqual(p.payload, b"\xff" * 160)
        self.assertEqual(p.serialize(), SIMPLE)

    def test_csrcs_extension_padding(self):
        p = RtpPacket.parse(FULL)
        self.assertFalse(p.marker)
        self.assertEqual(p.payload_type, 8)
        self.assertEqual(p.sequence_number, 0xFFFE)
        self.assertEqual(p.csrcs, [0xAAAAAAAA, 0xBBBBBBBB])
        self.assertEqual(p.extension_profile, 0xBEDE)
        self.assertEqual(p.extension, unhex("01020304 05060708"))
        self.assertEqual(p.payload, b"xyz")
        self.assertEqual(p.padding, 4)
        self.assertEqual(p.serialize(), FULL)

    def test_build_and_parse_back(self):
        p = RtpPacket(payload_type=101, sequence_number=65535, timestamp=0xFFFFFFFF, ssrc=1, payload=b"\x01\x02",
                      marker=True, csrcs=[7], extension_profile=0x1000, extension=b"", padding=2)
        data = p.serialize()
        self.assertEqual(data[:2], b"\xb1\xe5")  # P, X, CC=1; M + PT 101
        q = RtpPacket.parse(data)
        self.assertEqual(q, p)
        self.assertEqual(q.extension, b"")
        self.assertEqual(q.payload, b"\x01\x02")

    def test_header_only_helpers(self):
        self.assertEqual(rtp.header_length(SIMPLE), 12)
        self.assertEqual(rtp.header_length(FULL), 12 + 8 + 4 + 8)
        self.assertEqual(rtp.sequence_number(FULL), 0xFFFE)
        self.assertEqual(rtp.timestamp(SIMPLE), 0xCAFEBABE)
        self.assertEqual(rtp.ssrc(SIMPLE), 0xDECAFBAD)
        # a usable length shorter than the buffer (SRTP: the tag is not RTP)
        with self.assertRaises(RtpError):
            rtp.header_length(FULL, 30)


class MalformedTest(unittest.TestCase):
    def check(self, data):
        with self.assertRaises(RtpError):
            RtpPacket.parse(data)

    def test_short(self):
        for n in range(12):
            self.check(SIMPLE[:n])

    def test_wrong_version(self):
        for b0 in (0x00, 0x40, 0xC0):
            self.check(bytes((b0,)) + SIMPLE[1:])

    def test_csrcs_beyond_packet(self):
        self.check(b"\x8f" + SIMPLE[1:12] + bytes(59))  # 15 CSRCs need 60 bytes

    def test_extension_truncated(self):
        self.check(b"\x90" + SIMPLE[1:12] + b"\xbe\xde")  # no room for the length
        self.check(b"\x90" + SIMPLE[1:12] + unhex("bede0003 00000000"))  # 3 words promised, 1 given

    def test_bad_padding(self):
        self.check(b"\xa0" + SIMPLE[1:12])  # P set, nothing to pad
        self.check(b"\xa0" + SIMPLE[1:12] + b"ab\x00")  # count 0
        self.check(b"\xa0" + SIMPLE[1:12] + b"ab\x04")  # more than the payload

    def test_serialize_rejects_out_of_range(self):
        for kwargs in ({"payload_type": 128}, {"sequence_number": 65536}, {"timestamp": -1},
                       {"ssrc": 1 << 32}, {"csrcs": [0] * 16}, {"extension": b"abc"}, {"padding": 256}):
            with self.assertRaises(ValueError):
                RtpPacket(**kwargs).serialize()
