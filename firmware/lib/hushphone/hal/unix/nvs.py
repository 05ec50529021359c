# The simulated handset's NVS: the API of MicroPython's esp32.NVS, backed by
# one JSON file per namespace (root_dir/nvs/<namespace>.json, blobs as hex).
# Like the device, changes are visible at once to this handle and become
# durable on commit(); a commit replaces the file atomically (temp + rename),
# so a crash leaves either the old or the new namespace, never a mix.
import binascii
import errno
import json
import os

from hushphone.hal.unix.dirs import ensure_dir
from hushphone.storage_layout import NAME_MAX

_I32 = "i32"
_BLOB = "blob"
_I32_MIN = -(1 << 31)
_I32_MAX = (1 << 31) - 1

# esp-idf error codes that esp32.NVS raises as OSError(-code, name).
_ESP_ERR_NVS_TYPE_MISMATCH = 0x1103
_ESP_ERR_NVS_KEY_TOO_LONG = 0x1109
_ESP_ERR_NVS_INVALID_LENGTH = 0x110C


def _esp_error(code, name):
    return OSError(-code, name)


def _check_name(name):
    if not isinstance(name, str):
        raise TypeError("NVS names are str")
    if not name or len(name) > NAME_MAX:
        raise _esp_error(_ESP_ERR_NVS_KEY_TOO_LONG, "ESP_ERR_NVS_KEY_TOO_LONG")


def namespace_path(root_dir, namespace):
    return "%s/nvs/%s.json" % (root_dir, namespace)


def _load(path):
    try:
        f = open(path, "r")
    except OSError:
        return {}
    with f:
        data = json.load(f)
    entries = {}
    for key, item in data["entries"].items():
        kind = item["type"]
        if kind == _I32:
            entries[key] = (_I32, int(item["value"]))
        elif kind == _BLOB:
            entries[key] = (_BLOB, binascii.unhexlify(item["value"]))
        else:
            raise ValueError("unknown NVS entry type %r in %s" % (kind, path))
    return entries


def _dump(entries, namespace):
    out = {}
    for key, (kind, value) in entries.items():
        if kind == _BLOB:
            value = binascii.hexlify(value).decode()
        out[key] = {"type": kind, "value": value}
    return json.dumps({"namespace": namespace, "entries": out})


def read_namespace(root_dir, namespace):
    """Every committed entry of a namespace as {key: int | bytes}. For host
    tools and tests: esp32.NVS itself cannot list keys."""
    entries = _load(namespace_path(root_dir, namespace))
    return dict((key, value) for key, (_, value) in entries.items())


class Nvs:
    def __init__(self, root_dir, namespace):
        _check_name(namespace)
        self._root = root_dir
        self._namespace = namespace
        self._path = namespace_path(root_dir, namespace)
        self._entries = None  # None: nothing pending, read the file

    def _view(self):
        if self._entries is None:
            return _load(self._path)
        return self._entries

    def _pending(self):
        if self._entries is None:
            self._entries = _load(self._path)
        return self._entries

    def _get(self, key, kind):
        _check_name(key)
        item = self._view().get(key)
        if item is None:
            raise OSError(errno.ENOENT, "ESP_ERR_NVS_NOT_FOUND")
        if item[0] != kind:
            raise _esp_error(_ESP_ERR_NVS_TYPE_MISMATCH, "ESP_ERR_NVS_TYPE_MISMATCH")
        return item[1]

    def set_i32(self, key, value):
        _check_name(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError("i32 value must be int")
        if not _I32_MIN <= value <= _I32_MAX:
            raise OverflowError("value out of i32 range")
        self._pending()[key] = (_I32, value)

    def get_i32(self, key):
        return self._get(key, _I32)

    def set_blob(self, key, value):
        _check_name(key)
        if isinstance(value, str):
            value = value.encode()  # the device stores a str's UTF-8 bytes
        self._pending()[key] = (_BLOB, bytes(value))

    def get_blob(self, key, buffer):
        value = self._get(key, _BLOB)
        n = len(value)
        if n > len(buffer):
            raise _esp_error(_ESP_ERR_NVS_INVALID_LENGTH, "ESP_ERR_NVS_INVALID_LENGTH")
        memoryview(buffer)[:n] = value
        return n

    def erase_key(self, key):
        _check_name(key)
        entries = self._pending()
        if key not in entries:
            raise OSError(errno.ENOENT, "ESP_ERR_NVS_NOT_FOUND")
        del entries[key]

    def commit(self):
        if self._entries is None:
            return
        ensure_dir(self._root, "nvs")
        tmp = self._path + ".tmp"
        with open(tmp, "w") as f:
            f.write(_dump(self._entries, self._namespace))
            if hasattr(os, "fsync"):
                f.flush()
                os.fsync(f.fileno())
        os.rename(tmp, self._path)
        self._entries = None
