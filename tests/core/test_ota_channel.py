# Signed channel documents and the pull client's decisions, on both
# runtimes, with committed documents signed by a throw-away release key
# (data/ota_channel/regenerate.py): a good document verifies under the trust
# store; a foreign key, tampering, expiry, non-canonical JSON and a signed
# manifest posing as a document are refused; a lower sequence than one seen
# (persisted in NVS) is a replay; the rollout seed is drawn once, kept, and
# gives a stable bucket per release; the client halts, skips, defers during
# a call and stays put as the documents say. The download and install are
# proven end to end against nginx (tests/sim/test_ota_pull_nginx.py).
import asyncio
import binascii
import json
import unittest

from coretest import read_data
from hushphone.hal.unix.nvs import Nvs
from hushphone.ota import OtaRejected, channel, pull
from hushphone.ota.sbv2 import TrustAnchors
from hushphone.storage_layout import KEY_CHAN_SEQ, NS_PULL
from ota_sim_support import TRUST as INSTALL_TRUST
from ota_sim_support import SimHandset

TRUST = json.loads(read_data("ota_channel", "trust.json"))
DIGEST = binascii.unhexlify(TRUST["channel_digest"])
NOW = TRUST["released"] + 86400


def doc(name):
    return read_data("ota_channel", name)


def anchors(revoked=0):
    return TrustAnchors([DIGEST], revoked)


class Verify(unittest.TestCase):
    def test_good_document(self):
        d = channel.verify(doc("seq5.channel"), anchors(), NOW)
        self.assertEqual((d.channel, d.sequence, d.halt), ("stable", 5, False))
        r = d.release_for("lyrat-v4.3")
        self.assertEqual((r.version, r.secure_version, r.rollout, r.bundle), ("1.1.0", 2, 10000, "bundles/1.1.0.hushota"))
        self.assertIsNone(d.release_for("other-board"))

    def refused(self, data, reason, now=NOW, trust=None):
        with self.assertRaises(OtaRejected) as cm:
            channel.verify(data, trust or anchors(), now)
        self.assertEqual(cm.exception.reason, reason, cm.exception.message)

    def test_foreign_key_and_revoked_key(self):
        self.refused(doc("rogue11.channel"), "untrusted-key")
        self.refused(doc("seq5.channel"), "revoked-key", trust=anchors(revoked=1))

    def test_tampered(self):
        data = bytearray(doc("seq5.channel"))
        i = bytes(data).find(b'"rollout":10000')
        data[i + 10] = ord("2")  # 10000 -> 20000... the signature no longer covers it
        self.refused(bytes(data), "digest")

    def test_expired_and_unknown_time(self):
        self.refused(doc("expired.channel"), "expired")
        self.refused(doc("seq5.channel"), "expired", now=TRUST["expires"])
        self.refused(doc("seq5.channel"), "expired", now=None)

    def test_non_canonical_and_manifest_posing_as_document(self):
        self.refused(doc("spaces12.channel"), "malformed")
        self.refused(doc("manifest.channel"), "malformed")

    def test_sizes(self):
        self.refused(b"", "malformed")
        self.refused(doc("seq5.channel")[:-1], "malformed")
        self.refused(doc("seq5.channel") * 3, "malformed")

    def test_decode_rejects_bad_fields(self):
        good = {"type": channel.TYPE, "format": 1, "channel": "stable", "sequence": 1, "issued": 1, "expires": 2,
                "halt": False, "boards": {}}
        from hushphone.ota import manifest

        self.assertEqual(channel.decode(manifest.encode(good)).sequence, 1)
        entry = {"version": "1", "secure_version": 0, "bundle": "b.hushota", "sha256": "ab" * 32, "size": 1,
                 "rollout": 0}
        bad = [dict(good, sequence=0), dict(good, halt=1), dict(good, expires=1), dict(good, type="x"),
               dict(good, extra=1), dict(good, channel="a b"), dict(good, boards={"b": dict(entry, rollout=10001)}),
               dict(good, boards={"b": dict(entry, bundle="../x")}), dict(good, boards={"b": dict(entry, bundle="/x")}),
               dict(good, boards={"b": dict(entry, bundle="https://evil/x")}), dict(good, boards={"b": {}})]
        for fields in bad:
            with self.assertRaises(OtaRejected):
                channel.decode(manifest.encode(fields))

    def test_resolve(self):
        self.assertEqual(channel.resolve("https://h:1/ota/stable.channel", "bundles/a.hushota"),
                         "https://h:1/ota/bundles/a.hushota")


