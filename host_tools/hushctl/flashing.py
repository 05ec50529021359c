"""What goes where in flash, and the esptool commands that put it there:
write-flash over a serial port, or merge-bin into one factory image for a
production programmer."""
import shlex
import struct

from esp_idf_defs.partitions import InputError as PartitionInputError
from esp_idf_defs.partitions import PartitionTable

from hushctl import external
from hushctl.errors import HushctlError

PARTITION_TABLE_OFFSET = 0x8000
_APP_DESC_OFFSET = 0x20  # image header (24) + first segment header (8)
_APP_DESC_MAGIC = 0xABCD5432


class FlashingError(HushctlError):
    pass


class Layout:
    """A board's partition table and the offsets provisioning writes to."""

    def __init__(self, partitions_csv):
        try:
            self.table = PartitionTable.from_csv(partitions_csv)
            self.table.verify()
        except PartitionInputError as e:
            raise FlashingError("bad partition table: %s" % e)

    def partition(self, name):
        p = self.table.find_by_name(name)
        if p is None:
            raise FlashingError("the partition table has no %r partition" % name)
        return p

    def table_binary(self):
        return self.table.to_binary()


def app_version(image):
    """(version, secure_version) from an app image's esp_app_desc_t, or None."""
    if len(image) < _APP_DESC_OFFSET + 48:
        return None
    magic, secure_version = struct.unpack_from("<II", image, _APP_DESC_OFFSET)
    if magic != _APP_DESC_MAGIC:
        return None
    raw = image[_APP_DESC_OFFSET + 16:_APP_DESC_OFFSET + 48]
    return raw.split(b"\x00", 1)[0].decode("utf-8", "replace"), secure_version


def app_partition(layout):
    """Where the firmware goes: the factory app partition if the table has
    one (the stock MicroPython layout), else ota_0."""
    for p in layout.table:
        if p.type == 0 and p.subtype == 0:  # app, factory
            return p
    return layout.partition("ota_0")


def flash_items(board, layout, bootloader, partition_table, firmware, nvs, otadata, nvs_keys=None, extra=()):
    """[(offset, description, path)] in address order; `extra` adds
    (partition name, description, path) items."""
    app = app_partition(layout)
    items = [
        (board.bootloader_offset, "bootloader", bootloader),
        (PARTITION_TABLE_OFFSET, "partition table", partition_table),
        (layout.partition("otadata").offset, "otadata (blank: boot %s)" % app.name, otadata),
        (app.offset, "firmware -> %s" % app.name, firmware),
        (layout.partition("nvs").offset, "NVS (identity, trust, account)", nvs),
    ]
    if nvs_keys is not None:
        items.append((layout.partition("nvs_keys").offset, "NVS encryption keys", nvs_keys))
    for name, what, path in extra:
        items.append((layout.partition(name).offset, what, path))
    return sorted(items, key=lambda item: item[0])


def _pairs(items):
    args = []
    for offset, _, path in items:
        args += [hex(offset), str(path)]
    return args


def write_flash_command(board, port, items):
    return [external.exe("esptool"), "--chip", board.chip, "--port", port, "write-flash",
            "--flash-size", board.flash_size] + _pairs(items)


def merge_bin_command(board, output, items):
    return [external.exe("esptool"), "--chip", board.chip, "merge-bin", "--output", str(output),
            "--flash-size", board.flash_size, "--pad-to-size", board.flash_size] + _pairs(items)


def shell_line(cmd):
    return " ".join(shlex.quote(a) for a in cmd)


def run(cmd):
    external.run(cmd, "esptool", FlashingError)
