"""A stock MicroPython ESP32 release as a maker downloads it
(ESP32_GENERIC-SPIRAM-v1.24.1.bin and the like): one merged flash image that
starts at the chip's bootloader offset (0x1000 on the ESP32, 0 on the S3)
and holds the second-stage bootloader, MicroPython's own partition table
(0x8000) and the application (0x10000). Provisioning keeps the bootloader
and the application and replaces the partition table with the board's."""
import re
import struct

from hushctl.errors import HushctlError

PARTITION_TABLE_OFFSET = 0x8000
APP_OFFSET = 0x10000
_MAGIC = 0xE9
_APP_DESC_MAGIC = 0xABCD5432
_CHIP_IDS = {"esp32": 0, "esp32s3": 9}
_BANNER = re.compile(rb"MicroPython v(\d+)\.(\d+)[0-9A-Za-z.+-]*")


class StockImageError(HushctlError):
    pass


def image_length(data, offset):
    """Length of the ESP-IDF image at `offset`: 24-byte header, segments,
    checksum padded to 16 bytes, and the appended SHA-256 if flagged."""
    if len(data) < offset + 24 or data[offset] != _MAGIC:
        raise StockImageError("no ESP image at offset 0x%x" % offset)
    count = data[offset + 1]
    hash_appended = data[offset + 23] == 1
    pos = offset + 24
    for _ in range(count):
        if pos + 8 > len(data):
            raise StockImageError("the image at 0x%x is cut short" % offset)
        pos += 8 + struct.unpack_from("<I", data, pos + 4)[0]
    pos += 16 - (pos - offset) % 16  # checksum byte at the end of a 16-byte line
    if hash_appended:
        pos += 32
    if pos > len(data):
        raise StockImageError("the image at 0x%x is cut short" % offset)
    return pos - offset


class StockRelease:
    def __init__(self, bootloader, app, release, version):
        self.bootloader = bootloader
        self.app = app
        self.release = release  # (major, minor)
        self.version = version  # as the image says it, e.g. "v1.16-237-g1613dc8a1-dirty"


def _chip_id(image):
    return struct.unpack_from("<H", image, 12)[0]


def split(data, board):
    """The bootloader, the app and the MicroPython release of a merged
    stock release image for `board`'s chip."""
    base = board.bootloader_offset
    app_at = APP_OFFSET - base
    if len(data) > 24 and data[0] == _MAGIC and _chip_id(data) != _CHIP_IDS[board.chip]:
        chips = {v: k for k, v in _CHIP_IDS.items()}
        raise StockImageError("the MicroPython image is for another chip (%s) than the %s of board %s" % (
            chips.get(_chip_id(data), "chip id %d" % _chip_id(data)), board.chip, board.name))
    if len(data) < app_at + 0x100 or data[0] != _MAGIC or data[app_at] != _MAGIC:
        raise StockImageError("not a merged MicroPython release image for %s (no bootloader at 0x%x and app at "
                              "0x%x)" % (board.chip, base, APP_OFFSET))
    bootloader = data[:image_length(data, 0)]
    app = data[app_at:app_at + image_length(data, app_at)]
    if _chip_id(app) != _CHIP_IDS[board.chip] or _chip_id(bootloader) != _CHIP_IDS[board.chip]:
        raise StockImageError("the MicroPython image is for another chip than the %s of board %s"
                              % (board.chip, board.name))
    if struct.unpack_from("<I", app, 0x20)[0] != _APP_DESC_MAGIC:
        raise StockImageError("the application in the MicroPython image has no app descriptor")
    m = _BANNER.search(app)
    if not m:
        raise StockImageError("the application does not say which MicroPython release it is")
    return StockRelease(bytes(bootloader), bytes(app), (int(m.group(1)), int(m.group(2))),
                        m.group(0)[len(b"MicroPython "):].decode())
