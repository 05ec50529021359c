# Two ZRTP engines over a fake link with a fake clock: complete handshakes
# with X25519 and DH-3072, the SRTP keys they derive protect real packets,
# and loss, reordering, tampering, contention, key continuity and errors
# behave as RFC 6189 says.
import unittest

from zrtp_fakelink import FakeLink, Party

from hushphone.zrtp import dh, packets
from hushphone.zrtp.cache import MemoryStorage, ZidCache
from hushphone.zrtp.crc32c import crc32c
from hushphone.zrtp.engine import ZrtpConfig
from hushphone.zrtp.events import ZrtpCacheMismatch, ZrtpFailed, ZrtpHelloHashMismatch, ZrtpSecure

RTP = bytes([0x80, 0x00, 0x12, 0x34, 0, 0, 0, 160, 0xDE, 0xAD, 0xBE, 0xEF]) + bytes(range(160))


def handshake(a_party, b_party, a_config=None, b_config=None, **link_kwargs):
    a = a_party.engine(a_config)
    b = b_party.engine(b_config)
    link = FakeLink(a, b, **link_kwargs)
    link.start()
    link.run()
    return a, b, link


def secure_event(link, engine):
    found = link.events_of(engine, ZrtpSecure)
    return found[0] if found else None


def rewrite(datagram, offset, new_bytes):
    """The datagram with bytes replaced at `offset` of its message and a
    fresh CRC (what an active attacker on the path can do)."""
    body = bytearray(datagram[:-4])
    at = packets.HEADER_LEN + offset
    body[at : at + len(new_bytes)] = new_bytes
    crc = crc32c(body)
    return bytes(body) + crc.to_bytes(4, "little")


def kind_of(datagram):
    return bytes(datagram[packets.HEADER_LEN + 4 : packets.HEADER_LEN + 12])


