# A/B slots for filesystem images (hushphone.ota.fsslots) on both runtimes,
# over simulated flash (erase-before-write, 16-byte alignment, torn
# operations at a power cut): which image the loader mounts, NEW ->
# PENDING_VERIFY -> VALID, an unconfirmed image aborted in favour of the
# other slot, an image whose bytes changed refused, and a power cut at every
# flash operation of set_boot/boot/confirm leaving a slot that holds exactly
# the image its entry names.
import unittest

from coretest import rmtree, temp_dir
from hushphone.crypto.sha import sha256
from hushphone.hal.unix import otadata as od
from hushphone.hal.unix.flash import SECTOR_SIZE, BlockRegion, FlashRegion, PowerCut, PowerSupply
from hushphone.ota import fsslots

SLOT = 4 * SECTOR_SIZE


def image(tag, blocks=3):
    return tag * (blocks * SECTOR_SIZE)


class Flash:
    """hushsel + hush_0 + hush_1 as files under a temporary directory."""

    def __init__(self):
        self.dir = temp_dir("hush-fsslots-")
        self.power = PowerSupply()
        for name, size in (("hushsel", 2 * SECTOR_SIZE), ("hush_0", SLOT), ("hush_1", SLOT)):
            FlashRegion.create(self.path(name), size)

    def path(self, name):
        return self.dir + "/" + name + ".bin"

    def slots(self, power=None):
        power = power or PowerSupply()
        sel = BlockRegion(FlashRegion(self.path("hushsel"), 2 * SECTOR_SIZE, power))
        parts = [BlockRegion(FlashRegion(self.path(n), SLOT, power)) for n in fsslots.SLOT_LABELS]
        return fsslots.FsSlots(sel, parts)

    def write_image(self, slot, data, power=None):
        part = self.slots(power).slots[slot]
        for i in range(len(data) // SECTOR_SIZE):
            part.writeblocks(i, data[i * SECTOR_SIZE : (i + 1) * SECTOR_SIZE])

    def install(self, slot, data, secure_version=1, power=None):
        self.write_image(slot, data, power)
        self.slots(power).set_boot(slot, sha256(data), len(data), secure_version)

    def snapshot(self):
        out = []
        for name in ("hushsel", "hush_0", "hush_1"):
            with open(self.path(name), "rb") as f:
                out.append(f.read())
        return out

    def restore(self, snap):
        for name, data in zip(("hushsel", "hush_0", "hush_1"), snap):
            with open(self.path(name), "wb") as f:
                f.write(data)

    def close(self):
        rmtree(self.dir)


class SlotTest(unittest.TestCase):
    def setUp(self):
        self.flash = Flash()
        self.flash.install(0, image(b"A"))
        s = self.flash.slots()
        s.boot()
        s.confirm()

    def tearDown(self):
        self.flash.close()

    def booted(self):
        s = self.flash.slots()
        slot, entry = s.boot()
        return slot, (None if entry is None else od.STATE_NAMES[entry.state])

    def test_factory_image_boots_and_confirms(self):
        self.assertEqual(self.booted(), (0, "VALID"))
        self.assertEqual(self.flash.slots().running_secure_version(), 1)

    def test_update_then_confirm(self):
        self.flash.install(1, image(b"B", 4), secure_version=2)
        s = self.flash.slots()
        slot, entry = s.boot()
        self.assertEqual((slot, od.STATE_NAMES[entry.state]), (1, "PENDING_VERIFY"))
        self.assertEqual(od.STATE_NAMES[s.running_state()], "PENDING_VERIFY")
        self.assertTrue(s.confirm())
        self.assertFalse(s.confirm())
        self.assertEqual(self.booted(), (1, "VALID"))
        self.assertEqual(self.flash.slots().running_secure_version(), 2)

    def test_unconfirmed_update_rolls_back(self):
        self.flash.install(1, image(b"B"))
        self.assertEqual(self.booted(), (1, "PENDING_VERIFY"))  # the self-test never confirmed
        self.assertEqual(self.booted(), (0, "VALID"))
        self.assertEqual(self.booted(), (0, "VALID"))

    def test_changed_image_is_not_mounted(self):
        self.flash.install(1, image(b"B"))
        part = self.flash.slots().slots[1]
        part.writeblocks(2, image(b"C", 1))  # not what the entry names
        self.assertEqual(self.booted(), (0, "VALID"))

    def test_version_record(self):
        self.flash.install(1, image(b"B"))
        s = self.flash.slots()
        s.set_boot(1, sha256(image(b"B")), 3 * SECTOR_SIZE, 2, "1.5.0-rc1")
        s.boot()
        self.assertEqual(s.running_version(), "1.5.0-rc1")
        s.confirm()  # a state change keeps the record
        self.assertEqual((s.running_version(), s.running_secure_version()), ("1.5.0-rc1", 2))
        sector = fsslots.entry_sector(od.OtaEntry(3, od.STATE_NEW), "2.0")
        self.assertEqual(fsslots.sector_version(sector), "2.0")
        sector[34] ^= 1  # a torn or changed record reads as unknown
        self.assertEqual(fsslots.sector_version(sector), "")

    def test_nothing_installed(self):
        empty = Flash()
        try:
            self.assertEqual(empty.slots().boot(), (None, None))
        finally:
            empty.close()

    def test_running_fs_targets_the_other_slot(self):
        s = self.flash.slots()
        running = fsslots.RunningFs(s)
        target = running.get_next_update()
        self.assertEqual((target.slot, target.info()[4], target.ioctl(4, 0)), (1, "hush_1", SLOT // SECTOR_SIZE))
        self.assertEqual(od.STATE_NAMES[running.ota_state()], "VALID")

    def test_power_cut_at_every_operation(self):
        """Install B (write, set_boot), boot it, confirm it: cut the power
        at each flash operation; the next boot mounts A or B, intact."""
        new = image(b"B", 4)
        base = self.flash.snapshot()
        probe = PowerSupply()
        self.flash.install(1, new, 2, probe)
        s = self.flash.slots(probe)
        s.boot()
        s.confirm()
        total = probe.ops
        self.assertGreater(total, 8)
        seen = set()
        for n in range(1, total + 1):
            self.flash.restore(base)
            power = PowerSupply(cut_after=n)
            try:
                self.flash.install(1, new, 2, power)
                s = self.flash.slots(power)
                s.boot()
                s.confirm()
                self.fail("no power cut at operation %d" % n)
            except PowerCut:
                pass
            s = self.flash.slots()
            slot, entry = s.boot()
            self.assertIn(slot, (0, 1), n)
            data = self.flash.slots().slots[slot]
            buf = bytearray(SECTOR_SIZE)
            got = bytearray()
            for b in range(fsslots.parse_label(entry.label)[1]):
                data.readblocks(b, buf)
                got += buf
            self.assertEqual(bytes(got), image(b"A") if slot == 0 else new, n)
            seen.add(slot)
        self.assertEqual(seen, {0, 1})  # early cuts keep A, late ones (after set_boot) give B


if __name__ == "__main__":
    unittest.main()
