# esp32.Partition for the simulated handset. The same methods and meaning as
# MicroPython's esp32 port (ports/esp32/esp32_partition.c) over ESP-IDF:
#   readblocks(block, buf[, offset]), writeblocks(block, buf) erases the
#   blocks first, writeblocks(block, buf, offset) programs without erasing,
#   ioctl(4)=block count, ioctl(5)=block size, ioctl(6, block)=erase,
#   set_boot() (validates the image, then points otadata at this slot as a
#   NEW image), get_next_update(), Partition.mark_app_valid_cancel_rollback().
# The flash is a directory of partition files (see flash.py); which slot is
# running is decided by the simulated bootloader (bootloader.py), which
# attaches the Device here, as the real chip "attaches" its flash at reset.
import errno
import json
import os

from hushphone.hal.unix import otadata as od
from hushphone.hal.unix.flash import SECTOR_SIZE, FlashRegion, PowerSupply

# Layout of the simulated flash (ESP-IDF's two-OTA partition table).
OTADATA_OFFSET = 0xD000
APP_OFFSET = 0x10000
SLOT_LABELS = ("ota_0", "ota_1")
_TYPE_APP = 0
_TYPE_DATA = 1
_SUBTYPE_OTA_DATA = 0x00
_SUBTYPE_OTA_0 = 0x10

_BUILD_OPTIONS = "/flash/sdkconfig.json"
_ROLLBACK_OPTION = "CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE"


def write_build_options(root, app_rollback):
    """The simulated firmware build's options that change flash behaviour
    (written with the flash, as the factory flashes a bootloader)."""
    with open(root + _BUILD_OPTIONS, "w") as f:
        json.dump({_ROLLBACK_OPTION: bool(app_rollback)}, f)


def read_app_rollback(root):
    """CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE of this flash's bootloader
    (a flash made before the option existed has it: the boards enable it)."""
    try:
        with open(root + _BUILD_OPTIONS) as f:
            return bool(json.load(f).get(_ROLLBACK_OPTION, True))
    except OSError:
        return True


# esp_err_t codes that MicroPython turns into OSError(-code).
ESP_ERR_OTA_VALIDATE_FAILED = 0x1503
ESP_ERR_NOT_FOUND = 0x105


class Device:
    """The simulated chip's flash under `root/flash`, plus the secure-boot
    and eFuse behaviour the bootloader and esp_ota_ops need:
    `secure_boot.check_image(region)` -> the app's secure_version, or None
    when the ROM/bootloader would refuse it; `secure_boot.floor()` and
    `secure_boot.raise_floor(v)` for the anti-rollback eFuse."""

    def __init__(self, root, secure_boot, power=None):
        self.root = root
        self.secure_boot = secure_boot
        self.power = power if power is not None else PowerSupply()
        flash = root + "/flash"
        self.otadata = od.OtaData(FlashRegion(flash + "/otadata.bin", 2 * SECTOR_SIZE, self.power))
        size = os.stat(flash + "/ota_0.bin")[6]
        self.slots = [FlashRegion("%s/%s.bin" % (flash, label), size, self.power) for label in SLOT_LABELS]
        self.running_slot = None
        self.app_rollback = read_app_rollback(root)

    def boot_slot(self):
        """esp_ota_get_boot_partition: the slot otadata selects (slot 0 if
        otadata is blank or broken)."""
        entries = self.otadata.read()
        active = od.active_index(entries)
        if active == -1:
            return 0
        return entries[active].slot(len(self.slots))

    def set_boot_slot(self, slot):
        """esp_ota_set_boot_partition: refuse an image that would not boot,
        then write the next sequence into the non-active otadata sector, in
        state NEW with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE, else UNDEFINED
        (esp_rewrite_ota_data)."""
        if self.secure_boot.check_image(self.slots[slot]) is None:
            raise OSError(-ESP_ERR_OTA_VALIDATE_FAILED, "ESP_ERR_OTA_VALIDATE_FAILED")
        entries = self.otadata.read()
        seq, sector = od.next_seq_for_slot(entries, slot, len(self.slots))
        state = od.STATE_NEW if self.app_rollback else od.STATE_UNDEFINED
        self.otadata.write(sector, od.OtaEntry(seq, state))

    def mark_running_valid(self):
        """esp_ota_mark_app_valid_cancel_rollback (with anti-rollback: the
        eFuse secure version follows the confirmed app)."""
        entries = self.otadata.read()
        active = od.active_index(entries)
        if active == -1:
            raise OSError(-ESP_ERR_NOT_FOUND, "ESP_ERR_NOT_FOUND")
        if entries[active].state != od.STATE_VALID:
            self.otadata.write(active, od.OtaEntry(entries[active].seq, od.STATE_VALID))
            version = self.secure_boot.check_image(self.slots[self.running_slot])
            if version is not None and version > self.secure_boot.floor():
                self.secure_boot.raise_floor(version)


