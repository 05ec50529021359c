# DTMF from the keypad through the media session (RFC 4733): the call's
# DtmfSender puts each key press into the SRTP stream in place of audio
# frames; the far MediaSession reports each press once, however many
# packets (updates, three end packets) carry it.
import unittest

from hushphone.app.media import MediaError, MediaSession, srtp_pair
from hushphone.app.callmedia import DtmfSender
from hushphone.crypto.random import random_bytes
from hushphone.telephone_event import decode_payload

KEY = bytes(range(16))
SALT = bytes(range(14))
KEY2 = bytes(range(100, 116))
SALT2 = bytes(range(100, 114))
SUITE = "AES_CM_128_HMAC_SHA1_80"


def pair(dtmf_pt=101):
    a_tx, b_rx = srtp_pair(SUITE, KEY, SALT, KEY, SALT)
    b_tx, a_rx = srtp_pair(SUITE, KEY2, SALT2, KEY2, SALT2)
    a = MediaSession("PCMU", a_tx, a_rx, random_bytes, dtmf_payload_type=dtmf_pt)
    b = MediaSession("PCMU", b_tx, b_rx, random_bytes, dtmf_payload_type=dtmf_pt)
    return a, b


class DtmfTest(unittest.TestCase):
    def run_ticks(self, a, b, sender, ticks):
        frame = bytearray(320)
        sent = []
        for t in range(ticks):
            packet = sender.next_packet(a) if sender.busy else None
            if packet is None:
                packet = a.send_frame(frame)
            sent.append(packet)
            b.receive_packet(packet, t * 20)
        return sent

    def test_keys_arrive_once_each_in_order(self):
        a, b = pair()
        sender = DtmfSender()
        for k in "5#0":
            sender.press(k)
        sent = self.run_ticks(a, b, sender, 40)
        self.assertEqual(b.keys, ["5", "#", "0"])
        self.assertEqual(a.stats.dtmf_sent, 3 * 7)  # 100 ms: 4 updates + 3 end packets each
        self.assertEqual(b.stats.dtmf_received, 3 * 7)
        self.assertEqual(b.stats.dropped_auth + b.stats.dropped_malformed + b.stats.other_payload, 0)
        self.assertFalse(sender.busy)
        # One packet per 20 ms tick: events replace audio, the rate stays.
        self.assertEqual(len(sent), 40)
        self.assertEqual(a.stats.sent + a.stats.dtmf_sent, 40)

    def test_event_packets_follow_rfc4733(self):
        a, b = pair()
        rx = srtp_pair(SUITE, KEY, SALT, KEY, SALT)[1]  # a second receiver to look inside
        sender = DtmfSender()
        first_ts = a.timestamp
        sender.press("7")
        plain = [rx.unprotect(sender.next_packet(a)) for _ in range(7)]
        seqs = [(p[2] << 8) | p[3] for p in plain]
        self.assertEqual(seqs, [(seqs[0] + i) & 0xFFFF for i in range(7)])
        for i, p in enumerate(plain):
            self.assertEqual(p[1] & 0x7F, 101)
            self.assertEqual(bool(p[1] & 0x80), i == 0)  # marker on the first packet only
            ts = (p[4] << 24) | (p[5] << 16) | (p[6] << 8) | p[7]
            self.assertEqual(ts, first_ts)  # every packet carries the press's timestamp
            ev = decode_payload(p[12:16])
            self.assertEqual(ev.event, 7)
            self.assertEqual(ev.end, i >= 4)
        self.assertEqual(decode_payload(plain[-1][12:16]).duration, 800)
        self.assertEqual(a.timestamp, (first_ts + 7 * 160) & 0xFFFFFFFF)  # the audio clock moved on

    def test_no_dtmf_without_a_negotiated_payload_type(self):
        a, b = pair(None)
        self.assertRaises(MediaError, a.send_event, b"\x05\x0a\x00\xa0", True, 0)
        a2, _ = pair()
        packet = DtmfSender()
        packet.press("1")
        b.receive_packet(packet.next_packet(a2), 0)  # a peer's telephone-event we did not agree to
        self.assertEqual(b.keys, [])

    def test_garbled_event_payload_is_counted_not_raised(self):
        a, b = pair()
        b.receive_packet(a.send_event(b"\x05\x0a", True, a.timestamp), 0)  # 2 bytes: not an event
        self.assertEqual(b.stats.dropped_malformed, 1)
        self.assertEqual(b.keys, [])


if __name__ == "__main__":
    unittest.main()
