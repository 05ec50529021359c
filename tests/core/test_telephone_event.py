# RFC 4733 telephone-event: payload layout, the sending pattern for a key
# press, and a receiver that reports each press once whatever the network
# does to the packets.
import unittest

from coretest import unhex
from hushphone import telephone_event as te

# Payloads written out by hand from the RFC 4733 section 2.3 layout:
# event (8 bits) | E (1) R (1) volume (6) | duration (16, network order).
RFC_LAYOUT_VECTORS = (
    # hex,        event, end,  volume, duration
    ("01 0a 01 90", 1, False, 10, 400),  # '1', -10 dBm0, 50 ms at 8 kHz
    ("0b 8a 06 40", 11, True, 10, 1600),  # '#', end of a 200 ms tone
    ("0a 07 00 a0", 10, False, 7, 160),  # '*', 20 ms
    ("0f bf ff ff", 15, True, 63, 0xFFFF),  # 'D', quietest, longest
    ("00 00 00 00", 0, False, 0, 0),  # '0', loudest, start of event
)


class KeypadTest(unittest.TestCase):
    def test_rfc4733_event_codes(self):
        expected = {
            "0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 7, "8": 8, "9": 9,
            "*": 10, "#": 11, "A": 12, "B": 13, "C": 14, "D": 15,
        }  # fmt: skip
        for key, code in expected.items():
            self.assertEqual(te.event_for_key(key), code)
            self.assertEqual(te.key_for_event(code), key)
        self.assertEqual(te.event_for_key("d"), 15)

    def test_not_a_key(self):
        for key in ("E", "", "12", " ", 5, None):
            with self.assertRaises(te.LocalTelephoneEventError):
                te.event_for_key(key)
        for code in (16, -1, 255, "1", None):
            with self.assertRaises(te.LocalTelephoneEventError):
                te.key_for_event(code)


class PayloadTest(unittest.TestCase):
    def test_encode_rfc_layout(self):
        for text, event, end, volume, duration in RFC_LAYOUT_VECTORS:
            self.assertEqual(te.encode_payload(event, duration, end, volume), unhex(text))

    def test_decode_rfc_layout(self):
        for text, event, end, volume, duration in RFC_LAYOUT_VECTORS:
            decoded = te.decode_payload(unhex(text))
            self.assertEqual(decoded, te.TelephoneEvent(event, duration, end, volume))
            self.assertEqual(decoded.encode(), unhex(text))

    def test_reserved_bit_ignored_on_receive_and_never_sent(self):
        # '5' with R set, without and with E: the R bit changes nothing.
        self.assertEqual(te.decode_payload(unhex("05 4a 03 20")), te.TelephoneEvent(5, 800, False, 10))
        self.assertEqual(te.decode_payload(unhex("05 ca 03 20")), te.TelephoneEvent(5, 800, True, 10))
        self.assertEqual(te.decode_payload(memoryview(unhex("05 ca 03 20"))).end, True)
        for packet in te.key_press_packets("5", 2000, 160, volume=63):
            self.assertEqual(packet.payload[1] & 0x40, 0)

    def test_malformed_payloads_rejected(self):
        for payload in (b"", b"\x01", b"\x01\x0a\x01", b"\x01\x0a\x01\x90\x00", b"\x01\x0a\x01\x90" * 2, "abcd", None, [1, 10, 1, 144]):
            with self.assertRaises(te.RemoteTelephoneEventError):
                te.decode_payload(payload)
        self.assertTrue(issubclass(te.RemoteTelephoneEventError, te.TelephoneEventError))
        self.assertTrue(issubclass(te.TelephoneEventError, ValueError))

    def test_encode_out_of_range_rejected(self):
        for args in ((256, 0), (-1, 0), (1, 0x10000), (1, -1), (1, 400, False, 64), (1, 400, False, -1), (1, "400"), (1, 400.0)):
            with self.assertRaises(te.LocalTelephoneEventError):
                te.encode_payload(*args)


