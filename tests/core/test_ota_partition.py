# The simulated flash, otadata and bootloader keep the semantics of the
# real ones (ESP-IDF esp_ota_ops / bootloader_support, esp32.Partition).
import unittest

from hushphone.hal.unix import bootloader
from hushphone.hal.unix import otadata as od
from hushphone.hal.unix.flash import FlashRegion, PowerCut, PowerSupply
from hushphone.hal.unix.partition import Partition
from ota_sim_support import SimHandset, fixture, temp_root


class FlashSemantics(unittest.TestCase):
    def setUp(self):
        self.handset = SimHandset()
        self.handset.boot()
        self.slot = Partition("ota_1")

    def tearDown(self):
        self.handset.remove()

    def test_block_device_geometry(self):
        self.assertEqual(self.slot.ioctl(5, 0), 4096)
        self.assertEqual(self.slot.ioctl(4, 0), 16)
        t, subtype, addr, size, label, encrypted = self.slot.info()
        self.assertEqual((t, subtype, size, label), (Partition.TYPE_APP, 0x11, 64 * 1024, "ota_1"))

    def test_find(self):
        self.assertEqual([p.info()[4] for p in Partition.find(Partition.TYPE_APP)], ["ota_0", "ota_1"])
        self.assertEqual([p.info()[4] for p in Partition.find(Partition.TYPE_APP, label="ota_1")], ["ota_1"])
        self.assertEqual([p.info()[1] for p in Partition.find(Partition.TYPE_DATA)], [0])
        with self.assertRaises(OSError):
            Partition("nvs_keys")

    def test_unaligned_write_refused(self):
        self.slot.ioctl(6, 0)
        with self.assertRaises(OSError):
            self.slot.writeblocks(0, b"\x00" * 16, 3)  # offset not 16-aligned
        with self.assertRaises(OSError):
            self.slot.writeblocks(0, b"\x00" * 15, 0)  # length not 16-aligned
        with self.assertRaises(OSError):
            self.slot.writeblocks(0, bytearray(100))  # simple write needs whole erase blocks
        buf = bytearray(16)
        self.slot.readblocks(0, buf)
        self.assertEqual(bytes(buf), b"\xff" * 16)  # nothing landed

    def test_write_without_erase_ands_like_flash(self):
        self.slot.writeblocks(1, b"\x0f" * 4096)  # erase + program
        self.slot.writeblocks(1, b"\xf3" * 16, 32)  # program again without erase
        buf = bytearray(64)
        self.slot.readblocks(1, buf)
        self.assertEqual(bytes(buf[32:48]), b"\x03" * 16)  # 0x0f AND 0xf3
        self.assertEqual(bytes(buf[:32]), b"\x0f" * 32)
        self.slot.ioctl(6, 1)  # erase sets every bit again
        self.slot.readblocks(1, buf)
        self.assertEqual(bytes(buf), b"\xff" * 64)

    def test_write_outside_partition_refused(self):
        with self.assertRaises(OSError):
            self.slot.writeblocks(16, b"\x00" * 4096)

    def test_next_update_is_the_other_slot(self):
        running = Partition(Partition.RUNNING)
        self.assertEqual(running.info()[4], "ota_0")
        self.assertEqual(running.get_next_update().info()[4], "ota_1")
        self.assertEqual(running.get_next_update().get_next_update().info()[4], "ota_0")

    def test_set_boot_refuses_an_image_that_would_not_boot(self):
        self.slot.writeblocks(0, b"\xe9" + b"\x00" * 4095)
        with self.assertRaises(OSError):
            self.slot.set_boot()
        self.assertEqual(Partition(Partition.BOOT).info()[4], "ota_0")


class OtaDataFormat(unittest.TestCase):
    def test_crc_is_idf_crc32_le_of_the_sequence(self):
        # esp_rom_crc32_le(UINT32_MAX, &seq, 4) for seq = 1 (a well-known
        # value of a freshly written ESP32 otadata sector)
        self.assertEqual(od.ota_select_crc(1), 0x4743989A)
        entry = od.OtaEntry(1, od.STATE_VALID)
        raw = entry.to_bytes()
        self.assertEqual(len(raw), 32)
        self.assertEqual(raw[:4], b"\x01\x00\x00\x00")
        self.assertEqual(raw[24:28], b"\x02\x00\x00\x00")
        self.assertEqual(raw[28:], b"\x9a\x98\x43\x47")

    def test_entry_with_bad_crc_is_ignored(self):
        good = od.OtaEntry(3, od.STATE_VALID)
        bad = od.OtaEntry.from_bytes(od.OtaEntry(4, od.STATE_VALID).to_bytes()[:28] + b"\x00\x00\x00\x00")
        self.assertFalse(bad.valid())
        self.assertEqual(od.active_index([good, bad]), 0)
        self.assertEqual(od.active_index([bad, good]), 1)

    def test_highest_valid_sequence_wins(self):
        a = od.OtaEntry(5, od.STATE_VALID)
        b = od.OtaEntry(6, od.STATE_NEW)
        self.assertEqual(od.active_index([a, b]), 1)
        self.assertEqual(od.active_index([a, od.OtaEntry(6, od.STATE_ABORTED)]), 0)
        self.assertEqual(od.active_index([od.OtaEntry(od.SEQ_BLANK, od.STATE_UNDEFINED)] * 2), -1)

    def test_next_sequence_maps_to_the_slot(self):
        entries = [od.OtaEntry(1, od.STATE_VALID), od.OtaEntry(od.SEQ_BLANK, od.STATE_UNDEFINED, crc=0xFFFFFFFF)]
        self.assertEqual(od.next_seq_for_slot(entries, 1, 2), (2, 1))
        entries = [od.OtaEntry(1, od.STATE_VALID), od.OtaEntry(2, od.STATE_VALID)]
        self.assertEqual(od.next_seq_for_slot(entries, 0, 2), (3, 0))


