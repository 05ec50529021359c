# Confirming on a handset that runs stock MicroPython (ota/confirm.py), on
# both runtimes: the running app is the factory app, which ESP-IDF refuses
# to mark valid (esp_ota_mark_app_valid_cancel_rollback: ESP_FAIL "running
# firmware is factory"; hal.unix.partition raises it the same way when no
# OTA slot was booted), and the firmware runs from a filesystem image in a
# code slot (ota/fsslots.py). confirm_boot never raises for that: it
# confirms the code slot after the self-test, reports that the loader rolls
# an unconfirmed image back, and leaves a failing image PENDING_VERIFY so
# the next reset boots the other slot.
import unittest

from hushphone.hal.unix import otadata as od
from hushphone.hal.unix import partition as sim_partition
from hushphone.hal.unix.partition import Partition
from hushphone.ota import confirm, selftest
from test_ota_fsslots import Flash, image

PASS = [("network", lambda: True)]
FAIL = [("network", lambda: "simulated link failure")]


class FactoryApp(unittest.TestCase):
    def setUp(self):
        self.saved = sim_partition._device
        sim_partition.attach(None)  # nothing booted an OTA slot: the factory app runs

    def tearDown(self):
        sim_partition.attach(self.saved)

    def test_the_factory_app_cannot_be_marked(self):
        with self.assertRaises(OSError) as raised:
            Partition.mark_app_valid_cancel_rollback()
        self.assertEqual(raised.exception.args, (1, "ESP_FAIL"))  # MicroPython's check_esp_err(ESP_FAIL)
        info = Partition(Partition.RUNNING).info()
        self.assertEqual((info[0], info[1], info[4]), (Partition.TYPE_APP, 0x00, "factory"))

    def test_confirm_on_a_factory_app_does_not_raise(self):
        logged = []
        result = confirm.confirm_boot(Partition, PASS, logged.append)
        self.assertTrue(result.ok and result.confirmed)
        self.assertEqual(result.boot.as_dict(), {"image": "factory", "state": None, "rollback": "no",
                                                 "rolled_back": None})
        self.assertEqual(logged, ["ota: self-test passed (a factory app: nothing to confirm, nothing rolls it back)"])
        result = confirm.confirm_boot(Partition, FAIL, logged.append)
        self.assertFalse(result.ok or result.confirmed)
        self.assertIn("this is the factory app: nothing rolls it back", logged[-1])


class RefusedMark(unittest.TestCase):
    def test_an_app_slot_that_cannot_be_marked_is_reported_unconfirmed(self):
        class NoOtadata:
            """An OTA-slot app on a table without otadata (ESP_ERR_NOT_FOUND)."""

            RUNNING = 1
            TYPE_DATA = 1

            def __init__(self, id):
                pass

            def info(self):
                return (0, 0x10, 0x20000, 0x100000, "ota_0", False)

            @staticmethod
            def find(type=0, subtype=0xFF, label=None):
                return []

            @staticmethod
            def mark_app_valid_cancel_rollback():
                raise OSError(-0x105, "ESP_ERR_NOT_FOUND")

        logged = []
        result = confirm.confirm_boot(NoOtadata, PASS, logged.append)
        self.assertTrue(result.ok)
        self.assertFalse(result.confirmed)
        self.assertEqual(len(logged), 1)
        self.assertTrue(logged[0].startswith("ota: self-test passed, but the app cannot be marked valid (OSError: "))
        self.assertIn("ESP_ERR_NOT_FOUND", logged[0])  # the text of the error differs between the runtimes


class CodeSlots(unittest.TestCase):
    """The factory app below, the firmware in hush_0/hush_1."""

    def setUp(self):
        self.saved = sim_partition._device
        sim_partition.attach(None)
        self.flash = Flash()
        self.flash.install(0, image(b"A"))
        self.flash.slots().boot()
        self.flash.slots().confirm()

    def tearDown(self):
        self.flash.close()
        sim_partition.attach(self.saved)

    def reset(self):
        """The loader at a reset: the FsSlots it mounted from (hushboot.slots)."""
        slots = self.flash.slots()
        slots.boot()
        return slots

    def confirm(self, slots, checks):
        logged = []
        result = confirm.confirm_boot(Partition, [selftest.image_check(slots)] + checks, logged.append, slots=slots)
        return result, logged

    def test_update_confirmed_after_the_self_test(self):
        self.flash.install(1, image(b"B"), secure_version=2)
        slots = self.reset()
        result, logged = self.confirm(slots, PASS)
        self.assertTrue(result.ok and result.confirmed)
        self.assertEqual(result.boot.as_dict(), {"image": "fs", "state": "PENDING_VERIFY", "rollback": "yes",
                                                 "rolled_back": False})
        self.assertTrue(result.boot.fresh_update)
        self.assertIn("firmware image confirmed", logged[0])
        self.assertEqual((slots.running_slot(), od.STATE_NAMES[slots.running_state()]), (1, "VALID"))
        again = self.reset()  # it stays: confirmed
        self.assertEqual((again.running_slot(), confirm.fs_boot_state(again).as_dict()["state"]), (1, "VALID"))

    def test_failed_self_test_rolls_back_at_the_next_reset(self):
        self.flash.install(1, image(b"B"), secure_version=2)
        slots = self.reset()
        result, logged = self.confirm(slots, FAIL)
        self.assertFalse(result.ok or result.confirmed)
        self.assertEqual(logged, ["ota: self-test failed (network: simulated link failure); not confirming, the next "
                                  "reset boots the other code slot (the loader aborts an unconfirmed image)"])
        back = self.reset()
        self.assertEqual(back.running_slot(), 0)
        self.assertEqual(confirm.fs_boot_state(back).as_dict(), {"image": "fs", "state": "VALID", "rollback": "yes",
                                                                 "rolled_back": True})

    def test_a_changed_image_fails_the_storage_check(self):
        slots = self.reset()
        slots.slots[0].writeblocks(1, bytearray(b"X" * 4096))  # a flash fault after the loader's check
        result, logged = self.confirm(slots, PASS)
        self.assertFalse(result.ok)
        self.assertEqual(result.failures(), ["storage: the code slot's image differs from its entry's hash"])
        self.assertIn("confirmed at an earlier boot: no reset rolls it back", logged[0])


if __name__ == "__main__":
    unittest.main()
