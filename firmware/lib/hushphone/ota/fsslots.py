# A/B slots for filesystem images: how a handset that runs a stock
# MicroPython release updates its firmware with the same power-cut guarantee
# as ESP-IDF's two OTA app slots (docs/ota.md, "Filesystem images").
#
# Partitions: two code slots ("hush_0", "hush_1"), each holding one signed
# filesystem image (a LittleFS2 image, then its 4 KiB Secure Boot V2
# signature sector), and "hushsel", two 4 KiB sectors of
# esp_ota_select_entry_t exactly as in otadata (ota/otadata.py: the valid
# entry with the highest sequence selects slot (seq - 1) % 2). The entry's
# 20-byte label holds what the loader checks at every boot: the first 12
# bytes of the image's SHA-256, its length in 4 KiB blocks and its
# secure_version (u32 LE each). After the 32-byte entry, the same sector
# keeps the image's version string (u8 length, UTF-8, CRC-32), written in
# the same erase-and-program (ESP-IDF reads only the entry).
#
# The states follow the bootloader's rollback scheme: set_boot() writes a
# NEW entry (only after the verifier accepted the whole image); the loader
# turns NEW into PENDING_VERIFY when it mounts it; confirm() (after the
# self-test) makes it VALID; an image the loader finds still PENDING_VERIFY
# never confirmed itself and is ABORTED: the other slot boots. Every entry
# write erases its sector first, so a power cut leaves a blank (invalid)
# entry and the other one decides; the running slot is never written.
import binascii
import struct

from hushphone.compat import const
from hushphone.crypto.sha import new_sha256
from hushphone.ota import OtaRejected
from hushphone.ota import otadata as od

BLOCK = const(4096)
SLOT_LABELS = ("hush_0", "hush_1")
SELECT_LABEL = "hushsel"
_LABEL_FMT = "<12sII"


def image_label(sha256_digest, blocks, secure_version):
    return struct.pack(_LABEL_FMT, bytes(sha256_digest[:12]), blocks, secure_version)


def parse_label(label):
    """(sha256 prefix, blocks, secure_version) of an entry label."""
    return struct.unpack(_LABEL_FMT, bytes(label))


def entry_sector(entry, version=""):
    """The 4 KiB written for an entry: the entry, then the version record."""
    data = bytearray(b"\xff" * BLOCK)
    data[: od.ENTRY_SIZE] = entry.to_bytes()
    raw = version.encode("utf-8")[:31]
    record = bytes([len(raw)]) + raw
    data[od.ENTRY_SIZE : od.ENTRY_SIZE + len(record) + 4] = record + struct.pack("<I", binascii.crc32(record))
    return data


def sector_version(sector):
    """The version record after an entry ("" if absent or torn)."""
    n = sector[od.ENTRY_SIZE]
    if n > 31:
        return ""
    record = bytes(sector[od.ENTRY_SIZE : od.ENTRY_SIZE + 1 + n])
    crc = struct.unpack("<I", bytes(sector[od.ENTRY_SIZE + 1 + n : od.ENTRY_SIZE + 5 + n]))[0]
    return record[1:].decode() if crc == binascii.crc32(record) else ""


