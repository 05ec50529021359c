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

    def test_privacy_settings_from_the_config(self):
        # phone.json: withhold caller ID, the SDES fallback and the TURN
        # relay, by name; saved to NVS (the TURN password in the secrets
        # namespace, next to the SIP password).
        root, make_settings = self.store()
        s = make_settings().load()
        self.assertFalse(s.withhold_caller_id)
        self.assertTrue(s.sdes_fallback)  # default: a peer without ZRTP still gets a call
        self.assertIsNone(s.turn)
        turn_pw = "tp-" + SECRET
        s.apply_config({"account": {"user": "alice"}, "withhold_caller_id": True, "sdes_fallback": False,
                        "turn": {"uri": "turns:relay.example.org:5349", "user": "alice", "password": turn_pw}})
        s.save()
        self.assertEqual(read_namespace(root, layout.NS_CFG)["hide_callid"], 1)
        self.assertEqual(read_namespace(root, layout.NS_CFG)["sdes_fallback"], 0)
        self.assertEqual(read_namespace(root, layout.NS_CFG)["turn_uri"], b"turns:relay.example.org:5349")
        self.assertEqual(read_namespace(root, layout.NS_SIP)[layout.KEY_TURN_PASSWORD], turn_pw.encode())
        self.assertNotIn(turn_pw.encode(), json.dumps({k: str(v) for k, v in
                                                       read_namespace(root, layout.NS_CFG).items()}).encode())
        again = make_settings().load()
        self.assertTrue(again.withhold_caller_id)
        self.assertFalse(again.sdes_fallback)
        self.assertEqual(again.turn, ("turns:relay.example.org:5349", "alice", turn_pw))
        self.assertNotIn(turn_pw, repr(again))
        # zrtp_only (older configs) means no fallback; "settings" by their NVS names.
        other = make_settings()
        other.apply_config({"zrtp_only": True, "settings": {"hide_callid": 1}})
        self.assertFalse(other.sdes_fallback)
        self.assertTrue(other.withhold_caller_id)

    def test_bad_privacy_config_changes_nothing(self):
        _root, make_settings = self.store()
        s = make_settings().load()
        before = s.export(include_password=True)
        for bad in ({"withhold_caller_id": "yes"}, {"sdes_fallback": 1}, {"turn": {"uri": "http://x"}},
                    {"turn": {"uri": "turn:x", "pasword": "p"}}, {"turn": "turn:x"},
                    {"settings": {"sdes_fallback": 2}}, {"account": {"user": "a"}, "settings": {"nosuch": 1}}):
            self.assertRaises(SettingsError, s.apply_config, bad)
            self.assertEqual(s.export(include_password=True), before, bad)

    def test_privacy_settings_travel_in_the_export_without_the_turn_password(self):
        _root, _open, s = self.filled()
        turn_pw = "tp-" + SECRET
        s.apply_config({"sdes_fallback": False, "turn": {"uri": "turn:127.0.0.3:3478?transport=udp",
                                                         "user": "u1", "password": turn_pw}})
        doc = s.export()
        self.assertEqual(doc["settings"]["hide_callid"], 1)
        self.assertEqual(doc["settings"]["sdes_fallback"], 0)
        self.assertEqual(doc["settings"]["turn_uri"], "turn:127.0.0.3:3478?transport=udp")
        self.assertEqual(doc["settings"]["turn_user"], "u1")
        self.assertNotIn(turn_pw, json.dumps(doc))
        self.assertNotIn("secrets", doc)
        _root2, make_other = self.store()
        other = make_other()
        other.set_turn_password("theirs")
        other.import_(json.dumps(doc))
        self.assertEqual(other.turn, ("turn:127.0.0.3:3478?transport=udp", "u1", "theirs"))  # kept
        self.assertFalse(other.sdes_fallback)
        self.assertTrue(other.withhold_caller_id)
        with_secrets = s.export(include_password=True)
        self.assertEqual(with_secrets["secrets"], {layout.KEY_TURN_PASSWORD: turn_pw})
        other.import_(json.dumps(with_secrets))
        self.assertEqual(other.turn[2], turn_pw)
        self.assertRaises(SettingsError, other.import_, json.dumps(dict(with_secrets, secrets={"pin": "1"})))
        self.assertRaises(SettingsError, other.import_, json.dumps(dict(with_secrets, secrets=["x"])))

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
