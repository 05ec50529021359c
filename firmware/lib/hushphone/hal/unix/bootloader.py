# The simulated handset's boot: what the ESP32 ROM and the ESP-IDF second
# stage bootloader do at reset, with CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK and
# Secure Boot V2, and with or without CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE
# (mirrors bootloader_utility_get_selected_boot_partition and
# _load_boot_image):
#   1. (rollback builds) every otadata entry still PENDING_VERIFY was not
#      confirmed by the firmware it started: mark it ABORTED (the rollback);
#   2. blank otadata: boot the first bootable slot and record it as VALID;
#   3. otherwise the active entry is the valid one with the highest sequence
#      whose app is not below the eFuse secure version; (rollback builds)
#      NEW -> PENDING_VERIFY; a VALID app raises the eFuse secure version;
#   4. load the chosen slot only if its image passes the secure-boot check,
#      else try the other slots (as the bootloader walks the table).
# Which kind of bootloader a simulated handset has is fixed when its flash
# is made (create_flash(app_rollback=...), kept in flash/sdkconfig.json, as
# the real bootloader is fixed when the factory flashes it): the app side
# (esp_ota_set_boot_partition) follows the same option, writing NEW with it
# and UNDEFINED without it (hal/unix/partition.py).
import os

from hushphone.hal.unix import otadata as od
from hushphone.hal.unix import partition
from hushphone.hal.unix.dirs import ensure_dir
from hushphone.hal.unix.flash import SECTOR_SIZE, FlashRegion


class NoBootableFirmware(Exception):
    """No slot holds an image that the secure-boot check accepts: a real
    handset would reset forever (a brick)."""


class BootInfo:
    def __init__(self, slot, state, secure_version, rolled_back):
        self.slot = slot
        self.label = partition.SLOT_LABELS[slot]
        self.state = state  # otadata state of the booted slot's entry (None if none)
        self.secure_version = secure_version
        self.rolled_back = rolled_back  # an unconfirmed update was aborted at this boot

    def __repr__(self):
        return "BootInfo(%s, state=%s, secure_version=%d, rolled_back=%s)" % (
            self.label,
            od.STATE_NAMES.get(self.state, self.state),
            self.secure_version,
            self.rolled_back,
        )


def create_flash(root, slot_size, app_rollback=True):
    """A blank (erased) flash for a simulated handset: otadata and two OTA
    app slots of `slot_size` bytes, and the bootloader's build option
    CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE (False: a stock build without it)."""
    ensure_dir(root, "flash")
    partition.write_build_options(root, app_rollback)
    FlashRegion.create(root + "/flash/otadata.bin", 2 * SECTOR_SIZE)
    for label in partition.SLOT_LABELS:
        FlashRegion.create("%s/flash/%s.bin" % (root, label), slot_size)


def flash_app(root, slot, image):
    """Factory programming of an app image into a slot (esptool write_flash):
    erase the slot, write the image. Not part of any update path."""
    path = "%s/flash/%s.bin" % (root, partition.SLOT_LABELS[slot])
    region = FlashRegion(path, os.stat(path)[6])
    if len(image) > region.size:
        raise ValueError("image larger than the slot")
    region.erase(0, region.size)
    data = bytes(image) + b"\xff" * (-len(image) % 16)
    region.write(0, data)


def boot(root, secure_boot, power=None):
    """Reset the simulated handset: pick and check a slot, attach the flash
    so esp32.Partition (hal.unix.partition) works, and say what booted."""
    dev = partition.Device(root, secure_boot, power)
    slot_count = len(dev.slots)
    entries = dev.otadata.read()
    rolled_back = False

    for i in (0, 1):
        if dev.app_rollback and entries[i].state == od.STATE_PENDING_VERIFY:
            entries[i].state = od.STATE_ABORTED
            dev.otadata.write(i, entries[i])
            rolled_back = True

    versions = {}

    def version_of(slot):  # the secure-boot check, once per slot and boot
        if slot not in versions:
            versions[slot] = secure_boot.check_image(dev.slots[slot])
        return versions[slot]

    floor = secure_boot.floor()
    initial = not entries[0].crc_ok() and not entries[1].crc_ok()
    start = -1
    active = -1
    if not initial:
        usable = []
        for e in entries:
            v = version_of(e.slot(slot_count)) if e.valid() else None
            # check_anti_rollback: an app below the eFuse version is never picked
            usable.append(e.valid() and (v is None or v >= floor))
        active = od.select(entries, usable)
        if active != -1:
            start = entries[active].slot(slot_count)
            if dev.app_rollback and entries[active].state == od.STATE_NEW:
                entries[active].state = od.STATE_PENDING_VERIFY
                dev.otadata.write(active, entries[active])
            elif entries[active].state == od.STATE_VALID:
                v = version_of(start)
                if v is not None and v > floor:
                    secure_boot.raise_floor(v)
                    floor = v

    # Try the chosen slot, then the others (lower indices first, as the
    # bootloader walks down to the factory app and then upwards).
    order = ([start] if start >= 0 else []) + [s for s in range(start - 1, -1, -1)] + [s for s in range(start + 1, slot_count)]
    for slot in order:
        v = version_of(slot)
        if v is None or v < floor:
            continue
        state = None
        if active != -1 and entries[active].slot(slot_count) == slot:
            state = entries[active].state
        if initial:
            # set_actual_ota_seq: record the slot that booted from blank otadata
            dev.otadata.write(0, od.OtaEntry(slot + 1, od.STATE_VALID))
            state = od.STATE_VALID
            if v > floor:
                secure_boot.raise_floor(v)
        dev.running_slot = slot
        partition.attach(dev)
        return BootInfo(slot, state, v, rolled_back)
    raise NoBootableFirmware("no slot holds a bootable signed image")