class FsSlots:
    """The selection partition `sel` and the two slots (esp32.Partition API:
    readblocks, writeblocks erasing first, ioctl)."""

    def __init__(self, sel, slots):
        self.sel = sel
        self.slots = slots
        self.slot_blocks = slots[0].ioctl(4, 0)
        self.booted = None  # the slot the loader mounted at this boot

    def entries(self):
        buf = bytearray(od.ENTRY_SIZE)
        out = []
        for sector in (0, 1):
            self.sel.readblocks(sector, buf)
            out.append(od.OtaEntry.from_bytes(buf))
        return out

    def _write(self, sector, entry, version=None):
        if version is None:  # a state change keeps the version record
            version = self.version_in(sector)
        self.sel.writeblocks(sector, entry_sector(entry, version))  # erase, then program

    def version_in(self, sector):
        buf = bytearray(64)
        self.sel.readblocks(sector, buf)
        return sector_version(buf)

    def running_version(self):
        i, e = self.active()
        return "" if i < 0 else self.version_in(i)

    def active(self):
        """(sector, entry) of the entry that selects the running image, or (-1, None)."""
        entries = self.entries()
        i = od.active_index(entries)
        return (i, entries[i]) if i >= 0 else (-1, None)

    def running_slot(self):
        i, e = self.active()
        return None if i < 0 else e.slot(len(self.slots))

    def running_state(self):
        i, e = self.active()
        return None if i < 0 else e.state

    def running_secure_version(self):
        i, e = self.active()
        return 0 if i < 0 else parse_label(e.label)[2]

    def image_ok(self, slot, entry):
        """The slot holds the image the entry names (hash of its blocks)."""
        prefix, blocks, _ = parse_label(entry.label)
        if not 2 <= blocks <= self.slot_blocks:
            return False
        h = new_sha256()
        buf = bytearray(BLOCK)
        part = self.slots[slot]
        for b in range(blocks):
            part.readblocks(b, buf)
            h.update(buf)
        return h.digest()[:12] == prefix

    def boot(self):
        """What the loader does at every reset: returns (slot, entry) of the
        image to mount, or (None, None) when no slot holds one. Marks a NEW
        image PENDING_VERIFY and aborts one that never confirmed."""
        for _ in range(2):  # at most one abort, then the other entry decides
            entries = self.entries()
            i = od.active_index(entries)
            if i < 0:
                return None, None
            e = entries[i]
            slot = e.slot(len(self.slots))
            if e.state == od.STATE_PENDING_VERIFY or not self.image_ok(slot, e):
                self._write(i, od.OtaEntry(e.seq, od.STATE_ABORTED, label=e.label))
                continue
            if e.state == od.STATE_NEW:
                e = od.OtaEntry(e.seq, od.STATE_PENDING_VERIFY, label=e.label)
                self._write(i, e)
            self.booted = slot
            return slot, e
        return None, None

    def set_boot(self, slot, sha256_digest, image_size, secure_version, version=""):
        """Point the next boot at `slot` (a NEW entry in the sector that is
        not active), after its image passed every check."""
        entries = self.entries()
        seq, sector = od.next_seq_for_slot(entries, slot, len(self.slots))
        self._write(sector, od.OtaEntry(seq, od.STATE_NEW,
                                        label=image_label(sha256_digest, image_size // BLOCK, secure_version)),
                    version)

    def confirm(self):
        """The running image passed its self-test: PENDING_VERIFY -> VALID
        (like esp_ota_mark_app_valid_cancel_rollback). True if it changed."""
        i, e = self.active()
        if i < 0 or e.state != od.STATE_PENDING_VERIFY:
            return False
        self._write(i, od.OtaEntry(e.seq, od.STATE_VALID, label=e.label))
        return True


def mounted():
    """The FsSlots the loader (hushboot) mounted the running firmware from,
    or None on a frozen firmware: an OtaService installs kind "fs" updates
    through RunningFs(mounted()) when it is not None."""
    try:
        import hushboot
    except ImportError:
        return None
    return hushboot.slots


class ImageDevice:
    """The block device VfsLfs2 mounts: a slot's first `blocks` - 1 blocks
    (the LittleFS2 image without its signature sector), read-only."""

    def __init__(self, part, blocks):
        self.part = part
        self.blocks = blocks - 1

    def readblocks(self, block, buf, offset=0):
        self.part.readblocks(block, buf, offset)

    def writeblocks(self, block, buf, offset=0):
        raise OSError(30)  # EROFS: a signed image is never written in place

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return BLOCK
        return 0


class RunningFs:
    """The Updater's view of a filesystem-image handset (what
    esp32.Partition(RUNNING) is for an app): the next slot to write and the
    running image's state."""

    def __init__(self, fsslots):
        self.fs = fsslots
        slot = fsslots.running_slot()
        self.target_slot = 0 if slot is None else 1 - slot

    def get_next_update(self):
        return SlotTarget(self.fs, self.target_slot)

    def ota_state(self):
        return self.fs.running_state()


class SlotTarget:
    """The inactive slot, with the Partition methods the Updater uses;
    set_boot_verified() replaces set_boot(): the entry records the hash."""

    def __init__(self, fsslots, slot):
        self.fs = fsslots
        self.slot = slot
        self.part = fsslots.slots[slot]

    def info(self):
        return (1, 0x40 + self.slot, 0, self.fs.slot_blocks * BLOCK, SLOT_LABELS[self.slot], False)

    def ioctl(self, op, arg):
        return self.part.ioctl(op, arg)

    def readblocks(self, block, buf, offset=0):
        self.part.readblocks(block, buf, offset)

    def writeblocks(self, block, buf, offset=None):
        if offset is None:
            self.part.writeblocks(block, buf)
        else:
            self.part.writeblocks(block, buf, offset)

    def set_boot_verified(self, result):
        if result.kind != "fs":
            raise OtaRejected("kind", "an app image cannot go into a filesystem slot")
        self.fs.set_boot(self.slot, binascii.unhexlify(result.image_sha256), result.manifest.image_size,
                         result.secure_version, result.version)
