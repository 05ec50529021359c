# The asyncio UDP driver on this runtime: two media sessions on loopback
# sockets with random ports, each on its own 20 ms clock, for about a second.
import asyncio
import unittest

from media_drivers import UdpMediaDriver

from hushphone.app.media import MediaSession, bind_random_port, sockaddr, srtp_pair
from hushphone.audio.tone import ToneDetector, ToneGenerator
from hushphone.crypto.random import random_below, random_bytes

SUITE = "AES_CM_128_HMAC_SHA1_80"
SECONDS = 1.2


class Endpoint:
    def __init__(self, session, freq_out, freq_in):
        self.sock, self.port = bind_random_port("127.0.0.1", random_below)
        self.driver = UdpMediaDriver(session, self.sock)
        self.gen = ToneGenerator(freq_out, 0.5)
        self.heard = ToneDetector(freq_in)
        self.frames = 0

    def source(self, frame):
        self.gen.fill(frame)

    def sink(self, frame, now_ms):
        self.frames += 1
        if now_ms >= 300:  # after the jitter buffer has filled
            self.heard.add(frame)


class UdpDriverTest(unittest.TestCase):
    def test_tone_both_ways_over_loopback(self):
        ka, sa, kb, sb = random_bytes(16), random_bytes(14), random_bytes(16), random_bytes(14)
        a_tx, a_rx = srtp_pair(SUITE, ka, sa, kb, sb)
        b_tx, b_rx = srtp_pair(SUITE, kb, sb, ka, sa)
        alice = Endpoint(MediaSession("PCMU", a_tx, a_rx, random_bytes), 1000, 1500)
        bob = Endpoint(MediaSession("PCMU", b_tx, b_rx, random_bytes), 1500, 1000)
        self.assertNotEqual(alice.port, bob.port)
        self.assertEqual(alice.port % 2, 0)
        alice.driver.set_remote("127.0.0.1", bob.port)
        bob.driver.remote = sockaddr("127.0.0.1", alice.port)

        async def call():
            ms = int(SECONDS * 1000)
            await asyncio.gather(
                alice.driver.run(alice.source, alice.sink, duration_ms=ms),
                bob.driver.run(bob.source, bob.sink, duration_ms=ms),
            )

        try:
            asyncio.run(call())
        finally:
            alice.driver.close()
            bob.driver.close()
        for ep, other in ((alice, bob), (bob, alice)):
            stats = ep.driver.session.stats
            # About 60 ticks; a loaded machine may skip some, never run away.
            self.assertGreater(ep.frames, 20)
            self.assertLessEqual(ep.frames, 62)
            self.assertEqual(stats.sent, ep.frames)
            self.assertGreater(stats.received, 15)
            self.assertEqual(stats.dropped_auth, 0)
            r = ep.heard.result()
            # The driver is under test here, not audio quality: a loaded
            # machine may delay ticks and force some concealment.
            self.assertTrue(r.present(min_snr_db=10), r)

    def test_random_ports_differ(self):
        socks = [bind_random_port("127.0.0.1", random_below) for _ in range(4)]
        try:
            self.assertEqual(len(set(p for _, p in socks)), 4)
            for _, port in socks:
                self.assertTrue(16384 <= port <= 32767)
        finally:
            for s, _ in socks:
                s.close()


if __name__ == "__main__":
    unittest.main()
