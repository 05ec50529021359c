# Whether the bootloader can roll an update back, learnt by the new
# firmware from the otadata state it booted in (ota/confirm.py), on the
# simulated flash with both kinds of ESP-IDF bootloader: built with
# CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE (NEW -> PENDING_VERIFY, unconfirmed
# apps rolled back) and without it, as stock MicroPython builds other than
# the OTA boards (esp_ota_set_boot_partition writes UNDEFINED, the
# bootloader changes nothing, nothing is rolled back).
import unittest

from hushphone.hal.unix import otadata as od
from hushphone.hal.unix.partition import Partition
from hushphone.ota import confirm, selftest
from ota_sim_support import SimHandset, fixture
from test_ota_updater import stream

PASS = [("storage", lambda: True)]
FAIL = [("network", lambda: "simulated link failure")]


class HandsetTest(unittest.TestCase):
    def setUp(self):
        self.handsets = []

    def tearDown(self):
        for h in self.handsets:
            h.remove()

    def handset(self, app_rollback=True):
        h = SimHandset(app_rollback=app_rollback)
        self.handsets.append(h)
        return h


class RollbackSupport(HandsetTest):
    def installed(self, app_rollback):
        """A handset that has just installed v2 (otadata points at ota_1)."""
        h = self.handset(app_rollback)
        h.boot()
        stream(h.service().updater(), fixture("v2.hushota"))
        return h

    def boot_and_confirm(self, h, checks):
        info = h.boot()
        logged = []
        result = confirm.confirm_boot(Partition, checks, logged.append)
        return info, result, logged

    def test_factory_boot_cannot_tell(self):
        for app_rollback in (True, False):
            h = self.handset(app_rollback)
            info, result, logged = self.boot_and_confirm(h, PASS)
            self.assertEqual(info.state, od.STATE_VALID)  # blank otadata: the bootloader records the slot VALID
            self.assertEqual(result.boot.as_dict(),
                             {"state": "VALID", "rollback": "unknown", "rolled_back": False})
            self.assertFalse(result.boot.fresh_update)
            self.assertEqual(logged, ["ota: self-test passed, firmware confirmed"])

    def test_rollback_bootloader(self):
        h = self.installed(True)
        info, result, logged = self.boot_and_confirm(h, FAIL)
        self.assertEqual((info.label, info.state), ("ota_1", od.STATE_PENDING_VERIFY))
        self.assertEqual(result.boot.as_dict(),
                         {"state": "PENDING_VERIFY", "rollback": "yes", "rolled_back": False})
        self.assertFalse(result.ok)
        self.assertEqual(logged, ["ota: self-test failed (network: simulated link failure); not confirming, "
                                  "the next reset rolls back"])
        again = h.boot()  # the reset: the bootloader aborts the unconfirmed update
        self.assertEqual((again.label, again.rolled_back, h.running_version()), ("ota_0", True, "1.0.0"))
        # The old firmware sees it: otadata keeps the aborted entry.
        self.assertEqual(confirm.boot_state(Partition).as_dict(), {"state": "VALID", "rollback": "unknown",
                                                                   "rolled_back": True})

    def test_stock_bootloader(self):
        h = self.installed(False)
        info, result, logged = self.boot_and_confirm(h, FAIL)
        self.assertEqual((info.label, info.state), ("ota_1", od.STATE_UNDEFINED))
        self.assertEqual(result.boot.as_dict(), {"state": "UNDEFINED", "rollback": "no", "rolled_back": False})
        self.assertEqual(logged, ["ota: self-test failed (network: simulated link failure); not confirming, "
                                  "this bootloader cannot roll back (booted in state UNDEFINED, not "
                                  "PENDING_VERIFY): the firmware stays until another update replaces it"])
        again = h.boot()  # nothing rolls back: the unconfirmed firmware boots again, still UNDEFINED
        self.assertEqual((again.label, again.state, again.rolled_back), ("ota_1", od.STATE_UNDEFINED, False))
        self.assertEqual(h.running_version(), "1.1.0")
        # Confirming still works (esp_ota_mark_app_valid_cancel_rollback marks it VALID).
        info, result, logged = self.boot_and_confirm(h, PASS)
        self.assertTrue(result.ok)
        self.assertEqual(logged, ["ota: self-test passed, firmware confirmed (booted in state UNDEFINED: this "
                                  "bootloader would not have rolled it back)"])
        self.assertEqual(h.boot().state, od.STATE_VALID)
        self.assertEqual(confirm.boot_state(Partition).as_dict(),
                         {"state": "VALID", "rollback": "unknown", "rolled_back": False})

    def test_confirmed_update_then_reset(self):
        h = self.installed(True)
        info, result, logged = self.boot_and_confirm(h, PASS)
        self.assertEqual((result.ok, result.boot.rollback), (True, "yes"))
        info, result, logged = self.boot_and_confirm(h, FAIL)  # a later boot: already VALID
        self.assertEqual((info.label, result.boot.as_dict()),
                         ("ota_1", {"state": "VALID", "rollback": "unknown", "rolled_back": False}))
        self.assertIn("already confirmed", logged[0])
        self.assertEqual(h.boot().label, "ota_1")

    def test_unreadable_otadata_is_unknown(self):
        class Broken:
            RUNNING = 1

            def __init__(self, id):
                raise OSError(5, "EIO")

        self.assertEqual(confirm.boot_state(Broken).as_dict(),
                         {"state": None, "rollback": "unknown", "rolled_back": None})


class SelfTestStillRunsEveryCheck(HandsetTest):
    def test_result_carries_the_boot_state(self):
        h = self.handset()
        h.boot()
        result = confirm.confirm_boot(Partition, [selftest.storage_check(Partition)] + FAIL)
        self.assertEqual([r[0] for r in result.results], ["storage", "network"])
        self.assertEqual(result.boot.rollback, "unknown")


if __name__ == "__main__":
    unittest.main()