class State(unittest.TestCase):
    def setUp(self):
        self.h = SimHandset()

    def tearDown(self):
        self.h.remove()

    def nvs(self):
        return Nvs(self.h.root, NS_PULL)

    def test_sequence_is_monotonic_and_persisted(self):
        s = pull.PullState(self.nvs())
        self.assertEqual(s.sequence("stable"), 0)
        s.accept_sequence("stable", 5)
        s.accept_sequence("stable", 5)  # the same document again: fine
        again = pull.PullState(self.nvs())  # after a reset
        self.assertEqual(again.sequence("stable"), 5)
        with self.assertRaises(OtaRejected) as cm:
            again.accept_sequence("stable", 4)
        self.assertEqual(cm.exception.reason, "replayed")
        again.accept_sequence("stable", 9)
        self.assertEqual(self.nvs().get_i32(KEY_CHAN_SEQ), 9)

    def test_another_channel_counts_afresh(self):
        s = pull.PullState(self.nvs())
        s.accept_sequence("beta", 40)
        s.accept_sequence("stable", 3)  # the handset was moved to stable
        self.assertEqual((s.sequence("stable"), s.sequence("beta")), (3, 0))

    def test_seed_drawn_once_and_buckets(self):
        draws = []

        def rand(n):
            draws.append(n)
            return bytes(range(n))

        s = pull.PullState(self.nvs(), rand)
        r1 = channel.Release("lyrat-v4.3", {"version": "1.1.0", "secure_version": 2, "bundle": "b", "sha256": "",
                                            "size": 1, "rollout": 0})
        r2 = channel.Release("lyrat-v4.3", {"version": "1.2.0", "secure_version": 3, "bundle": "b", "sha256": "",
                                            "size": 1, "rollout": 0})
        b1 = s.bucket(r1)
        self.assertEqual(pull.PullState(self.nvs(), rand).bucket(r1), b1)  # kept across resets
        self.assertEqual(draws, [16])
        self.assertTrue(0 <= b1 < 10000 and 0 <= s.bucket(r2) < 10000)

    def test_buckets_are_uniform_over_seeds(self):
        # 1000 seeds, ten deciles: each decile within binomial(1000, 0.1) bounds (+-5 sd)
        r = channel.Release("b", {"version": "1.1.0", "secure_version": 2, "bundle": "b", "sha256": "", "size": 1,
                                  "rollout": 0})
        counts = [0] * 10

        class Mem:
            def __init__(self, seed):
                self.seed = seed

            def get_blob(self, key, buf):
                buf[:16] = self.seed
                return 16

        for i in range(1000):
            seed = bytes([(i >> 8) & 255, i & 255]) + bytes(14)
            counts[pull.PullState(Mem(seed)).bucket(r) // 1000] += 1
        for c in counts:
            self.assertTrue(53 <= c <= 147, counts)

    def test_next_delay(self):
        for draw, want in ((lambda n: 0, 900), (lambda n: n - 1, 1500)):
            self.assertEqual(pull.next_delay(1200, 300, draw), want)
        self.assertEqual(pull.next_delay(10, 50, lambda n: 0), 1)  # jitter never makes it 0 or negative


class Config(unittest.TestCase):
    class Settings:
        def __init__(self, values):
            self.values = values

        def get_bytes(self, key, default=None):
            return self.values.get(key, default)

        def get_int(self, key, default=None):
            return self.values.get(key, default)

    def test_off_unless_a_channel_is_configured(self):
        self.assertIsNone(pull.pull_config({}, None))
        self.assertIsNone(pull.pull_config({}, self.Settings({})))

    def test_from_the_sim_config_or_the_settings(self):
        cfg = pull.pull_config({"ota_pull": {"url": "https://u.example/ota/stable.channel", "interval": 5}})
        self.assertEqual((cfg["url"], cfg["interval"]), ("https://u.example/ota/stable.channel", 60))  # floor
        cfg = pull.pull_config({}, self.Settings({"pull_url": b"https://u.example/c", "pull_every": 3600}))
        self.assertEqual((cfg["url"], cfg["interval"]), ("https://u.example/c", 3600))
        with self.assertRaises(ValueError):  # never plain http
            pull.pull_config({"ota_pull": {"url": "http://u.example/c"}})

    def test_update_host_cas_from_the_trust_store(self):
        store = self.Settings({"ca0": b"first", "ca2": b"third"})
        self.assertEqual(pull.update_host_cas({}, store), [b"first", b"third"])


class Decisions(unittest.TestCase):
    """PullClient.check with the channel document served by a fake fetch."""

    def setUp(self):
        self.h = SimHandset(digests=[binascii.unhexlify(INSTALL_TRUST["trusted_digest"]), DIGEST])
        self.h.boot()
        self.served = []
        self.real_fetch = pull.fetch

        async def fake_fetch(url, ctx, max_size, timeout=30):
            self.served.append(url)
            return self.document

        pull.fetch = fake_fetch
        self.calls = False
        self.client = pull.PullClient(self.h.service(clock=lambda: NOW), Nvs(self.h.root, NS_PULL),
                                      "https://updates.example/ota/stable.channel", None,
                                      call_active=lambda: self.calls)

    def tearDown(self):
        pull.fetch = self.real_fetch
        self.h.remove()

    def check(self, name):
        self.document = doc(name)
        return asyncio.run(self.client.check())

    def test_decisions(self):
        self.assertEqual(self.check("halt6.channel")["status"], "halted")
        r = self.check("seq5.channel")  # older than the halt: a replay
        self.assertEqual((r["status"], r["reason"]), ("refused", "replayed"))
        self.assertEqual(self.check("current8.channel")["status"], "current")
        self.assertEqual(self.check("rollout0-9.channel")["status"], "not-selected")
        self.assertEqual(self.check("other10.channel")["status"], "no-release")
        r = self.check("rogue11.channel")
        self.assertEqual((r["status"], r["reason"]), ("refused", "untrusted-key"))
        r = self.check("expired.channel")
        self.assertEqual((r["status"], r["reason"]), ("refused", "expired"))
        self.assertEqual(self.served, ["https://updates.example/ota/stable.channel"] * 7)
        self.assertEqual(self.client.state.sequence("stable"), 10)  # refused documents never moved it

    def test_a_document_for_another_channel_is_refused(self):
        beta = pull.PullClient(self.h.service(clock=lambda: NOW), Nvs(self.h.root, NS_PULL),
                               "https://updates.example/ota/beta.channel", None)
        self.document = doc("seq5.channel")  # channel "stable", validly signed
        r = asyncio.run(beta.check())
        self.assertEqual((r["status"], r["reason"]), ("refused", "channel"))
        self.assertEqual(beta.state.sequence("beta"), 0)

    def test_channel_of_url(self):
        self.assertEqual(pull.channel_of_url("https://h/ota/stable.channel"), "stable")
        self.assertIsNone(pull.channel_of_url("https://h/ota/latest"))

    def test_no_install_during_a_call(self):
        self.calls = True
        r = self.check("seq5.channel")
        self.assertEqual((r["status"], r["version"]), ("deferred", "1.1.0"))
        self.assertIsNone(self.client.download)

    def test_a_release_rolled_back_here_is_not_installed_again(self):
        from hushphone.hal.unix.partition import Partition
        from hushphone.ota import confirm, selftest
        from hushphone.ota.updater import BundleWriter
        from ota_sim_support import fixture

        writer = BundleWriter(self.h.service(clock=lambda: NOW).updater())
        writer.feed(fixture("v2.hushota"))  # 1.1.0 / 2, what seq5.channel names
        writer.finish()
        self.h.boot()  # into 1.1.0, pending verification
        self.assertFalse(confirm.confirm_boot(Partition, [("network", lambda: "no link")]).ok)
        self.assertTrue(self.h.boot().rolled_back)  # back on 1.0.0
        r = self.check("seq5.channel")
        self.assertEqual((r["status"], r["version"]), ("rolled-back", "1.1.0"))
        self.assertIsNone(self.client.download)
        self.assertTrue(confirm.confirm_boot(Partition, [selftest.storage_check(Partition)]).ok)

    def test_network_failure_is_a_result(self):
        async def broken(url, ctx, max_size, timeout=30):
            raise OSError(111, "refused")

        pull.fetch = broken
        r = asyncio.run(self.client.check())
        self.assertEqual((r["status"], r["reason"]), ("failed", "network"))
        self.assertEqual(self.client.last, r)

    def test_beside_the_app(self):
        logged = []

        async def app():
            await asyncio.sleep(0.01)
            return "app done"

        async def broken_side():
            raise ValueError("bug")

        async def endless_side():
            await asyncio.sleep(3600)

        self.assertEqual(asyncio.run(pull.run_beside(app(), broken_side(), logged.append)), "app done")
        self.assertEqual(logged, ["ota pull: stopped: ValueError: bug"])
        self.assertEqual(asyncio.run(pull.run_beside(app(), endless_side())), "app done")  # cancelled with the app

    def test_run_loop_is_bounded_and_jittered(self):
        self.document = doc("halt6.channel")
        sleeps = []

        async def sleep(s):
            sleeps.append(s)

        result = asyncio.run(pull.run(self.h.service(clock=lambda: NOW), {"url": "https://u.example/c", "interval": 100,
                                                                           "jitter": 10},
                                      None, Nvs(self.h.root, NS_PULL), max_checks=3, sleep=sleep,
                                      random_below=lambda n: n - 1))
        self.assertEqual(result["status"], "halted")
        self.assertEqual(sleeps, [9, 110, 110, 110])


if __name__ == "__main__":
    unittest.main()
