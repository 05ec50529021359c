# ESP-IDF's "otadata" partition, which tells the bootloader which OTA slot to
# boot: two 4 KiB sectors, each starting with an esp_ota_select_entry_t
#   uint32 ota_seq, uint8 seq_label[20], uint32 ota_state, uint32 crc
# (little-endian, 32 bytes). crc = esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4),
# i.e. zlib's CRC-32 of the 4 sequence bytes continued from 0xFFFFFFFF.
# The entry with the highest sequence among the valid ones is active and
# selects slot (ota_seq - 1) % number_of_slots. The functions below mirror
# bootloader_common_ota_select_valid/_invalid/get_active_otadata and the
# writers in esp_ota_ops.c (rewrite_ota_seq, esp_rewrite_ota_data).
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


class OtaData:
    """The otadata partition on a flash region (2 sectors)."""

    def __init__(self, region):
        self.region = region

    def read(self):
        return [OtaEntry.from_bytes(self.region.read(i * SECTOR_SIZE, ENTRY_SIZE)) for i in (0, 1)]

    def write(self, index, entry):
        """Erase the entry's sector, then program the 32 bytes (as IDF's
        write_otadata / rewrite_ota_seq do: a power cut in between leaves a
        blank, invalid entry and the other one decides the boot)."""
        offset = index * SECTOR_SIZE
        self.region.erase(offset, SECTOR_SIZE)
        self.region.write(offset, entry.to_bytes())