_device = None


def attach(device):
    global _device
    _device = device


def attached():
    if _device is None or _device.running_slot is None:
        raise OSError(errno.ENODEV, "no simulated handset booted (hal.unix.bootloader.boot)")
    return _device


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = _TYPE_APP
    TYPE_DATA = _TYPE_DATA

    def __init__(self, id, block_size=4096):
        dev = attached()
        if block_size != SECTOR_SIZE:
            raise ValueError("the simulation supports 4096-byte blocks only")
        if id == Partition.BOOT:
            label = SLOT_LABELS[dev.boot_slot()]
        elif id == Partition.RUNNING:
            label = SLOT_LABELS[dev.running_slot]
        elif isinstance(id, str):
            label = id
        else:
            raise ValueError("unknown partition id")
        if label == "otadata":
            self._region = dev.otadata.region
            self._slot = None
            self._info = (_TYPE_DATA, _SUBTYPE_OTA_DATA, OTADATA_OFFSET, 2 * SECTOR_SIZE, label, True)
        elif label in SLOT_LABELS:
            self._slot = SLOT_LABELS.index(label)
            self._region = dev.slots[self._slot]
            size = self._region.size
            self._info = (_TYPE_APP, _SUBTYPE_OTA_0 + self._slot, APP_OFFSET + self._slot * size, size, label, True)
        else:
            raise OSError(errno.ENOENT, "no partition %r" % (label,))
        self._dev = dev

    @staticmethod
    def find(type=_TYPE_APP, subtype=0xFF, label=None, block_size=4096):
        names = SLOT_LABELS if type == _TYPE_APP else ("otadata",) if type == _TYPE_DATA else ()
        found = [Partition(name, block_size) for name in names]
        return [p for p in found if (subtype == 0xFF or p._info[1] == subtype) and (label is None or p._info[4] == label)]

    def info(self):
        return self._info

    def __repr__(self):
        t, st, addr, size, label, enc = self._info
        return "<Partition type=%d, subtype=%d, address=%d, size=%d, label=%s, encrypted=%d>" % (t, st, addr, size, label, enc)

    def readblocks(self, block_num, buf, offset=0):
        self._region.read_into(block_num * SECTOR_SIZE + offset, buf)

    def writeblocks(self, block_num, buf, offset=None):
        start = block_num * SECTOR_SIZE
        if offset is None:
            self._region.erase(start, len(buf))  # the simple block-device write erases first
        else:
            start += offset
        self._region.write(start, buf)

    def ioctl(self, op, arg):
        if op in (1, 2, 3):  # init, deinit, sync
            return 0
        if op == 4:
            return self._region.size // SECTOR_SIZE
        if op == 5:
            return SECTOR_SIZE
        if op == 6:
            self._region.erase(arg * SECTOR_SIZE, SECTOR_SIZE)
            return 0
        return None

    def set_boot(self):
        if self._slot is None:
            raise OSError(-ESP_ERR_NOT_FOUND, "not an app partition")
        self._dev.set_boot_slot(self._slot)

    def get_next_update(self):
        if self._slot is None:
            raise OSError(-ESP_ERR_NOT_FOUND, "not an app partition")
        return Partition(SLOT_LABELS[(self._slot + 1) % len(SLOT_LABELS)])

    @staticmethod
    def mark_app_valid_cancel_rollback():
        attached().mark_running_valid()
