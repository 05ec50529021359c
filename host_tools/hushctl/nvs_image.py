"""NVS partition images: a CSV of namespaces and entries goes through
esp-idf-nvs-partition-gen (plain or NVS-encrypted); a small decoder of the NVS
page format reads images back, so that what was written can be checked.

Every value is written as an NVS blob or i32: MicroPython's esp32.NVS reads
only those (it has no string getter), so text goes in as UTF-8 blobs."""
import csv
import io
import os
import struct
import sys
import tempfile
import zlib
from pathlib import Path

from hushctl import external
from hushctl.errors import HushctlError

PAGE_SIZE = 4096
_ENTRY_SIZE = 32
_FIRST_ENTRY = 64
_ENTRIES_PER_PAGE = 126
_PAGE_UNINIT = 0xFFFFFFFF
_T_U8, _T_I32, _T_STR, _T_BLOB, _T_BLOB_DATA, _T_BLOB_IDX = 0x01, 0x14, 0x21, 0x41, 0x42, 0x48
_PRIMITIVES = {0x01: "<B", 0x11: "<b", 0x02: "<H", 0x12: "<h", 0x04: "<I", 0x14: "<i", 0x08: "<Q", 0x18: "<q"}
NVS_KEYS_SIZE = 4096  # the nvs_keys partition: XTS key pair + CRC, rest 0xFF


class NvsImageError(HushctlError):
    pass


