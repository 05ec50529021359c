# The simulated NVS keeps esp32.NVS semantics: typed entries, ENOENT for a
# missing key, buffer-length checks, durability only after commit(), and an
# atomic on-disk format that host tools can read back.
import errno
import os
import unittest

from coretest import rmtree, temp_dir
from hushphone import storage_layout as layout
from hushphone.hal.unix.nvs import Nvs, namespace_path, read_namespace


class NvsSimTest(unittest.TestCase):
    def setUp(self):
        self.root = temp_dir("hush_nvs_test_")

    def tearDown(self):
        rmtree(self.root)

    def test_i32_round_trip_and_limits(self):
        nvs = Nvs(self.root, layout.NS_TRUST)
        nvs.set_i32(layout.KEY_SEC_VER, 7)
        nvs.set_i32("lo", -(1 << 31))
        nvs.set_i32("hi", (1 << 31) - 1)
        self.assertEqual(nvs.get_i32(layout.KEY_SEC_VER), 7)
        self.assertEqual(nvs.get_i32("lo"), -(1 << 31))
        self.assertEqual(nvs.get_i32("hi"), (1 << 31) - 1)
        with self.assertRaises(OverflowError):
            nvs.set_i32("big", 1 << 31)
        with self.assertRaises(TypeError):
            nvs.set_i32("s", "1")

    def test_blob_round_trip_into_buffer(self):
        nvs = Nvs(self.root, layout.NS_IDENTITY)
        blob = bytes(range(256)) * 3
        nvs.set_blob(layout.KEY_DEV_CERT, blob)
        buf = bytearray(1024)
        n = nvs.get_blob(layout.KEY_DEV_CERT, buf)
        self.assertEqual(n, len(blob))
        self.assertEqual(bytes(buf[:n]), blob)
        nvs.set_blob("name", "Zoë")  # a str is stored as its UTF-8 bytes
        self.assertEqual(bytes(buf[: nvs.get_blob("name", buf)]), "Zoë".encode())

    def test_blob_too_big_for_buffer_is_an_oserror(self):
        nvs = Nvs(self.root, layout.NS_IDENTITY)
        nvs.set_blob("k", b"12345")
        buf = bytearray(4)
        with self.assertRaises(OSError) as ctx:
            nvs.get_blob("k", buf)
        self.assertEqual(ctx.exception.args[0], -0x110C)
        self.assertEqual(bytes(buf), b"\x00\x00\x00\x00")

    def test_missing_key_is_enoent(self):
        nvs = Nvs(self.root, layout.NS_TRUST)
        for action in (lambda: nvs.get_i32("nope"), lambda: nvs.get_blob("nope", bytearray(4)), lambda: nvs.erase_key("nope")):
            with self.assertRaises(OSError) as ctx:
                action()
            self.assertEqual(ctx.exception.args[0], errno.ENOENT)
            self.assertTrue(layout.is_missing(ctx.exception))

    def test_wrong_type_is_a_type_mismatch(self):
        nvs = Nvs(self.root, layout.NS_TRUST)
        nvs.set_blob("b", b"x")
        with self.assertRaises(OSError) as ctx:
            nvs.get_i32("b")
        self.assertEqual(ctx.exception.args[0], -0x1103)
        self.assertFalse(layout.is_missing(ctx.exception))

    def test_names_longer_than_15_characters_are_refused(self):
        with self.assertRaises(OSError):
            Nvs(self.root, "n" * 16)
        nvs = Nvs(self.root, "n" * 15)
        with self.assertRaises(OSError):
            nvs.set_i32("k" * 16, 1)
        nvs.set_i32("k" * 15, 1)
        self.assertEqual(nvs.get_i32("k" * 15), 1)

    def test_changes_are_durable_only_after_commit(self):
        writer = Nvs(self.root, layout.NS_TRUST)
        writer.set_i32(layout.KEY_SEC_VER, 3)
        with self.assertRaises(OSError):
            Nvs(self.root, layout.NS_TRUST).get_i32(layout.KEY_SEC_VER)
        writer.commit()
        self.assertEqual(Nvs(self.root, layout.NS_TRUST).get_i32(layout.KEY_SEC_VER), 3)
        writer.erase_key(layout.KEY_SEC_VER)
        self.assertEqual(Nvs(self.root, layout.NS_TRUST).get_i32(layout.KEY_SEC_VER), 3)
        writer.commit()
        with self.assertRaises(OSError):
            Nvs(self.root, layout.NS_TRUST).get_i32(layout.KEY_SEC_VER)

    def test_commit_writes_one_file_per_namespace_and_no_temp_file(self):
        a = Nvs(self.root, layout.NS_IDENTITY)
        a.set_blob(layout.KEY_DEV_KEY, b"\x30\x81")
        a.commit()
        b = Nvs(self.root, layout.NS_TRUST)
        b.set_blob(layout.ota_digest_key(0), b"\xaa" * 32)
        b.set_i32(layout.KEY_OTA_REVOKE, 0)
        b.commit()
        self.assertEqual(sorted(os.listdir(self.root + "/nvs")), ["hush_id.json", "hush_trust.json"])
        self.assertEqual(namespace_path(self.root, layout.NS_TRUST), self.root + "/nvs/hush_trust.json")
        trust = read_namespace(self.root, layout.NS_TRUST)
        self.assertEqual(trust, {"ota_dig0": b"\xaa" * 32, "ota_revoke": 0})
        self.assertEqual(read_namespace(self.root, layout.NS_SIP), {})

    def test_layout_names_fit_nvs(self):
        names = [layout.NS_IDENTITY, layout.NS_TRUST, layout.NS_SIP, layout.NS_CFG, layout.KEY_DEV_KEY,
                 layout.KEY_DEV_CERT, layout.KEY_OTA_REVOKE, layout.KEY_SEC_VER, layout.KEY_TECH_REVOKED]
        names += list(layout.SIP_KEYS) + [name for name, _ in layout.CFG_SETTINGS]
        names += [layout.ca_key(i) for i in range(layout.MAX_CA)]
        names += [layout.ota_digest_key(i) for i in range(layout.MAX_OTA_DIGESTS)]
        for name in names:
            self.assertTrue(0 < len(name) <= layout.NAME_MAX, name)
        with self.assertRaises(ValueError):
            layout.ca_key(8)
        with self.assertRaises(ValueError):
            layout.ota_digest_key(3)


if __name__ == "__main__":
    unittest.main()
