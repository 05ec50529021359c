# ESP-IDF's "otadata" partition, which tells the bootloader which OTA slot to
# boot: two 4 KiB sectors, each starting with an esp_ota_select_entry_t
#   uint32 ota_seq, uint8 seq_label[20], uint32 ota_state, uint32 crc
# (little-endian, 32 bytes). crc = esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4),
# i.e. zlib's CRC-32 of the 4 sequence bytes continued from 0xFFFFFFFF.
# The entry with the highest sequence among the valid ones is active and
# selects slot (ota_seq - 1) % number_of_slots. The functions below mirror
# bootloader_common_ota_select_valid/_invalid/get_active_otadata and the
# writers in esp_ota_ops.c (rewrite_ota_seq, esp_rewrite_ota_data).
#
# Runtime-neutral: the simulated flash (hal/unix) writes otadata with it, and
# the updater reads the real otadata partition through esp32.Partition to
# learn whether the running app is still unconfirmed (MicroPython has no API
# for esp_ota_get_state_partition).
import binascii
import struct

from hushphone.compat import const

SECTOR_SIZE = const(4096)
ENTRY_SIZE = const(32)
SEQ_BLANK = 0xFFFFFFFF

# esp_ota_img_states_t
STATE_NEW = const(0)
STATE_PENDING_VERIFY = const(1)
STATE_VALID = const(2)
STATE_INVALID = const(3)
STATE_ABORTED = const(4)
STATE_UNDEFINED = 0xFFFFFFFF

STATE_NAMES = {
    STATE_NEW: "NEW",
    STATE_PENDING_VERIFY: "PENDING_VERIFY",
    STATE_VALID: "VALID",
    STATE_INVALID: "INVALID",
    STATE_ABORTED: "ABORTED",
    STATE_UNDEFINED: "UNDEFINED",
}

_FMT = "<I20sII"
_BLANK_LABEL = b"\xff" * 20


def ota_select_crc(seq):
    return binascii.crc32(struct.pack("<I", seq), 0xFFFFFFFF) & 0xFFFFFFFF


class OtaEntry:
    def __init__(self, seq, state, crc=None, label=_BLANK_LABEL):
        self.seq = seq
        self.state = state
        self.label = label
        self.crc = ota_select_crc(seq) if crc is None else crc

    @classmethod
    def from_bytes(cls, data):
        seq, label, state, crc = struct.unpack(_FMT, bytes(data[:ENTRY_SIZE]))
        return cls(seq, state, crc, label)

    def to_bytes(self):
        return struct.pack(_FMT, self.seq, self.label, self.state, self.crc)

    def invalid(self):
        """bootloader_common_ota_select_invalid: blank, INVALID or ABORTED."""
        return self.seq == SEQ_BLANK or self.state == STATE_INVALID or self.state == STATE_ABORTED

    def valid(self):
        """bootloader_common_ota_select_valid: not invalid and CRC intact."""
        return not self.invalid() and self.crc == ota_select_crc(self.seq)

    def crc_ok(self):
        return self.seq != SEQ_BLANK and self.crc == ota_select_crc(self.seq)

    def slot(self, slot_count):
        return (self.seq - 1) % slot_count

    def __repr__(self):
        return "OtaEntry(seq=%d, state=%s, crc_ok=%s)" % (
            self.seq,
            STATE_NAMES.get(self.state, str(self.state)),
            self.crc_ok(),
        )


def select(entries, usable):
    """bootloader_common_select_otadata(..., max=true): the index of the
    usable entry with the highest sequence, or -1."""
    if usable[0] and usable[1]:
        return 0 if entries[0].seq >= entries[1].seq else 1
    for i in (0, 1):
        if usable[i]:
            return i
    return -1


def active_index(entries):
    """bootloader_common_get_active_otadata."""
    return select(entries, [entries[0].valid(), entries[1].valid()])


def next_seq_for_slot(entries, slot, slot_count):
    """The sequence number esp_rewrite_ota_data picks to boot `slot` next:
    the smallest seq >= the active one that maps to `slot`, and the sector
    (the one not active) it is written to."""
    active = active_index(entries)
    base = (slot + 1) % slot_count
    if active == -1:
        return slot + 1, 0
    seq = entries[active].seq
    i = 0
    while seq > base + i * slot_count:
        i += 1
    return base + i * slot_count, (~active) & 1


_SUBTYPE_OTA_0 = const(0x10)
_SUBTYPE_OTA_MAX = const(0x1F)
_SUBTYPE_OTA_DATA = const(0x00)


def read_entries(partition_cls):
    """Both entries of the otadata partition, read through the HAL's
    Partition class (esp32.Partition or hal.unix.partition.Partition)."""
    found = partition_cls.find(type=partition_cls.TYPE_DATA, subtype=_SUBTYPE_OTA_DATA)
    if not found:
        return None
    part = found[0]
    entries = []
    buf = bytearray(ENTRY_SIZE)
    for sector in (0, 1):
        part.readblocks(sector * SECTOR_SIZE // part.ioctl(5, 0), buf)
        entries.append(OtaEntry.from_bytes(buf))
    return entries


def partition_state(partition_cls, partition):
    """esp_ota_get_state_partition: the otadata state of an OTA app
    partition (the newest valid entry that selects it), or None when
    otadata has no entry for it (a factory app, blank otadata)."""
    subtype = partition.info()[1]
    if not _SUBTYPE_OTA_0 <= subtype <= _SUBTYPE_OTA_MAX:
        return None
    entries = read_entries(partition_cls)
    if entries is None:
        return None
    slot_count = 0
    for p in partition_cls.find(type=partition_cls.TYPE_APP):
        if _SUBTYPE_OTA_0 <= p.info()[1] <= _SUBTYPE_OTA_MAX:
            slot_count += 1
    slot = subtype - _SUBTYPE_OTA_0
    usable = [e.valid() and e.slot(slot_count) == slot for e in entries]
    i = select(entries, usable)
    return None if i < 0 else entries[i].state