def build_csv(namespaces, blob_dir):
    """CSV text for the generator from {namespace: {key: int | bytes}}: ints
    become i32 data rows, bytes become binary files in `blob_dir` (DER
    certificates and keys go in as the files they are)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["key", "type", "encoding", "value"])
    for namespace, entries in namespaces.items():
        writer.writerow([namespace, "namespace", "", ""])
        for key, value in entries.items():
            if isinstance(value, int):
                writer.writerow([key, "data", "i32", str(value)])
            elif isinstance(value, (bytes, bytearray)) and value:
                path = Path(blob_dir) / ("%s.%s.bin" % (namespace, key))
                path.write_bytes(bytes(value))
                writer.writerow([key, "file", "binary", str(path)])
            else:
                raise NvsImageError("NVS entry %s/%s must be an int or non-empty bytes" % (namespace, key))
    return out.getvalue()


def _run_generator(args):
    external.run([sys.executable, "-m", "esp_idf_nvs_partition_gen"] + args, "esp-idf-nvs-partition-gen",
                 NvsImageError, timeout=120)


def new_encryption_keys():
    """The nvs_keys partition content: a random XTS-AES key pair (64 bytes)
    from the OS CSPRNG, its CRC32, 0xFF padding (the generator's own
    --keygen draws from Python's non-cryptographic `random`, so not that)."""
    keys = os.urandom(64)
    crc = zlib.crc32(keys, 0xFFFFFFFF) & 0xFFFFFFFF
    return keys + struct.pack("<I", crc) + b"\xff" * (NVS_KEYS_SIZE - 68)


def generate(namespaces, size, encryption_keys=None):
    """The NVS partition image (bytes) of `size` bytes; NVS-encrypted with
    the nvs_keys partition content `encryption_keys` when given."""
    if size % PAGE_SIZE or size < 3 * PAGE_SIZE:
        raise NvsImageError("NVS partition size must be a multiple of 4096 and at least 0x3000")
    with tempfile.TemporaryDirectory(prefix="hush-nvs-") as tmp:
        tmp = Path(tmp)
        (tmp / "nvs.csv").write_text(build_csv(namespaces, tmp))
        args = ["generate", str(tmp / "nvs.csv"), str(tmp / "nvs.bin"), hex(size), "--outdir", str(tmp)]
        if encryption_keys is not None:
            (tmp / "keys.bin").write_bytes(encryption_keys)
            args = ["encrypt", str(tmp / "nvs.csv"), str(tmp / "nvs.bin"), hex(size),
                    "--inputkey", str(tmp / "keys.bin"), "--outdir", str(tmp)]
        _run_generator(args)
        return (tmp / "nvs.bin").read_bytes()


def decrypt(image, encryption_keys):
    """The plaintext of an NVS-encrypted image, by the generator's decrypt."""
    with tempfile.TemporaryDirectory(prefix="hush-nvs-") as tmp:
        tmp = Path(tmp)
        (tmp / "in.bin").write_bytes(image)
        (tmp / "keys.bin").write_bytes(encryption_keys)
        _run_generator(["decrypt", str(tmp / "in.bin"), str(tmp / "keys.bin"), str(tmp / "out.bin"), "--outdir", str(tmp)])
        return (tmp / "out.bin").read_bytes()


def _entry_crc_ok(entry):
    crc = zlib.crc32(bytes(entry[0:4]) + bytes(entry[8:32]), 0xFFFFFFFF) & 0xFFFFFFFF
    return crc == struct.unpack_from("<I", entry, 4)[0]


def decode(image):
    """{namespace: {key: int | bytes | str}} from a plaintext NVS image.
    Checks page header, entry and data CRCs; raises NvsImageError if damaged."""
    if len(image) % PAGE_SIZE:
        raise NvsImageError("NVS image size is not a multiple of 4096")
    names = {}
    items = []  # (ns_index, key, type, value)
    chunks = {}  # (ns, key, chunk_index) -> bytes
    for base in range(0, len(image), PAGE_SIZE):
        page = memoryview(image)[base:base + PAGE_SIZE]
        state = struct.unpack_from("<I", page, 0)[0]
        if state == _PAGE_UNINIT:
            continue
        if zlib.crc32(bytes(page[4:28]), 0xFFFFFFFF) & 0xFFFFFFFF != struct.unpack_from("<I", page, 28)[0]:
            raise NvsImageError("page at 0x%x: header CRC mismatch" % base)
        bitmap = page[32:64]
        i = 0
        while i < _ENTRIES_PER_PAGE:
            entry_state = (bitmap[(2 * i) // 8] >> ((2 * i) % 8)) & 3
            if entry_state != 2:  # 3 = empty, 0 = erased
                i += 1
                continue
            entry = page[_FIRST_ENTRY + i * _ENTRY_SIZE:_FIRST_ENTRY + (i + 1) * _ENTRY_SIZE]
            if not _entry_crc_ok(entry):
                raise NvsImageError("page at 0x%x, entry %d: CRC mismatch" % (base, i))
            ns, kind, span, chunk = entry[0], entry[1], entry[2], entry[3]
            key = bytes(entry[8:24]).split(b"\x00", 1)[0].decode("utf-8")
            data = entry[24:32]
            if kind in (_T_STR, _T_BLOB_DATA, _T_BLOB):
                size, _, crc = struct.unpack_from("<HHI", data)
                start = _FIRST_ENTRY + (i + 1) * _ENTRY_SIZE
                value = bytes(page[start:start + size])
                if len(value) != size or zlib.crc32(value, 0xFFFFFFFF) & 0xFFFFFFFF != crc:
                    raise NvsImageError("%s: data CRC mismatch" % key)
                if kind == _T_BLOB_DATA:
                    chunks[(ns, key, chunk)] = value
                else:
                    items.append((ns, key, kind, value.decode("utf-8") if kind == _T_STR else value))
            elif kind == _T_BLOB_IDX:
                size, count, start_chunk = struct.unpack_from("<IBB", data)
                items.append((ns, key, kind, (size, count, start_chunk)))
            elif kind in _PRIMITIVES:
                value = struct.unpack_from(_PRIMITIVES[kind], data)[0]
                if ns == 0 and kind == _T_U8:
                    names[value] = key
                else:
                    items.append((ns, key, kind, value))
            else:
                raise NvsImageError("entry %s: unknown type 0x%02x" % (key, kind))
            i += max(span, 1)
    result = {}
    for ns, key, kind, value in items:
        if ns not in names:
            raise NvsImageError("entry %s refers to unknown namespace %d" % (key, ns))
        if kind == _T_BLOB_IDX:
            size, count, start_chunk = value
            try:
                value = b"".join(chunks[(ns, key, start_chunk + c)] for c in range(count))
            except KeyError:
                raise NvsImageError("blob %s: a data chunk is missing" % key)
            if len(value) != size:
                raise NvsImageError("blob %s: size mismatch" % key)
        result.setdefault(names[ns], {})[key] = value
    return result
