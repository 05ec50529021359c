"""The boards hushctl can provision: chip and flash size, plus a default
partition table. `boards/<name>/board.json` overrides or adds boards:
{"chip": "esp32", "flash_size": "4MB", "partition_table": "partitions.csv"}
(the partition table path is relative to the board folder)."""
import json
from pathlib import Path

from hushctl.errors import HushctlError

REPO = Path(__file__).resolve().parents[2]
BOARDS_DIR = REPO / "boards"

# The default layout: NVS for identity and trust, otadata + two OTA slots
# for signed updates, an NVS key partition for encrypted NVS, and the
# MicroPython filesystem (contacts) at the end.
_PARTITIONS_4MB = """\
# Name,   Type, SubType,  Offset,   Size,     Flags
nvs,      data, nvs,      0x9000,   0x6000,
otadata,  data, ota,      0xf000,   0x2000,
phy_init, data, phy,      0x11000,  0x1000,
nvs_keys, data, nvs_keys, 0x12000,  0x1000,   encrypted
ota_0,    app,  ota_0,    0x20000,  0x1c0000,
ota_1,    app,  ota_1,    0x1e0000, 0x1c0000,
vfs,      data, fat,      0x3a0000, 0x60000,
"""

_PARTITIONS_16MB = """\
# Name,   Type, SubType,  Offset,   Size,     Flags
nvs,      data, nvs,      0x9000,   0x6000,
otadata,  data, ota,      0xf000,   0x2000,
phy_init, data, phy,      0x11000,  0x1000,
nvs_keys, data, nvs_keys, 0x12000,  0x1000,   encrypted
ota_0,    app,  ota_0,    0x20000,  0x400000,
ota_1,    app,  ota_1,    0x420000, 0x400000,
vfs,      data, fat,      0x820000, 0x7e0000,
"""


class Board:
    def __init__(self, name, chip, flash_size, partitions_csv):
        self.name = name
        self.chip = chip  # esptool chip name, or "sim"
        self.flash_size = flash_size
        self.partitions_csv = partitions_csv

    @property
    def is_sim(self):
        return self.chip == "sim"

    @property
    def bootloader_offset(self):
        # ESP32 loads its second-stage bootloader from 0x1000, the S3 from 0.
        return 0x1000 if self.chip == "esp32" else 0x0


_BUILTIN = {
    "lyrat-v4.3": ("esp32", "4MB", _PARTITIONS_4MB),
    "audiokit-a1s": ("esp32", "4MB", _PARTITIONS_4MB),
    "esp32-s3-box-3": ("esp32s3", "16MB", _PARTITIONS_16MB),
    "esp32-s3-korvo-2": ("esp32s3", "16MB", _PARTITIONS_16MB),
    "sim": ("sim", "4MB", _PARTITIONS_4MB),
}

CHIPS = ("esp32", "esp32s3", "sim")


def _from_folder(name, folder, default):
    try:
        data = json.loads((folder / "board.json").read_text())
    except (OSError, ValueError) as e:
        raise HushctlError("cannot read %s: %s" % (folder / "board.json", e))
    chip = data.get("chip", default[0] if default else None)
    flash_size = data.get("flash_size", default[1] if default else None)
    if chip not in CHIPS or not flash_size:
        raise HushctlError("%s: needs a chip (one of %s) and a flash_size" % (folder / "board.json", ", ".join(CHIPS)))
    partitions = default[2] if default else (_PARTITIONS_16MB if flash_size == "16MB" else _PARTITIONS_4MB)
    if data.get("partition_table"):
        try:
            partitions = (folder / data["partition_table"]).read_text()
        except OSError as e:
            raise HushctlError("cannot read the partition table of board %s: %s" % (name, e))
    return Board(name, chip, flash_size, partitions)


def board_names(boards_dir=None):
    boards_dir = Path(boards_dir) if boards_dir else BOARDS_DIR
    names = set(_BUILTIN)
    if boards_dir.is_dir():
        names.update(p.parent.name for p in boards_dir.glob("*/board.json"))
    return sorted(names)


def get_board(name, boards_dir=None):
    boards_dir = Path(boards_dir) if boards_dir else BOARDS_DIR
    default = _BUILTIN.get(name)
    folder = boards_dir / name
    if (folder / "board.json").is_file():
        return _from_folder(name, folder, default)
    if default is None:
        raise HushctlError("unknown board %r (known: %s)" % (name, ", ".join(board_names(boards_dir))))
    return Board(name, *default)
