# ZRTP on the RTP port: two ZrtpMediaSessions agree keys in-band, then
# audio flows over SRTP. Over a fake link with a fake clock (demux, no
# audio before secure, implicit Conf2ACK) and over loopback UDP with the
# asyncio driver on this runtime (a tone crosses both ways).
import asyncio
import unittest

from media_drivers import ZrtpUdpDriver
from zrtp_fakelink import Party

from hushphone.app.media import bind_random_port, sockaddr
from hushphone.audio.tone import ToneDetector, ToneGenerator
from hushphone.crypto.random import random_below, random_bytes
from hushphone.zrtp import packets
from hushphone.zrtp.engine import ZrtpConfig
from hushphone.zrtp.events import ZrtpSecure
from hushphone.app.zrtpmedia import ZrtpMediaSession


def sessions(b_config=None):
    alice, bob = Party("alice"), Party("bob")
    a = ZrtpMediaSession(alice.engine(), "PCMU", random_bytes)
    b = ZrtpMediaSession(bob.engine(b_config), "PCMU", random_bytes)
    return a, b


class FakeNetworkTest(unittest.TestCase):
    def test_no_audio_until_secure_then_srtp(self):
        a, b = sessions(ZrtpConfig(passive=True))
        tone = ToneGenerator(1000, 0.5).frame()
        a.start(0)
        b.start(0)
        self.assertIsNone(a.send_frame(tone))  # no plaintext audio, ever
        self.assertEqual(a.play_frame(0), bytearray(320))
        lost_conf2ack = []
        now = 0
        for _ in range(200):
            now += 20
            for src, dst in ((a, b), (b, a)):
                src.poll(now)
                for d in src.datagrams_to_send():
                    self.assertTrue(packets.is_zrtp(d))
                    if packets.parse_message(packets.parse_packet(d)[2]).kind == packets.CONF2ACK:
                        lost_conf2ack.append(d)
                        continue  # lost: the initiator must learn from SRTP
                    dst.receive_datagram(d, now)
                packet = src.send_frame(tone)
                if packet is not None:
                    self.assertFalse(packets.is_zrtp(packet))
                    dst.receive_datagram(packet, now)
            if a.media and b.media and a.media.stats.received > 5 and b.media.stats.received > 5:
                break
        self.assertTrue(lost_conf2ack)
        self.assertIsInstance(a.secure, ZrtpSecure)
        self.assertIsInstance(b.secure, ZrtpSecure)
        self.assertEqual(a.secure.sas, b.secure.sas)
        self.assertEqual(a.engine.role, "initiator")
        # The initiator went secure on the responder's first SRTP packet.
        self.assertEqual(a.engine.state, "secure")
        self.assertGreater(a.media.stats.received, 5)
        self.assertEqual(a.media.stats.dropped_auth + b.media.stats.dropped_auth, 0)
        # RTP that is not authentic is dropped, not played, not fatal.
        self.assertFalse(b.receive_datagram(bytes([0x80, 0, 0, 9]) + bytes(180), now))
        self.assertEqual(b.media.stats.dropped_auth, 1)


class Endpoint:
    def __init__(self, session, freq_out, freq_in):
        self.sock, self.port = bind_random_port("127.0.0.1", random_below)
        self.session = session
        self.gen = ToneGenerator(freq_out, 0.5)
        self.heard = ToneDetector(freq_in)
        self.events = []
        self.secure_at = None
        self.driver = None

    def source(self, frame):
        self.gen.fill(frame)

    def sink(self, frame, now_ms):
        if self.session.media is not None and self.secure_at is None:
            self.secure_at = now_ms
        if self.secure_at is not None and now_ms >= self.secure_at + 300:
            self.heard.add(frame)


class LoopbackUdpTest(unittest.TestCase):
    def test_tone_both_ways_after_zrtp(self):
        a, b = sessions()
        alice = Endpoint(a, 1000, 1500)
        bob = Endpoint(b, 1500, 1000)
        alice.driver = ZrtpUdpDriver(a, alice.sock, sockaddr("127.0.0.1", bob.port), alice.events.append)
        bob.driver = ZrtpUdpDriver(b, bob.sock, sockaddr("127.0.0.1", alice.port), bob.events.append)

        async def call():
            await asyncio.gather(
                alice.driver.run(alice.source, alice.sink, duration_ms=1600),
                bob.driver.run(bob.source, bob.sink, duration_ms=1600),
            )

        try:
            asyncio.run(call())
        finally:
            alice.sock.close()
            bob.sock.close()
        self.assertIsNotNone(a.secure, alice.events)
        self.assertIsNotNone(b.secure, bob.events)
        self.assertEqual(a.secure.sas, b.secure.sas)
        self.assertTrue([e for e in alice.events if isinstance(e, ZrtpSecure)])
        for ep in (alice, bob):
            self.assertGreater(ep.session.media.stats.received, 15)
            self.assertEqual(ep.session.media.stats.dropped_auth, 0)
            self.assertTrue(ep.heard.result().present(min_snr_db=10), ep.heard.result())


if __name__ == "__main__":
    unittest.main()
