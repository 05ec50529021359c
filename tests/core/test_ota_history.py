# What the last update did, read back from otadata and the update slot
# (hushphone.ota.history), on both runtimes with the signed fixtures: none
# on a factory handset, pending after the reset into an update, confirmed
# after its self-test, rolled back when the self-test failed (until a later
# update into that slot succeeds).
import unittest

from hushphone.hal.unix.partition import Partition
from hushphone.ota import confirm, history, selftest
from hushphone.ota.updater import BundleWriter
from ota_sim_support import SimHandset, fixture

PASS = [selftest.storage_check(Partition)]
FAIL = [("network", lambda: "no link")]


class LastUpdate(unittest.TestCase):
    def setUp(self):
        self.h = SimHandset()
        self.h.boot()

    def tearDown(self):
        self.h.remove()

    def install(self, name):
        writer = BundleWriter(self.h.service().updater())
        writer.feed(fixture(name))
        writer.finish()
        self.h.boot()

    def test_factory_pending_confirmed(self):
        self.assertIsNone(history.last_update(Partition))
        self.install("v2.hushota")
        self.assertEqual(history.last_update(Partition), {"result": "pending", "version": "1.1.0"})
        self.assertTrue(confirm.confirm_boot(Partition, PASS).ok)
        self.assertEqual(history.last_update(Partition), {"result": "confirmed", "version": "1.1.0"})
        self.assertIsNone(history.rolled_back_app(Partition, Partition(Partition.RUNNING)))

    def test_rolled_back_until_a_later_update_succeeds(self):
        self.install("v2.hushota")
        self.assertFalse(confirm.confirm_boot(Partition, FAIL).ok)
        self.assertTrue(self.h.boot().rolled_back)
        self.assertEqual(history.last_update(Partition), {"result": "rolled-back", "version": "1.1.0",
                                                          "secure_version": 2})
        self.assertEqual(history.rolled_back_app(Partition, Partition(Partition.RUNNING)).version, "1.1.0")
        self.install("v3.hushota")  # into the same slot
        self.assertTrue(confirm.confirm_boot(Partition, PASS).ok)
        self.assertEqual(history.last_update(Partition), {"result": "confirmed", "version": "1.2.0"})
        self.assertIsNone(history.rolled_back_app(Partition, Partition(Partition.RUNNING)))


if __name__ == "__main__":
    unittest.main()
