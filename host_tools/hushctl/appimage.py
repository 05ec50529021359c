"""Small but valid ESP-IDF application images, built with esptool's own image
classes, for tests, simulations and benchmarks.

An image has one flash-mapped DROM segment that starts with `esp_app_desc_t`
(as an ESP-IDF build lays it out, so `esptool image-info` and the handset's
app-descriptor parser both find it at offset 0x20) followed by a deterministic
payload, and one small IRAM segment holding the entry point."""
import hashlib
import struct

from esptool.bin_image import ELFSection, LoadFirmwareImage
from esptool.targets import CHIP_DEFS

from hushctl.errors import HushctlError

APP_DESC_MAGIC = 0xABCD5432
APP_DESC_SIZE = 256
# esp_app_desc_t: magic, secure_version, reserv1[2], version[32],
# project_name[32], time[16], date[16], idf_ver[32], app_elf_sha256[32],
# min/max eFuse block revision, mmu_page_size, reserv3[3], reserv2[18].
_APP_DESC_FMT = "<II8s32s32s16s16s32s32sHHB3s72s"

# Where the app descriptor lands inside an image: 24-byte image header plus
# the first segment's 8-byte header.
APP_DESC_OFFSET = 0x20


def _fixed_text(value, size, field):
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if len(data) >= size:  # keep the terminating NUL IDF relies on
        raise HushctlError("%s %r is longer than %d bytes" % (field, value, size - 1))
    return data


def pack_app_desc(version, secure_version, project_name, idf_ver="v5.2.2", date="Nov 27 2026", time="10:00:00",
                  elf_sha256=b""):
    """The 256-byte esp_app_desc_t for the given fields."""
    if not 0 <= int(secure_version) < 1 << 32:
        raise HushctlError("secure_version must fit in 32 bits")
    return struct.pack(
        _APP_DESC_FMT,
        APP_DESC_MAGIC,
        int(secure_version),
        b"",
        _fixed_text(version, 32, "version"),
        _fixed_text(project_name, 32, "project name"),
        _fixed_text(time, 16, "time"),
        _fixed_text(date, 16, "date"),
        _fixed_text(idf_ver, 32, "IDF version"),
        bytes(elf_sha256)[:32],
        0,
        0xFFFF,  # any eFuse block revision, as IDF writes by default
        0,
        b"",
        b"",
    )


def _payload(size, seed):
    """`size` deterministic pseudo-random bytes (SHA-256 in counter mode), so
    two builds with the same arguments are byte-identical."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(seed + counter.to_bytes(4, "little")).digest()
        counter += 1
    return bytes(out[:size])


def _chip_rom(chip):
    try:
        return CHIP_DEFS[chip]
    except KeyError:
        raise HushctlError("unknown chip %r (known: %s)" % (chip, ", ".join(sorted(CHIP_DEFS))))


def build_app_image(chip, version, secure_version, project_name, payload_size, idf_ver="v5.2.2",
                    date="Nov 27 2026", time="10:00:00"):
    """A valid, unsigned ESP-IDF application image for `chip` (bytes).

    `payload_size` bytes of deterministic data follow the app descriptor in
    the DROM segment, so the image is a little over payload_size + 300 bytes.
    """
    rom = _chip_rom(chip)
    if payload_size < 0:
        raise HushctlError("payload_size must not be negative")
    image_cls = rom.BOOTLOADER_IMAGE
    image = image_cls()
    seed = ("%s|%s|%s|%s" % (chip, project_name, version, secure_version)).encode()
    desc = pack_app_desc(version, secure_version, project_name, idf_ver, date, time,
                         elf_sha256=hashlib.sha256(seed).digest())
    # Flash-mapped addresses keep the in-page offset of the file position
    # (0x20: image header + segment header), as a linker script for IDF does.
    drom = rom.DROM_MAP_START + APP_DESC_OFFSET
    data = desc + _payload(payload_size, seed)
    data += b"\x00" * (-len(data) % 4)
    iram_addr = _iram_address(rom)
    code = b"\x00" * 16
    image.segments = [
        ELFSection(b".flash.appdesc", drom, data, 0),
        ELFSection(b".iram0.text", iram_addr, code, 0),
    ]
    image.entrypoint = iram_addr
    image.chip_id = rom.IMAGE_CHIP_ID
    image.flash_size_freq = rom.parse_flash_size_arg("4MB") + rom.parse_flash_freq_arg(next(iter(rom.FLASH_FREQUENCY)))
    image.verify()
    return image.save(None)


def _iram_address(rom):
    # Every target's memory map names an IRAM region; the ESP8266-era
    # MEMORY_MAP rows are (start, end, name).
    for start, _end, name in rom.MEMORY_MAP:
        if name == "IRAM":
            return start + 0x400
    raise HushctlError("chip %s has no IRAM region in esptool's memory map" % rom.CHIP_NAME)


def load_image(chip, data):
    """esptool's parsed image for `data` (raises HushctlError if it is not an
    application image for `chip`)."""
    try:
        return LoadFirmwareImage(chip, bytes(data))
    except Exception as e:  # esptool raises FatalError, struct.error, ...
        raise HushctlError("not a valid %s application image: %s" % (chip, e))


def image_length(chip, data):
    """Length in bytes of the application image at the start of `data`
    (header, segments, checksum and appended SHA-256), found by esptool's
    parser; useful to cut an app out of a merged flash dump."""
    image = load_image(chip, data)
    if image.data_length is None:
        raise HushctlError("image has no appended SHA-256 digest; its length is unknown")
    return image.data_length + 32
