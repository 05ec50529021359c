# Settings and secrets in NVS: the Store interface over the esp32.NVS API
# (set_i32/get_i32/set_blob/get_blob/erase_key/commit). The class takes any
# object with that API, so the simulated handset uses it unchanged with
# hal.unix.nvs.Nvs; open_store() opens the real esp32.NVS namespace.
# Secrets live in their own namespace: on a provisioned handset NVS is
# encrypted with the keys in the nvs_keys partition. Values are never
# logged, and errors name the key, never its value.
from hushphone.hal.interfaces import HalError, Store
from hushphone.storage_layout import NAME_MAX, is_missing

_ESP_ERR_NVS_INVALID_LENGTH = -0x110C
_ESP_ERR_NVS_TYPE_MISMATCH = -0x1103
_FIRST_BUF = 64
_MAX_BLOB = 4096  # larger than any certificate or key the phone keeps


class StoreError(HalError):
    pass


def _check_key(key):
    if not isinstance(key, str) or not key or len(key) > NAME_MAX:
        raise StoreError("bad NVS key %r (1..%d characters)" % (key, NAME_MAX))


class NvsStore(Store):
    def __init__(self, nvs):
        self._nvs = nvs

    def get_int(self, key, default=None):
        _check_key(key)
        try:
            return self._nvs.get_i32(key)
        except OSError as e:
            if is_missing(e):
                return default
            raise StoreError("cannot read %s: %s" % (key, _reason(e)))

    def set_int(self, key, value):
        _check_key(key)
        if not isinstance(value, int) or isinstance(value, bool) or not -(1 << 31) <= value < (1 << 31):
            raise StoreError("%s: NVS integers are 32-bit signed" % key)
        self._nvs.set_i32(key, value)

    def get_bytes(self, key, default=None):
        _check_key(key)
        size = _FIRST_BUF
        while True:
            buf = bytearray(size)
            try:
                n = self._nvs.get_blob(key, buf)
            except OSError as e:
                if is_missing(e):
                    return default
                if e.args and e.args[0] == _ESP_ERR_NVS_INVALID_LENGTH and size < _MAX_BLOB:
                    size *= 4  # esp32.NVS cannot tell a blob's size: grow and retry
                    continue
                raise StoreError("cannot read %s: %s" % (key, _reason(e)))
            return bytes(buf[:n])

    def set_bytes(self, key, value):
        _check_key(key)
        if isinstance(value, str):
            value = value.encode()
        if len(value) > _MAX_BLOB:
            raise StoreError("%s: value larger than %d bytes" % (key, _MAX_BLOB))
        self._nvs.set_blob(key, value)

    def delete(self, key):
        _check_key(key)
        try:
            self._nvs.erase_key(key)
        except OSError as e:
            if not is_missing(e):
                raise StoreError("cannot erase %s: %s" % (key, _reason(e)))

    def commit(self):
        try:
            self._nvs.commit()
        except OSError as e:
            raise StoreError("NVS commit failed: %s" % _reason(e))


def _reason(err):
    if err.args and err.args[0] == _ESP_ERR_NVS_TYPE_MISMATCH:
        return "stored with another type"
    return "error %s" % (err.args[0] if err.args else "?")


def open_store(namespace):
    """The handset's NVS namespace as a Store (esp32 port only)."""
    import esp32

    return NvsStore(esp32.NVS(namespace))