class BootAndRollback(unittest.TestCase):
    def setUp(self):
        self.handset = SimHandset()

    def tearDown(self):
        self.handset.remove()

    def entries(self):
        return bootloader.partition.attached().otadata.read()

    def install_v2_image(self):
        """Put v2's signed image into ota_1 (the bytes after the bundle's
        manifest) and select it, as a finished update does."""
        data = fixture("v2.hushota")
        import struct

        mlen = struct.unpack("<I", data[8:12])[0]
        image = data[12 + mlen :]
        target = Partition(Partition.RUNNING).get_next_update()
        for i in range(0, len(image), 4096):
            target.writeblocks(i // 4096, image[i : i + 4096])
        target.set_boot()

    def test_first_boot_records_slot_0_as_valid(self):
        info = self.handset.boot()
        self.assertEqual((info.label, info.state, info.secure_version), ("ota_0", od.STATE_VALID, 1))
        e = self.entries()
        self.assertEqual((e[0].seq, e[0].state, e[0].crc_ok()), (1, od.STATE_VALID, True))

    def test_unconfirmed_boot_is_rolled_back(self):
        self.handset.boot()
        self.install_v2_image()
        self.assertEqual(self.entries()[1].state, od.STATE_NEW)
        info = self.handset.boot()  # the new image starts, pending verification
        self.assertEqual((info.label, info.state, info.secure_version), ("ota_1", od.STATE_PENDING_VERIFY, 2))
        info = self.handset.boot()  # reset without confirming
        self.assertEqual((info.label, info.state, info.rolled_back), ("ota_0", od.STATE_VALID, True))
        self.assertEqual(self.entries()[1].state, od.STATE_ABORTED)
        self.assertEqual(self.handset.boot().label, "ota_0")  # and it stays rolled back

    def test_confirm_marks_valid_and_raises_the_floor(self):
        self.handset.boot()
        self.install_v2_image()
        self.handset.boot()
        Partition.mark_app_valid_cancel_rollback()
        self.assertEqual(self.entries()[1].state, od.STATE_VALID)
        self.assertEqual(self.handset.nvs().get_i32("sec_ver"), 2)
        info = self.handset.boot()
        self.assertEqual((info.label, info.state, info.rolled_back), ("ota_1", od.STATE_VALID, False))

    def test_anti_rollback_floor_skips_old_app(self):
        self.handset.boot()
        self.install_v2_image()
        self.handset.boot()
        Partition.mark_app_valid_cancel_rollback()
        # Point otadata back at the old app (secure_version 1 < floor 2): the
        # bootloader must not start it.
        dev = bootloader.partition.attached()
        dev.otadata.write(0, od.OtaEntry(3, od.STATE_VALID))
        self.assertEqual(self.handset.boot().label, "ota_1")

    def test_corrupt_selected_image_falls_back(self):
        self.handset.boot()
        self.install_v2_image()
        Partition("ota_1").writeblocks(1, b"\x00" * 4096)  # damage the selected image
        info = self.handset.boot()
        self.assertEqual(info.label, "ota_0")

    def test_untrusted_factory_image_does_not_boot(self):
        other = SimHandset(digests=[b"\x11" * 32])
        try:
            with self.assertRaises(bootloader.NoBootableFirmware):
                other.boot()
        finally:
            other.remove()

    def test_power_cut_tears_the_operation_and_kills_the_flash(self):
        root = temp_root()
        try:
            FlashRegion.create(root + "/f.bin", 8192)
            power = PowerSupply(cut_after=2)
            region = FlashRegion(root + "/f.bin", 8192, power)
            region.erase(0, 4096)
            with self.assertRaises(PowerCut):
                region.write(0, b"\x00" * 64)
            self.assertEqual(region.read(0, 64), b"\x00" * 32 + b"\xff" * 32)  # half landed
            with self.assertRaises(PowerCut):
                region.erase(0, 4096)  # no power, nothing happens
            self.assertEqual(region.read(0, 32), b"\x00" * 32)
        finally:
            import os

            for name in os.listdir(root):
                os.remove(root + "/" + name)
            os.rmdir(root)


if __name__ == "__main__":
    unittest.main()
