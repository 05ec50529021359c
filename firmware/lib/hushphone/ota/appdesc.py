# The start of an ESP-IDF application image: the 24-byte image header (magic
# 0xE9, segment count, flash settings, entry point, extended header with the
# chip id), the first segment's header, and `esp_app_desc_t` that IDF puts
# first in the DROM segment (secure_version, version, project name, build
# date, IDF version). Only these first HEAD_SIZE bytes are ever needed.
import struct

from hushphone.compat import const
from hushphone.ota import OtaRejected

IMAGE_MAGIC = const(0xE9)
APP_DESC_MAGIC = const(0xABCD5432)
APP_DESC_OFFSET = const(0x20)
APP_DESC_SIZE = const(256)
HEAD_SIZE = const(0x20 + 256)

# Image chip ids from esptool's targets (IMAGE_CHIP_ID).
CHIP_IDS = {
    "esp32": 0, "esp32s2": 2, "esp32c3": 5, "esp32s3": 9, "esp32c2": 12, "esp32c6": 13,
    "esp32h2": 16, "esp32p4": 18, "esp32c61": 20, "esp32c5": 23, "esp32h21": 25, "esp32h4": 28,
}


def chip_name(chip_id):
    for name, cid in CHIP_IDS.items():
        if cid == chip_id:
            return name
    return "chip-id-%d" % chip_id


def _text(raw):
    end = raw.find(b"\x00")
    if end >= 0:
        raw = raw[:end]
    try:
        return bytes(raw).decode("utf-8")
    except Exception:  # MicroPython raises UnicodeError, CPython a subclass
        raise OtaRejected("malformed", "app descriptor text is not UTF-8")


class AppInfo:
    """What the first HEAD_SIZE bytes of an app image say about it."""

    def __init__(self, head):
        if len(head) < HEAD_SIZE:
            raise OtaRejected("truncated", "image is shorter than its header and app descriptor")
        head = bytes(head[:HEAD_SIZE])
        if head[0] != IMAGE_MAGIC:
            raise OtaRejected("malformed", "not an ESP application image (magic 0x%02x)" % head[0])
        self.segment_count = head[1]
        self.entry = struct.unpack_from("<I", head, 4)[0]
        self.chip_id = struct.unpack_from("<H", head, 12)[0]
        self.chip = chip_name(self.chip_id)
        self.first_segment_addr, self.first_segment_len = struct.unpack_from("<II", head, 24)
        magic, self.secure_version = struct.unpack_from("<II", head, APP_DESC_OFFSET)
        if magic != APP_DESC_MAGIC:
            raise OtaRejected("malformed", "image has no app descriptor at offset 0x20")
        d = APP_DESC_OFFSET
        self.version = _text(head[d + 16 : d + 48])
        self.project_name = _text(head[d + 48 : d + 80])
        self.time = _text(head[d + 80 : d + 96])
        self.date = _text(head[d + 96 : d + 112])
        self.idf_version = _text(head[d + 112 : d + 144])
        self.elf_sha256 = head[d + 144 : d + 176]

    def as_dict(self):
        return {
            "chip": self.chip, "chip_id": self.chip_id, "entry": self.entry, "segments": self.segment_count,
            "project_name": self.project_name, "version": self.version, "secure_version": self.secure_version,
            "idf_version": self.idf_version, "date": self.date, "time": self.time,
        }