class TestHandshake(unittest.TestCase):
    def check_secure_pair(self, a, b, link, agreement):
        ea = secure_event(link, a)
        eb = secure_event(link, b)
        self.assertIsNotNone(ea, "A not secure: %r" % (link.events[id(a)],))
        self.assertIsNotNone(eb, "B not secure: %r" % (link.events[id(b)],))
        self.assertEqual(ea.agreement, agreement)
        self.assertEqual(eb.agreement, agreement)
        self.assertEqual(ea.sas, eb.sas)
        self.assertEqual(len(ea.sas), 4)
        self.assertEqual(ea.srtp_suite, "AES_CM_128_HMAC_SHA1_80")
        # What one sends with, the other receives with.
        self.assertEqual((ea.tx_key, ea.tx_salt), (eb.rx_key, eb.rx_salt))
        self.assertEqual((ea.rx_key, ea.rx_salt), (eb.tx_key, eb.tx_salt))
        self.assertNotEqual(ea.tx_key, ea.rx_key)
        self.assertEqual(sorted([a.role, b.role]), ["initiator", "responder"])
        # The keys really protect media between the two sides.
        a_tx, a_rx = ea.srtp_contexts()
        b_tx, b_rx = eb.srtp_contexts()
        self.assertEqual(b_rx.unprotect(a_tx.protect(RTP)), RTP)
        self.assertEqual(a_rx.unprotect(b_tx.protect(RTP)), RTP)
        return ea, eb

    def test_x25519_handshake(self):
        a, b, link = handshake(Party("alice"), Party("bob"))
        ea, _ = self.check_secure_pair(a, b, link, dh.KA_X255)
        self.assertFalse(ea.verified)
        self.assertFalse(ea.cache_matched)
        self.assertEqual(ea.sas_type, "B32")

    def test_dh3k_handshake(self):
        only_dh3k = ZrtpConfig(agreements=(dh.KA_DH3K,))
        a, b, link = handshake(Party("alice"), Party("bob"), only_dh3k, only_dh3k)
        self.check_secure_pair(a, b, link, dh.KA_DH3K)

    def test_faster_agreement_wins_when_preferences_differ(self):
        # A prefers DH3k, B prefers X25519: both pick X25519 (§4.1.2).
        a, b, link = handshake(Party("alice"), Party("bob"), ZrtpConfig(agreements=(dh.KA_DH3K, dh.KA_X255)))
        self.check_secure_pair(a, b, link, dh.KA_X255)

    def test_peer_without_x25519_falls_back_to_dh3k(self):
        a, b, link = handshake(Party("alice"), Party("bob"), None, ZrtpConfig(agreements=(dh.KA_DH3K,)))
        self.check_secure_pair(a, b, link, dh.KA_DH3K)

    def test_b256_and_hs32(self):
        config = ZrtpConfig(auth_tags=("HS32",), sas_types=("B256", "B32"))
        a, b, link = handshake(Party("alice"), Party("bob"), config, config)
        ea = secure_event(link, a)
        eb = secure_event(link, b)
        self.assertEqual(ea.sas_type, "B256")
        self.assertEqual(ea.sas, eb.sas)
        self.assertEqual(len(ea.sas.split(" ")), 2)
        self.assertEqual(ea.srtp_suite, "AES_CM_128_HMAC_SHA1_32")
        a_tx, _ = ea.srtp_contexts()
        _, b_rx = eb.srtp_contexts()
        self.assertEqual(b_rx.unprotect(a_tx.protect(RTP)), RTP)

    def test_commit_contention_resolved_by_hvi(self):
        # Both endpoints commit at the same moment: the larger hvi wins.
        a, b, link = handshake(Party("alice"), Party("bob"))
        self.check_secure_pair(a, b, link, dh.KA_X255)
        initiator = a if a.role == "initiator" else b
        responder = b if initiator is a else a
        self.assertGreater(initiator._hvi, responder._hvi)
        self.assertGreaterEqual(responder.stats["ignored"] + initiator.stats["ignored"], 1)

    def test_passive_side_waits_for_commit(self):
        a, b, link = handshake(Party("alice"), Party("bob"), None, ZrtpConfig(passive=True))
        self.check_secure_pair(a, b, link, dh.KA_X255)
        self.assertEqual(a.role, "initiator")
        self.assertEqual(b.role, "responder")

    def test_twenty_percent_loss(self):
        # Drop every fifth datagram, in both directions: retransmissions
        # and repeated answers still complete the exchange.
        def drop(n, direction, datagram):
            return n % 5 == 0

        a, b, link = handshake(Party("alice"), Party("bob"), drop=drop)
        self.assertGreater(link.dropped, 0)
        self.check_secure_pair(a, b, link, dh.KA_X255)
        self.assertGreater(a.stats["retransmits"] + b.stats["retransmits"], 0)

    def test_loss_of_each_message_once(self):
        # Losing the first copy of any one message type still completes.
        for kind in (packets.HELLO, packets.HELLO_ACK, packets.COMMIT, packets.DHPART1, packets.DHPART2, packets.CONFIRM1, packets.CONFIRM2, packets.CONF2ACK):
            lost = []

            def drop(n, direction, datagram, kind=kind, lost=lost):
                if kind_of(datagram) == kind and not lost:
                    lost.append(n)
                    return True
                return False

            with self.subTest(kind=kind):
                a, b, link = handshake(Party("alice"), Party("bob"), None, ZrtpConfig(passive=True), drop=drop)
                self.assertEqual(len(lost), 1)
                self.check_secure_pair(a, b, link, dh.KA_X255)

    def test_reordering(self):
        a, b, link = handshake(Party("alice"), Party("bob"), reorder=True)
        self.check_secure_pair(a, b, link, dh.KA_X255)

    def test_timers_follow_rfc_schedule(self):
        # Nobody answers: Hello goes out at 0, 50, 150, 350, then every
        # 200 ms, 1 + 20 times, and the engine gives up with a timeout.
        a = Party("alice").engine()
        a.start(0)
        times = [0]
        a.datagrams_to_send()
        for _ in range(100):
            t = a.get_timer()
            if t is None:
                break
            a.handle_timer(t)
            if a.datagrams_to_send():
                times.append(t)
        self.assertEqual(times[:5], [0, 50, 150, 350, 550])
        self.assertEqual(len(times), 21)
        self.assertEqual(a.state, "failed")
        failed = a.next_event()
        self.assertIsInstance(failed, ZrtpFailed)
        self.assertEqual(failed.code, 0xB0)

    def test_commit_retransmission_doubles_to_1200ms(self):
        a = Party("alice").engine()
        b = Party("bob").engine(ZrtpConfig(passive=True))
        link = FakeLink(a, b, latency=1)
        link.start()
        link.run(stop=lambda: a.state == "commit-sent")
        link.in_flight = []  # the Commit is lost, and so is everything after it
        start = link.now
        times = []
        for _ in range(30):
            t = a.get_timer()
            if t is None or a.state != "commit-sent":
                break
            a.handle_timer(t)
            if a.datagrams_to_send():
                times.append(t - start)
        gaps = [times[0]] + [times[i] - times[i - 1] for i in range(1, len(times))]
        self.assertEqual(gaps[:5], [150, 300, 600, 1200, 1200])
        self.assertEqual(len(times), 10)