def summary(packets):
    return [(p.send_at, p.timestamp_offset, p.marker, p.payload) for p in packets]


class KeyPressSenderTest(unittest.TestCase):
    def test_sequence_every_50ms(self):
        # '7' held 125 ms, updates every 50 ms (400 units at 8 kHz).
        self.assertEqual(
            summary(te.key_press_packets("7", 1000, 400)),
            [
                (400, 0, True, unhex("07 0a 01 90")),  # first report, marker
                (800, 0, False, unhex("07 0a 03 20")),  # duration grows
                (1000, 0, False, unhex("07 8a 03 e8")),  # released: E bit
                (1400, 0, False, unhex("07 8a 03 e8")),  # same final packet...
                (1800, 0, False, unhex("07 8a 03 e8")),  # ...three times
            ],
        )

    def test_sequence_per_ptime(self):
        packets = list(te.key_press_packets("#", 1600, 160, volume=20))
        updates, finals = packets[:-3], packets[-3:]
        self.assertEqual([p.event.duration for p in updates], [160 * i for i in range(1, 10)])
        self.assertEqual([p.marker for p in packets], [True] + [False] * 11)
        self.assertEqual([p.send_at for p in finals], [1600, 1760, 1920])
        for p in packets:
            self.assertEqual(p.timestamp_offset, 0)
            self.assertEqual(p.event.event, 11)
            self.assertEqual(p.event.volume, 20)
            self.assertEqual(p.event.end, p in finals)
        self.assertEqual(finals[0].payload, unhex("0b 94 06 40"))
        self.assertEqual(finals[1].payload, finals[0].payload)
        self.assertEqual(finals[2].payload, finals[0].payload)

    def test_press_shorter_than_one_interval(self):
        self.assertEqual(
            summary(te.key_press_packets("0", 100, 400)),
            [(100, 0, True, unhex("00 8a 00 64")), (500, 0, False, unhex("00 8a 00 64")), (900, 0, False, unhex("00 8a 00 64"))],
        )

    def test_long_press_split_into_segments(self):
        packets = list(te.key_press_packets("9", 140000, 400))
        offsets = []
        for p in packets:
            if p.timestamp_offset not in offsets:
                offsets.append(p.timestamp_offset)
        self.assertEqual(offsets, [0, 0xFFFF, 2 * 0xFFFF])
        self.assertEqual([p.marker for p in packets].count(True), 1)
        self.assertTrue(packets[0].marker)
        for offset in offsets[:2]:
            last = [p for p in packets if p.timestamp_offset == offset][-1]
            self.assertEqual(last.payload, unhex("09 0a ff ff"))  # full, no E bit
        finals = packets[-3:]
        self.assertEqual(finals[0].payload, te.encode_payload(9, 140000 - 2 * 0xFFFF, True))
        self.assertEqual([p.timestamp_offset for p in finals], [2 * 0xFFFF] * 3)
        self.assertEqual(len([p for p in packets if p.event.end]), 3)
        sends = [p.send_at for p in packets]
        self.assertEqual(sends, sorted(sends))

    def test_bad_arguments(self):
        for args, kwargs in ((("X", 800), {}), (("1", 0), {}), (("1", 800, 0), {}), (("1", 800), {"volume": 64})):
            with self.assertRaises(te.LocalTelephoneEventError):
                list(te.key_press_packets(*args, **kwargs))


class Lcg:
    """A tiny deterministic shuffler, the same on both runtimes."""

    def __init__(self, seed):
        self.state = seed

    def below(self, n):
        self.state = (self.state * 1103515245 + 12345) & 0x7FFFFFFF
        return self.state % n


def wire(keys, first_timestamp, gap=8000, interval=160):
    """(rtp_timestamp, payload, marker) for each packet of each key press."""
    packets = []
    for i, key in enumerate(keys):
        start = first_timestamp + i * gap
        for p in te.key_press_packets(key, 800 + 160 * i, interval):
            packets.append(((start + p.timestamp_offset) & 0xFFFFFFFF, p.payload, p.marker))
    return packets


