# The handset's OTA trust data in NVS (trust store, technician revocation
# list) read the same way whether a missing key is the simulation's ENOENT or
# the device's OSError(-0x1102) (ESP_ERR_NVS_NOT_FOUND).
import errno
import unittest

from coretest import rmtree
from hushphone import storage_layout as layout
from hushphone.crypto.sha import sha256
from hushphone.hal.unix.nvs import Nvs
from hushphone.ota.technicians import RevokedTechnicians, fingerprint
from hushphone.ota.truststore import TrustStore
from ota_sim_support import temp_root

_ESP_ERR_NVS_NOT_FOUND = 0x1102


class DeviceErrorsNvs:
    """The simulated NVS raising what esp32.NVS raises on a handset for a
    missing key (MicroPython turns esp_err_t into OSError(-code))."""

    def __init__(self, nvs):
        self._nvs = nvs

    def _device(self, fn, *args):
        try:
            return fn(*args)
        except OSError as e:
            if e.args and e.args[0] == errno.ENOENT:
                raise OSError(-_ESP_ERR_NVS_NOT_FOUND)
            raise

    def get_i32(self, key):
        return self._device(self._nvs.get_i32, key)

    def get_blob(self, key, buf):
        return self._device(self._nvs.get_blob, key, buf)

    def set_i32(self, key, value):
        self._nvs.set_i32(key, value)

    def set_blob(self, key, value):
        self._nvs.set_blob(key, value)

    def commit(self):
        self._nvs.commit()


class TrustDataOnDeviceNvs(unittest.TestCase):
    def setUp(self):
        self.root = temp_root()
        self.nvs = DeviceErrorsNvs(Nvs(self.root, layout.NS_TRUST))

    def tearDown(self):
        rmtree(self.root)

    def test_the_device_error_code_means_missing(self):
        with self.assertRaises(OSError) as ctx:
            self.nvs.get_i32(layout.KEY_SEC_VER)
        self.assertEqual(ctx.exception.args[0], -0x1102)
        self.assertTrue(layout.is_missing(ctx.exception))

    def test_trust_store_with_empty_slots_and_no_floor(self):
        self.nvs.set_blob("ota_dig1", b"\x11" * 32)  # only slot 1 provisioned, no ota_revoke, no sec_ver
        store = TrustStore.load(self.nvs)
        self.assertEqual(store.digests, [None, b"\x11" * 32, None])
        self.assertEqual((store.revoked_mask, store.secure_version_floor), (0, 0))

    def test_raise_floor_from_nothing(self):
        TrustStore.raise_floor(self.nvs, 4)
        self.assertEqual(self.nvs.get_i32(layout.KEY_SEC_VER), 4)

    def test_no_revocation_list_means_nobody_revoked(self):
        revoked = RevokedTechnicians.load(self.nvs)
        self.assertEqual(len(revoked), 0)
        self.assertFalse(revoked.is_revoked(b"any certificate"))

    def test_revocation_list_matches_fingerprints(self):
        certs = [b"cert-%d" % i for i in range(3)]
        self.nvs.set_blob(layout.KEY_TECH_REVOKED, fingerprint(certs[0]) + fingerprint(certs[2]))
        revoked = RevokedTechnicians.load(self.nvs)
        self.assertEqual(len(revoked), 2)
        self.assertEqual([revoked.is_revoked(c) for c in certs], [True, False, True])
        self.assertEqual(fingerprint(certs[1]), sha256(certs[1]))

    def test_long_revocation_list_is_read_whole(self):
        certs = [b"technician %d" % i for i in range(40)]  # 1,280 bytes: more than the first buffer
        self.nvs.set_blob(layout.KEY_TECH_REVOKED, b"".join(fingerprint(c) for c in certs))
        revoked = RevokedTechnicians.load(self.nvs)
        self.assertEqual(len(revoked), 40)
        self.assertTrue(revoked.is_revoked(certs[39]))

    def test_damaged_revocation_list_is_an_error(self):
        self.nvs.set_blob(layout.KEY_TECH_REVOKED, b"\x00" * 33)
        with self.assertRaises(ValueError):
            RevokedTechnicians.load(self.nvs)


if __name__ == "__main__":
    unittest.main()
