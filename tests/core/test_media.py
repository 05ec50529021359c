# The sans-IO media session: two endpoints joined by a fake link and a fake
# clock, with real G.711, RTP and SRTP. The tone must get through a lossy,
# jittery link; forged, garbled and replayed packets must be dropped and
# counted while the call goes on.
import unittest

from hushphone import rtp
from hushphone.app import jitter
from hushphone.app.media import FRAME_BYTES, MediaError, MediaSession, srtp_pair
from hushphone.audio.tone import ToneDetector, ToneGenerator
from hushphone.srtp import SrtpContext

SUITE = "AES_CM_128_HMAC_SHA1_80"


class Lcg:
    """Deterministic pseudo-random numbers, the same on both runtimes."""

    def __init__(self, seed):
        self.x = seed

    def below(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % n

    def bytes(self, n):
        return bytes(self.below(256) for _ in range(n))


def keys(seed):
    r = Lcg(seed)
    return r.bytes(16), r.bytes(14), r.bytes(16), r.bytes(14)


def pair(codec="PCMU", suite=SUITE, seed=1, **kw):
    """Alice and Bob with SDES keys the way the SDP exchange hands them out."""
    ka, sa, kb, sb = keys(seed)
    if suite.startswith("AES_256"):
        ka, kb = ka + kb, kb + ka
    rnd = Lcg(seed + 100)
    a_tx, a_rx = srtp_pair(suite, ka, sa, kb, sb)
    b_tx, b_rx = srtp_pair(suite, kb, sb, ka, sa)
    alice = MediaSession(codec, a_tx, a_rx, rnd.bytes, **kw)
    bob = MediaSession(codec, b_tx, b_rx, rnd.bytes, **kw)
    return alice, bob


class FakeLink:
    """One direction of a network: drops a share of packets and delays the
    rest by 0..max_jitter ms (which also reorders them)."""

    def __init__(self, loss_percent=0, max_jitter_ms=0, seed=3):
        self.loss = loss_percent
        self.jitter = max_jitter_ms
        self.rnd = Lcg(seed)
        self.queue = []
        self.order = 0
        self.sent = 0
        self.dropped = 0

    def send(self, packet, now):
        self.sent += 1
        if self.rnd.below(100) < self.loss:
            self.dropped += 1
            return
        self.inject(now + self.rnd.below(self.jitter + 1), packet)

    def inject(self, when, packet, first=False):
        """Queue a packet for delivery at `when` (before everything else
        due then if `first`)."""
        self.order += 1
        self.queue.append((when, -self.order if first else self.order, packet))

    def deliver(self, now):
        # Sorted by (time, order): MicroPython's sort is not stable.
        due = [item for item in self.queue if item[0] <= now]
        self.queue = [item for item in self.queue if item[0] > now]
        due.sort()
        return [item[2] for item in due]


def run_call(alice, bob, frames, link_ab, link_ba, tamper=None, settle=25):
    """Both sides send a tone (1 kHz from Alice, 1.5 kHz from Bob) for
    `frames` 20 ms ticks. Returns the detectors of what each one heard
    (after `settle` frames of buffering). tamper(now, link_ab, packet) may
    inject packets into Alice->Bob (packet: the one Alice just sent)."""
    gen_a = ToneGenerator(1000, 0.5)
    gen_b = ToneGenerator(1500, 0.5)
    heard_by_bob = ToneDetector(1000)
    heard_by_alice = ToneDetector(1500)
    frame = bytearray(FRAME_BYTES)
    for k in range(frames):
        now = 20 * k
        gen_a.fill(frame)
        packet = alice.send_frame(frame)
        link_ab.send(packet, now)
        gen_b.fill(frame)
        link_ba.send(bob.send_frame(frame), now)
        if tamper is not None:
            tamper(now, link_ab, packet)
        for p in link_ab.deliver(now):
            bob.receive_packet(p, now)
        for p in link_ba.deliver(now):
            alice.receive_packet(p, now)
        out_b = bob.play_frame(now)
        out_a = alice.play_frame(now)
        if k >= settle:
            heard_by_bob.add(out_b)
            heard_by_alice.add(out_a)
    return heard_by_bob.result(), heard_by_alice.result()


class MediaPathTest(unittest.TestCase):
    def test_clean_link_carries_the_tone_both_ways(self):
        alice, bob = pair()
        at_bob, at_alice = run_call(alice, bob, 100, FakeLink(), FakeLink())
        # G.711 mu-law quantisation alone keeps a -6 dBFS tone near 34 dB.
        self.assertGreater(at_bob.snr_db, 30)
        self.assertGreater(at_alice.snr_db, 30)
        self.assertAlmostEqual(at_bob.level_dbfs, -6.0, delta=0.5)
        for s in (alice.stats, bob.stats):
            self.assertEqual(s.sent, 100)
            self.assertEqual(s.lost, 0)
            self.assertEqual(s.dropped_auth, 0)
        self.assertEqual(bob.stats.received, 100)
        self.assertEqual(bob.remote_ssrc, alice.ssrc)

    def test_pcma(self):
        alice, bob = pair("PCMA")
        self.assertEqual(alice.payload_type, 8)
        at_bob, at_alice = run_call(alice, bob, 60, FakeLink(), FakeLink())
        self.assertGreater(at_bob.snr_db, 30)
        self.assertGreater(at_alice.snr_db, 30)

    def test_aes256_suite(self):
        alice, bob = pair(suite="AES_256_CM_HMAC_SHA1_32")
        at_bob, _ = run_call(alice, bob, 40, FakeLink(), FakeLink(), settle=5)
        self.assertGreater(at_bob.snr_db, 30)

    def test_tone_survives_loss_and_jitter(self):
        alice, bob = pair()
        ab = FakeLink(loss_percent=5, max_jitter_ms=40, seed=11)
        ba = FakeLink(loss_percent=5, max_jitter_ms=40, seed=12)
        at_bob, at_alice = run_call(alice, bob, 500, ab, ba)
        self.assertGreater(ab.dropped, 10)  # the link really lost packets
        self.assertGreater(bob.stats.lost, 10)
        self.assertGreater(bob.stats.concealed, 10)
        # Concealment repeats the previous frame: a steady tone stays clean.
        self.assertGreater(at_bob.snr_db, 20, at_bob)
        self.assertGreater(at_alice.snr_db, 20, at_alice)
        self.assertTrue(at_bob.present())
        # The buffer deepened to ride out the jitter, within its bounds.
        self.assertGreater(bob.jitter.target_frames, 2)
        self.assertLessEqual(bob.jitter.target_frames, 6)

    def test_loss_without_concealment_would_hurt(self):
        # The same link, but the receiver plays silence for lost frames:
        # shows the jittery-link test above measures concealment, not luck.
        alice, bob = pair()
        ab = FakeLink(loss_percent=5, max_jitter_ms=40, seed=11)
        silence_for_gaps = bytearray(FRAME_BYTES)
        play = bob.play_frame

        def no_concealment(now):
            out = play(now)
            if bob.jitter.last_state != jitter.PLAYED:
                return silence_for_gaps
            return out

        bob.play_frame = no_concealment
        at_bob, _ = run_call(alice, bob, 500, ab, FakeLink())
        self.assertLess(at_bob.snr_db, 20)


class MediaWireTest(unittest.TestCase):
    def _plain(self, packets, key_seed=1):
        # Decrypt with Bob's receive context to look at the RTP inside.
        ka, sa, _, _ = keys(key_seed)
        rx = SrtpContext(SUITE, ka, sa)
        return [rtp.RtpPacket.parse(rx.unprotect(p)) for p in packets]

    def test_packets_are_constant_size_rtp_with_random_start(self):
        alice, _ = pair()
        frame = bytearray(FRAME_BYTES)  # silence is sent like speech
        loud = ToneGenerator(1000, 1.0).frame()
        packets = [alice.send_frame(frame if k % 2 else loud) for k in range(20)]
        self.assertEqual(sorted(set(len(p) for p in packets)), [12 + 160 + 10])
        parsed = self._plain(packets)
        first = parsed[0]
        self.assertTrue(first.marker)
        self.assertEqual(first.payload_type, 0)
        self.assertEqual(first.ssrc, alice.ssrc)
        for k, p in enumerate(parsed):
            self.assertEqual(p.sequence_number, (first.sequence_number + k) & 0xFFFF)
            self.assertEqual(p.timestamp, (first.timestamp + 160 * k) & 0xFFFFFFFF)
            self.assertEqual(p.ssrc, alice.ssrc)
            self.assertEqual(len(p.payload), 160)
            if k:
                self.assertFalse(p.marker)
        self.assertEqual(parsed[1].payload, bytes([0xFF]) * 160)  # mu-law silence

    def test_ssrc_sequence_and_timestamp_are_random_per_call(self):
        # Each session draws them from the random source it is given.
        ssrcs, seqs, stamps = set(), set(), set()
        for seed in (1, 11, 21, 31):
            alice, bob = pair(seed=seed)
            first = self._plain([alice.send_frame(bytearray(FRAME_BYTES))], key_seed=seed)[0]
            ssrcs.update((alice.ssrc, bob.ssrc))
            seqs.add(first.sequence_number)
            stamps.add(first.timestamp)
        self.assertEqual((len(ssrcs), len(seqs), len(stamps)), (8, 4, 4))

    def test_local_misuse(self):
        alice, _ = pair()
        with self.assertRaises(MediaError):
            alice.send_frame(bytes(100))
        ka, sa, kb, sb = keys(1)
        with self.assertRaises(MediaError):
            MediaSession("G722", SrtpContext(SUITE, ka, sa), SrtpContext(SUITE, kb, sb), Lcg(1).bytes)


class MediaHostileTest(unittest.TestCase):
    def test_forged_garbage_and_replayed_packets_are_dropped_and_counted(self):
        alice, bob = pair()
        rnd = Lcg(99)
        captured = []
        injected = {"forged": 0, "tampered": 0, "garbage": 0, "replayed": 0, "wrong_key": 0}
        stranger = SrtpContext(SUITE, Lcg(5).bytes(16), Lcg(6).bytes(14))
        header = bytearray(12)
        header[0] = 0x80

        def tamper(now, link, genuine):
            k = now // 20
            captured.append(genuine)
            if k % 3 == 0:  # random bytes behind a plausible RTP header
                pkt = bytes(header) + rnd.bytes(170)
                link.inject(now, pkt)
                injected["forged"] += 1
            if k % 3 == 1:  # the genuine packet with a payload or tag bit flipped
                pkt = bytearray(genuine)
                pkt[12 + rnd.below(len(pkt) - 12)] ^= 1 << rnd.below(8)
                link.inject(now, bytes(pkt), first=True)
                injected["tampered"] += 1
            if k % 5 == 2:  # not even RTP
                link.inject(now, rnd.bytes(rnd.below(40)))
                injected["garbage"] += 1
            if k % 7 == 3 and len(captured) > 3:  # an old genuine packet again
                link.inject(now, captured[-3])
                injected["replayed"] += 1
            if k % 11 == 4:  # authentic RTP under a key nobody agreed to
                pkt = bytearray(12 + 160)
                pkt[0] = 0x80
                pkt[3] = k & 0xFF
                link.inject(now, stranger.protect(bytes(pkt)))
                injected["wrong_key"] += 1

        at_bob, at_alice = run_call(alice, bob, 200, FakeLink(), FakeLink(), tamper=tamper)
        s = bob.stats
        self.assertEqual(s.dropped_auth, injected["forged"] + injected["tampered"] + injected["wrong_key"])
        self.assertEqual(s.dropped_replay, injected["replayed"])
        self.assertGreaterEqual(s.dropped_malformed, 1)
        self.assertEqual(
            s.dropped_auth + s.dropped_replay + s.dropped_malformed + s.stun + s.zrtp,
            sum(injected.values()),
        )
        # ... and the call went on undisturbed.
        self.assertEqual(s.received, 200)
        self.assertEqual(s.lost, 0)
        self.assertGreater(at_bob.snr_db, 30)
        self.assertGreater(at_alice.snr_db, 30)

    def test_every_short_and_odd_input_is_dropped(self):
        _, bob = pair()
        for data in (b"", b"\x80", bytes(11), bytes(12), bytes(22), b"\xff" * 200, bytes(3000)):
            self.assertFalse(bob.receive_packet(data, 0))
        s = bob.stats
        # (Zero-filled ones start like STUN, RFC 7983, and are set aside as such.)
        self.assertEqual(s.dropped_auth + s.dropped_malformed + s.stun + s.zrtp, 7)
        self.assertEqual(s.received, 0)

    def test_stun_on_the_media_port_is_ignored(self):
        _, bob = pair()
        binding_request = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + bytes(12)
        self.assertFalse(bob.receive_packet(binding_request, 0))
        self.assertEqual(bob.stats.stun, 1)
        self.assertEqual(bob.stats.dropped_malformed + bob.stats.dropped_auth, 0)

    def test_zrtp_on_an_sdes_call_is_set_aside(self):
        # A peer that saw our a=zrtp-hash but answered with SDES may still
        # send ZRTP Hellos to the media port (linphone does): RFC 7983 says
        # a first byte of 16-19 is ZRTP, so they are neither media nor forged.
        from hushphone.zrtp.packets import build_packet

        _, bob = pair()
        hello = build_packet(1, 0x1234, b"\x50\x5a\x00\x1dHello   " + bytes(100))
        self.assertEqual(hello[0], 0x10)
        self.assertFalse(bob.receive_packet(hello, 0))
        self.assertEqual(bob.stats.zrtp, 1)
        self.assertEqual(bob.stats.dropped_malformed + bob.stats.dropped_auth, 0)

    def test_authentic_packets_of_other_shapes_are_not_played(self):
        alice, bob = pair()
        ka, sa, _, _ = keys(1)
        tx = SrtpContext(SUITE, ka, sa)  # Alice's key: authentic to Bob
        event = rtp.RtpPacket(payload_type=101, sequence_number=1, timestamp=0, ssrc=alice.ssrc, payload=b"\x01\x0a\x00\xa0")
        short = rtp.RtpPacket(payload_type=0, sequence_number=2, timestamp=0, ssrc=alice.ssrc, payload=bytes(80))
        padded = rtp.RtpPacket(payload_type=0, sequence_number=3, timestamp=160, ssrc=alice.ssrc, payload=bytes(160), padding=4)
        self.assertFalse(bob.receive_packet(tx.protect(event.serialize()), 0))
        self.assertFalse(bob.receive_packet(tx.protect(short.serialize()), 0))
        self.assertTrue(bob.receive_packet(tx.protect(padded.serialize()), 0))
        self.assertEqual(bob.stats.other_payload, 1)
        self.assertEqual(bob.stats.dropped_malformed, 1)
        self.assertEqual(bob.stats.received, 1)


if __name__ == "__main__":
    unittest.main()
