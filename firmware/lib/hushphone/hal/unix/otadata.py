# The simulated handset's otadata partition (hal/unix): the two-sector
# writer over a simulated flash region. The entry format, CRC and the
# bootloader's selection rules are runtime-neutral and live in
# hushphone.ota.otadata; they are re-exported here for the simulation.
from hushphone.ota.otadata import (  # noqa: F401
    ENTRY_SIZE,
    SECTOR_SIZE,
    SEQ_BLANK,
    STATE_ABORTED,
    STATE_INVALID,
    STATE_NAMES,
    STATE_NEW,
    STATE_PENDING_VERIFY,
    STATE_UNDEFINED,
    STATE_VALID,
    OtaEntry,
    active_index,
    next_seq_for_slot,
    ota_select_crc,
    select,
)


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
