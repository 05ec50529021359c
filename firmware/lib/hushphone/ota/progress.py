# Where an interrupted update got to, kept across resets so a download can
# resume with an HTTP Range request instead of starting over. A hash state
# cannot be saved on MicroPython (no hashlib copy/export), so the record is
# the number of image bytes already in the update partition (whole 4 KiB
# blocks) plus a CRC-32 of those bytes; on resume the updater re-reads the
# partition, checks the CRC and re-hashes the prefix before continuing.
# Two small files: the signed manifest (to re-check on resume) and a JSON
# record; each replaced atomically (temp file + rename).
import json
import os

_RECORD = "/ota_progress.json"
_MANIFEST = "/ota_manifest.bin"


def _write_atomic(path, data, mode):
    tmp = path + ".tmp"
    with open(tmp, mode) as f:
        f.write(data)
    os.rename(tmp, path)


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


class ProgressStore:
    """Progress of one update at a time, in directory `path` (the handset's
    filesystem on the device; the simulated handset's root on unix)."""

    def __init__(self, path):
        self.path = path

    def start(self, signed_manifest, image_sha256, slot_label):
        self.clear()
        _write_atomic(self.path + _MANIFEST, bytes(signed_manifest), "wb")
        self.save(image_sha256, slot_label, 0, 0)

    def save(self, image_sha256, slot_label, offset, crc):
        record = {"image_sha256": image_sha256, "slot": slot_label, "offset": offset, "crc": crc}
        _write_atomic(self.path + _RECORD, json.dumps(record), "w")

    def load(self):
        """(record dict, signed manifest bytes), or None if no update is
        pending or the files are unreadable."""
        try:
            with open(self.path + _RECORD) as f:
                record = json.load(f)
            with open(self.path + _MANIFEST, "rb") as f:
                signed_manifest = f.read()
            int(record["offset"]), int(record["crc"]), str(record["slot"]), str(record["image_sha256"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return record, signed_manifest

    def clear(self):
        _remove(self.path + _RECORD)
        _remove(self.path + _MANIFEST)
