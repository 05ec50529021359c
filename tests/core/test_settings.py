# Settings in the simulated NVS (esp32.NVS semantics, through the HAL store): load/save, checked
# values, export/import round trip without the password unless asked.
import binascii
import json
import unittest

from coretest import rmtree, temp_dir
from hushphone import storage_layout as layout
from hushphone.app.settings import CONTACTS_FIELD, Settings, SettingsError
from hushphone.crypto.random import random_bytes
from hushphone.hal.esp32.nvs_store import NvsStore
from hushphone.hal.unix.nvs import Nvs, read_namespace


SECRET = "pw-" + binascii.hexlify(random_bytes(6)).decode()
CA = b"\x30\x82\x01\x0a" + bytes(range(200))


class SettingsTest(unittest.TestCase):
    def setUp(self):
        self.roots = []

    def tearDown(self):
        for r in self.roots:
            rmtree(r)

    def store(self):
        root = temp_dir("hush_settings_test_")
        self.roots.append(root)
        stores = [NvsStore(Nvs(root, ns)) for ns in (layout.NS_CFG, layout.NS_SIP, layout.NS_TRUST)]
        return root, (lambda: Settings(*stores))

    def filled(self):
        root, make_settings = self.store()
        s = make_settings()
        s.set_account("registrar", "sip:localhost")
        s.set_account("user", "alice")
        s.set_account("password", SECRET)
        s.set_account("display", "Alice \u00c5berg")
        s.set("hide_callid", True)
        s.set("log_days", 7)
        s.set("lang", "sv")
        s.ca_certs = [CA]
        s.save()
        return root, make_settings, s

    def test_defaults_on_an_empty_store(self):
        _root, make_settings = self.store()
        s = make_settings().load()
        self.assertEqual(s.account["user"], "")
        self.assertEqual(s.values["log_days"], 30)
        self.assertFalse(s.withhold_caller_id)
        self.assertEqual(s.ca_certs, [])

    def test_save_load_in_the_layout_namespaces(self):
        root, make_settings, _s = self.filled()
        sip = read_namespace(root, layout.NS_SIP)
        self.assertEqual(sip["user"], b"alice")
        self.assertEqual(read_namespace(root, layout.NS_CFG)["hide_callid"], 1)
        self.assertEqual(read_namespace(root, layout.NS_TRUST)["ca0"], CA)
        s = make_settings().load()
        self.assertEqual(s.account["display"], "Alice \u00c5berg")
        self.assertEqual(s.account["password"], SECRET)
        self.assertTrue(s.withhold_caller_id)
        self.assertEqual(s.values["lang"], "sv")
        self.assertEqual(s.ca_certs, [CA])
        self.assertNotIn(SECRET, repr(s))

    def test_export_without_password_by_default(self):
        _root, _open, s = self.filled()
        text = s.export_json()
        self.assertNotIn(SECRET, text)
        self.assertNotIn("password", json.loads(text)["account"])
        self.assertIn(SECRET, s.export_json(include_password=True))

    def test_round_trip_into_another_handset(self):
        _root, _open, s = self.filled()
        _root2, make_other = self.store()
        other = make_other()
        other.set_account("password", "kept")
        other.import_(s.export_json())
        other.save()
        again = make_other().load()
        self.assertEqual(again.export(), s.export())
        self.assertEqual(again.account["password"], "kept")  # not in the export: ours stays
        other.import_(s.export_json(include_password=True))
        self.assertEqual(other.account["password"], SECRET)

    def test_ca_certs_only_from_a_handset_that_keeps_them(self):
        # The simulation keeps no CA slots in NVS (its CAs are files): its
        # export has no ca_certs, so importing it keeps the importer's CAs.
        root, _open, s = self.filled()
        sim = Settings(NvsStore(Nvs(root, layout.NS_CFG)), NvsStore(Nvs(root, layout.NS_SIP))).load()
        doc = sim.export()
        self.assertNotIn("ca_certs", doc)
        self.assertEqual(doc["settings"], s.export()["settings"])
        s.import_(doc)
        s.save()
        self.assertEqual(read_namespace(root, layout.NS_TRUST)["ca0"], CA)
        self.assertEqual(s.export()["ca_certs"], [binascii.b2a_base64(CA).decode().strip()])

    def test_contacts_field_is_carried_not_read(self):
        # The portable document is the export plus CONTACTS_FIELD (vCard
        # text, read by the address book, not by Settings).
        _root, _open, s = self.filled()
        _root2, make_other = self.store()
        other = make_other()
        doc = s.export()
        doc[CONTACTS_FIELD] = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\nEND:VCARD\r\n"
        other.import_(json.dumps(doc))
        self.assertEqual(other.export(), s.export())

    def test_bad_imports_change_nothing(self):
        _root, _open, s = self.filled()
        before = s.export(include_password=True)
        good = s.export()
        bad = [
            "not json",
            json.dumps({"format": "other", "version": 1}),
            json.dumps(dict(good, version=2)),
            json.dumps(dict(good, settings={"log_days": 0})),
            json.dumps(dict(good, settings={"log_days": 10, "ring_vol": "loud"})),
            json.dumps(dict(good, settings={"nosuch": 1})),
            json.dumps(dict(good, account={"user": 5})),
            json.dumps(dict(good, account={"pin": "1"})),
            json.dumps(dict(good, ca_certs="x")),
            json.dumps(dict(good, ca_certs=["!!notbase64"])),
            json.dumps(dict(good, ca_certs=["AA=="] * 9)),
            json.dumps(dict(good, ca_certs=[""])),
            json.dumps(dict(good, ca_certs=[5])),
            json.dumps([1]),
        ]
        for text in bad:
            self.assertRaises(SettingsError, s.import_, text)
            self.assertEqual(s.export(include_password=True), before, text)

    def test_set_checks(self):
        _root, make_settings = self.store()
        s = make_settings()
        self.assertRaises(SettingsError, s.set, "ring_vol", 11)
        self.assertRaises(SettingsError, s.set, "lang", 3)
        self.assertRaises(SettingsError, s.set, "lang", "x" * 300)
        self.assertRaises(SettingsError, s.set_account, "user", "x" * 300)
        s.set("ring_vol", 10)
        self.assertEqual(s.values["ring_vol"], 10)


if __name__ == "__main__":
    unittest.main()