class TestAttacks(unittest.TestCase):
    def test_tampered_dhpart2_breaks_hash_commitment(self):
        # A man in the middle swaps the initiator's public value in DHPart2
        # (and fixes the CRC): hvi no longer matches, the responder refuses.
        def tamper(datagram, direction):
            if kind_of(datagram) == packets.DHPART2:
                return rewrite(datagram, 76, bytes(32 * [0x42]))
            return datagram

        a, b, link = handshake(Party("alice"), Party("bob"), None, ZrtpConfig(passive=True), tamper=tamper)
        self.assertIsNone(secure_event(link, a))
        self.assertIsNone(secure_event(link, b))
        failed = link.events_of(b, ZrtpFailed)
        self.assertEqual(failed[0].code, 0x62)
        self.assertEqual(b.state, "failed")
        self.assertEqual(a.state, "failed")  # told by the Error message
        self.assertTrue(link.events_of(a, ZrtpFailed)[0].by_peer)

    def test_bad_public_value_refused(self):
        # DHPart1 carrying pv = 1 for DH3k (§4.4.1.2).
        only_dh3k = ZrtpConfig(agreements=(dh.KA_DH3K,))

        def tamper(datagram, direction):
            if kind_of(datagram) == packets.DHPART1:
                return rewrite(datagram, 76, bytes(383) + b"\x01")
            return datagram

        a, b, link = handshake(Party("alice"), Party("bob"), only_dh3k, ZrtpConfig(agreements=(dh.KA_DH3K,), passive=True), tamper=tamper)
        # DHPart1's MAC no longer matches, but that is only checkable later:
        # the pv check fires first.
        self.assertEqual(link.events_of(a, ZrtpFailed)[0].code, 0x61)
        self.assertIsNone(secure_event(link, b))

    def test_crc_error_is_dropped_silently(self):
        corrupted = []

        def tamper(datagram, direction):
            if kind_of(datagram) == packets.COMMIT and not corrupted:
                corrupted.append(1)
                return datagram[:-1] + bytes([datagram[-1] ^ 1])
            return datagram

        a, b, link = handshake(Party("alice"), Party("bob"), None, ZrtpConfig(passive=True), tamper=tamper)
        self.assertEqual(b.stats["crc"], 1)
        self.assertIsNotNone(secure_event(link, b))

    def test_unsupported_algorithm_gets_error(self):
        # The Commit is rewritten to ask for a key agreement B never
        # offered: B answers Error 0x53 and A reports the peer's error.
        def tamper(datagram, direction):
            if kind_of(datagram) == packets.COMMIT:
                return rewrite(datagram, 56 + 12, b"EC38")
            return datagram

        a, b, link = handshake(Party("alice"), Party("bob"), None, ZrtpConfig(passive=True), tamper=tamper)
        self.assertEqual(link.events_of(b, ZrtpFailed)[0].code, 0x53)
        fa = link.events_of(a, ZrtpFailed)[0]
        self.assertEqual(fa.code, 0x53)
        self.assertTrue(fa.by_peer)

    def test_unsupported_cipher_gets_error(self):
        def tamper(datagram, direction):
            if kind_of(datagram) == packets.COMMIT:
                return rewrite(datagram, 60, b"AES3")
            return datagram

        a, b, link = handshake(Party("alice"), Party("bob"), None, ZrtpConfig(passive=True), tamper=tamper)
        self.assertEqual(link.events_of(b, ZrtpFailed)[0].code, 0x52)

    def test_hello_hash_from_sdp(self):
        alice, bob = Party("alice"), Party("bob")
        a = alice.engine()
        b = bob.engine()
        # Each side learns the other's a=zrtp-hash from the SDP.
        self.assertTrue(a.set_peer_hello_hash(b.hello_hash()))
        self.assertTrue(b.set_peer_hello_hash(a.hello_hash()))
        self.assertTrue(a.hello_hash().startswith("1.10 "))
        self.assertEqual(len(a.hello_hash()), 5 + 64)
        link = FakeLink(a, b)
        link.start()
        link.run()
        self.assertIsNotNone(secure_event(link, a))
        self.assertIsNotNone(secure_event(link, b))

    def test_hello_hash_mismatch(self):
        alice, bob, mallory = Party("alice"), Party("bob"), Party("mallory")
        a = alice.engine()
        b = bob.engine()
        # The SDP carried someone else's hash: B's Hello does not match.
        a.set_peer_hello_hash(mallory.engine().hello_hash())
        link = FakeLink(a, b)
        link.start()
        link.run()
        self.assertEqual(len(link.events_of(a, ZrtpHelloHashMismatch)), 1)
        self.assertIsNone(secure_event(link, a))
        self.assertEqual(a.state, "failed")
        self.assertFalse(a.set_peer_hello_hash("garbage"))

    def test_ping_gets_ping_ack(self):
        a = Party("alice").engine()
        a.start(0)
        a.datagrams_to_send()
        ping = b"\x50\x5a\x00\x06Ping    1.10" + b"E" * 8
        a.receive(packets.build_packet(7, 0x01020304, ping), 5)
        replies = a.datagrams_to_send()
        self.assertEqual(len(replies), 1)
        msg = packets.parse_packet(replies[0])[2]
        self.assertEqual(packets.message_type(msg), packets.PING_ACK)
        self.assertEqual(msg[12:16], b"1.10")
        self.assertEqual(msg[16:24], a.zid[:8])
        self.assertEqual(msg[24:32], b"E" * 8)
        self.assertEqual(msg[32:36], b"\x01\x02\x03\x04")
        self.assertEqual(a.state, "discovery")  # a Ping changes nothing else

    def test_error_is_acknowledged_and_reported(self):
        a = Party("alice").engine()
        a.start(0)
        a.datagrams_to_send()
        a.receive(packets.build_packet(1, 2, packets.build_error(0x55)), 5)
        ack = a.datagrams_to_send()
        self.assertEqual([packets.message_type(packets.parse_packet(d)[2]) for d in ack], [packets.ERROR_ACK])
        failed = a.next_event()
        self.assertEqual((failed.code, failed.by_peer), (0x55, True))
        self.assertIsNone(a.get_timer())  # nothing more to retransmit

    def test_garbage_never_raises(self):
        # Every single-byte corruption of every message of a handshake,
        # CRC fixed up, is either handled or dropped, never an exception.
        captured = []

        def keep(datagram, direction):
            captured.append(datagram)
            return datagram

        handshake(Party("alice"), Party("bob"), None, ZrtpConfig(passive=True), tamper=keep)
        self.assertGreaterEqual(len(captured), 8)
        for datagram in captured:
            victim = Party("victim").engine()
            victim.start(0)
            n = len(datagram) - packets.HEADER_LEN - 4
            for offset in range(0, n, max(1, n // 24)):
                value = bytes([datagram[packets.HEADER_LEN + offset] ^ 0xA5])
                victim.receive(rewrite(datagram, offset, value), 10)
            victim.receive(datagram[:20], 10)
            victim.receive(b"\x10\x00\x00\x01ZRTP" + bytes(12), 10)
            # Rewrites carry fixed-up CRCs; only the two truncated/made-up
            # packets fail the CRC check.
            self.assertEqual(victim.stats["crc"], 2)
            self.assertGreater(victim.stats["malformed"] + victim.stats["received"], 0)


class TestConfig(unittest.TestCase):
    def test_bad_configurations_are_local_errors(self):
        from hushphone.zrtp.errors import ZrtpLocalError

        for kwargs in ({"agreements": ()}, {"agreements": ("EC25",)}, {"auth_tags": ("SK32",)}, {"sas_types": ("B99",)}):
            with self.assertRaises(ZrtpLocalError):
                ZrtpConfig(**kwargs)
        engine = Party("alice").engine()
        engine.start(0)
        with self.assertRaises(ZrtpLocalError):
            engine.start(1)
        with self.assertRaises(ZrtpLocalError):
            engine.set_verified(True)


class TestKeyContinuity(unittest.TestCase):
    def test_second_call_uses_retained_secret_and_keeps_verified(self):
        alice, bob = Party("alice"), Party("bob")
        a, b, link = handshake(alice, bob)
        first = secure_event(link, a)
        self.assertFalse(first.cache_matched)
        # Both users compare the SAS and press "verified".
        a.set_verified(True)
        b.set_verified(True)
        rs1_after_first = alice.cache.lookup(bob.cache.zid).rs1
        a2, b2, link2 = handshake(alice, bob)
        ea, eb = secure_event(link2, a2), secure_event(link2, b2)
        self.assertTrue(ea.cache_matched)
        self.assertTrue(eb.cache_matched)
        self.assertTrue(ea.verified)
        self.assertTrue(eb.verified)
        self.assertEqual(ea.sas, eb.sas)
        self.assertEqual(link2.events_of(a2, ZrtpCacheMismatch), [])
        entry = alice.cache.lookup(bob.cache.zid)
        self.assertEqual(entry.rs2, rs1_after_first)  # rotated
        self.assertNotEqual(entry.rs1, rs1_after_first)
        self.assertEqual(entry.rs1, bob.cache.lookup(alice.cache.zid).rs1)

    def test_verified_needs_both_sides(self):
        alice, bob = Party("alice"), Party("bob")
        a, b, link = handshake(alice, bob)
        a.set_verified(True)  # only Alice confirmed
        a2, b2, link2 = handshake(alice, bob)
        self.assertTrue(secure_event(link2, a2).cache_matched)
        self.assertFalse(secure_event(link2, a2).verified)
        self.assertFalse(secure_event(link2, b2).verified)

    def test_rs2_recovers_lost_sync(self):
        # Bob updated his cache but Alice did not (her last call died after
        # Confirm2): the next call still matches through rs2.
        alice, bob = Party("alice"), Party("bob")
        handshake(alice, bob)
        saved = dict(alice.storage.data)
        handshake(alice, bob)
        alice.storage.data = saved
        a3, b3, link3 = handshake(alice, bob)
        self.assertTrue(secure_event(link3, a3).cache_matched)
        self.assertTrue(secure_event(link3, b3).cache_matched)
        self.assertEqual(link3.events_of(a3, ZrtpCacheMismatch), [])
        self.assertEqual(link3.events_of(b3, ZrtpCacheMismatch), [])

    def test_changed_peer_reports_cache_mismatch(self):
        alice, bob = Party("alice"), Party("bob")
        handshake(alice, bob)
        a, b, link = handshake(alice, bob)
        a.set_verified(True)
        b.set_verified(True)
        # "Bob" comes back with the same ZID but none of the secrets (a
        # lost cache, or a man in the middle holding Bob's ZID).
        impostor_storage = MemoryStorage()
        impostor_storage.set("zid", bob.cache.zid)
        impostor = Party("impostor", impostor_storage)
        before = alice.cache.lookup(bob.cache.zid).encode()
        a2, b2, link2 = handshake(alice, impostor)
        mismatch = link2.events_of(a2, ZrtpCacheMismatch)
        self.assertEqual(len(mismatch), 1)
        self.assertEqual(mismatch[0].message, "Keys changed: verify the SAS")
        ea = secure_event(link2, a2)
        self.assertFalse(ea.verified)
        self.assertFalse(ea.cache_matched)
        # The cache is held back until the user confirms the SAS.
        self.assertEqual(alice.cache.lookup(bob.cache.zid).encode(), before)
        a2.set_verified(True)
        entry = alice.cache.lookup(bob.cache.zid)
        self.assertTrue(entry.verified)
        self.assertEqual(entry.rs1, impostor.cache.lookup(alice.cache.zid).rs1)

    def test_zero_cache_interval_stores_nothing(self):
        alice, bob = Party("alice"), Party("bob")
        handshake(alice, bob, ZrtpConfig(cache_ttl=0))
        self.assertIsNone(alice.cache.lookup(bob.cache.zid))
        self.assertIsNone(bob.cache.lookup(alice.cache.zid))

    def test_expired_secret_is_not_a_mismatch(self):
        alice, bob = Party("alice"), Party("bob")
        config = ZrtpConfig(cache_ttl=60)
        handshake(alice, bob, config, config)
        a = alice.engine(config, wall_time_s=1000 + 3600)
        b = bob.engine(config, wall_time_s=1000 + 3600)
        link = FakeLink(a, b)
        link.start()
        link.run()
        self.assertFalse(secure_event(link, a).cache_matched)
        self.assertEqual(link.events_of(a, ZrtpCacheMismatch), [])

    def test_cache_survives_restart_in_nvs(self):
        # The simulated handset's NVS (file-backed, esp32.NVS API) keeps
        # the ZID and the secrets across a "reboot".
        import binascii

        from hushphone.crypto.random import random_bytes
        from hushphone.hal.unix.nvs import Nvs
        from hushphone.zrtp.cache import NVS_NAMESPACE, NvsStorage

        root = "/tmp/zrtp_nvs_test_" + binascii.hexlify(random_bytes(8)).decode()
        try:
            alice = Party("alice", NvsStorage(Nvs(root, NVS_NAMESPACE)))
            bob = Party("bob")
            handshake(alice, bob)
            zid = alice.cache.zid
            rebooted = ZidCache(NvsStorage(Nvs(root, NVS_NAMESPACE)), alice.random)
            self.assertEqual(rebooted.zid, zid)
            self.assertEqual(rebooted.lookup(bob.cache.zid).rs1, bob.cache.lookup(zid).rs1)
        finally:
            _rmtree(root)


def _rmtree(path):
    import os

    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        full = path + "/" + name
        try:
            os.remove(full)
        except OSError:
            _rmtree(full)
    os.rmdir(path)


if __name__ == "__main__":
    unittest.main()