def feed(receiver, packets):
    reported = []
    for timestamp, payload, marker in packets:
        press = receiver.receive(timestamp, payload, marker)
        if press is not None:
            reported.append(press)
    return reported


class DtmfReceiverTest(unittest.TestCase):
    def test_in_order_each_key_once(self):
        packets = wire("1#5", 1000)
        reported = feed(te.DtmfReceiver(), packets)
        self.assertEqual([p.key for p in reported], ["1", "#", "5"])
        self.assertEqual([p.timestamp for p in reported], [1000, 9000, 17000])
        self.assertEqual(reported[0].volume, te.DEFAULT_VOLUME)

    def test_duplicated_and_reordered_packets_each_key_once(self):
        # Timestamps wrap past 2**32 in the middle of the sequence.
        packets = wire("1#5*0D", 0xFFFFC000)
        rng = Lcg(4733)
        noisy = []
        for packet in packets:
            noisy.append(packet)
            if packet[1][1] & 0x80 or rng.below(4) == 0:  # every end packet twice
                noisy.append(packet)
        # Local reordering: swap neighbours at random, several passes.
        for _ in range(3):
            for i in range(len(noisy) - 1):
                if rng.below(3) == 0:
                    noisy[i], noisy[i + 1] = noisy[i + 1], noisy[i]
        # A key press whose end packets overtake its first update.
        first = [p for p in noisy if p[0] == packets[0][0]]
        noisy = [first[-1]] + [p for p in noisy if p is not first[-1]]
        # Very late copies of the first press's end packet.
        noisy += [packets[5]] * 3
        receiver = te.DtmfReceiver()
        reported = feed(receiver, noisy)
        self.assertEqual(sorted(p.key for p in reported), sorted("1#5*0D"))
        self.assertEqual(len(reported), 6)
        self.assertEqual(reported[0].key, "1")
        self.assertEqual(reported[0].timestamp, 0xFFFFC000)

    def test_end_packets_only(self):
        # All updates lost: the end packets alone report the key, once.
        packets = [p for p in wire("8", 5000) if p[1][1] & 0x80]
        self.assertEqual(len(packets), 3)
        self.assertEqual([p.key for p in feed(te.DtmfReceiver(), packets)], ["8"])

    def test_same_key_twice_is_two_presses(self):
        self.assertEqual([p.key for p in feed(te.DtmfReceiver(), wire("33", 0))], ["3", "3"])

    def test_long_press_segments_are_one_press(self):
        packets = []
        for p in te.key_press_packets("C", 140000, 400):
            packets.append((77 + p.timestamp_offset, p.payload, p.marker))
        packets += wire("C", 77 + 150000)  # a new, separate press of the same key
        self.assertEqual([p.key for p in feed(te.DtmfReceiver(), packets)], ["C", "C"])

    def test_non_dtmf_events_ignored(self):
        receiver = te.DtmfReceiver()
        flash = te.encode_payload(16, 800, True)  # RFC 4734 hook flash
        self.assertIsNone(receiver.receive(100, flash, True))
        self.assertEqual(receiver.ignored, 1)
        self.assertEqual(receiver.receive(900, te.encode_payload(2, 160), True).key, "2")

    def test_malformed_payload_raises_and_receiver_keeps_working(self):
        receiver = te.DtmfReceiver()
        with self.assertRaises(te.RemoteTelephoneEventError):
            receiver.receive(100, b"\x01\x0a", True)
        self.assertEqual([p.key for p in feed(receiver, wire("4", 100))], ["4"])

    def test_history_is_bounded(self):
        receiver = te.DtmfReceiver(history=4)
        reported = feed(receiver, wire("0123456789", 0))
        self.assertEqual("".join(p.key for p in reported), "0123456789")
        self.assertLessEqual(len(receiver._recent), 4)
