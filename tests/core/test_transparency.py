# Transparency (app/transparency.py): what the proxy, the peer and the
# network can see, for each configuration that changes it, and the About
# screen's lines fitting 16- to 24-column displays.
import unittest

from hushphone.app import display_model as dm
from hushphone.app import transparency as tr
from hushphone.app.callcontrol import CallControl

AOR = "sip:alice@example.org"


class ReportTest(unittest.TestCase):
    def test_default_zrtp_first_with_fallback(self):
        r = tr.report(AOR, "pbx.example.org", False, True, True)
        self.assertEqual(r["proxy"]["aor"], AOR)
        self.assertEqual(r["proxy"]["host"], "pbx.example.org")
        self.assertEqual(r["proxy"]["can_decrypt_media"], tr.FALLBACK)
        self.assertEqual(r["proxy"]["media_address"], "yours")
        self.assertEqual(r["peer"]["caller_id"], AOR)
        self.assertTrue(r["peer"]["sas"])
        self.assertNotIn("relay", r["network"])

    def test_each_setting_changes_what_is_seen(self):
        self.assertEqual(tr.report(AOR, "p", False, True, False)["proxy"]["can_decrypt_media"], tr.NEVER)
        self.assertEqual(tr.report(AOR, "p", False, False, True)["proxy"]["can_decrypt_media"], tr.ALWAYS)
        self.assertEqual(tr.report(AOR, "p", False, True, True, allow_insecure=True)["proxy"]["can_decrypt_media"],
                         tr.PLAIN)
        withheld = tr.report(AOR, "p", True, True, True)
        self.assertEqual(withheld["peer"]["caller_id"], "withheld (anonymous)")
        self.assertEqual(withheld["proxy"]["aor"], AOR)  # the proxy still knows who calls
        relayed = tr.report(AOR, "p", False, True, True, turn=("turn:relay.example.org:3478?transport=udp", "u"))
        self.assertEqual(relayed["peer"]["media_address"], "the relay's (relay.example.org)")
        self.assertEqual(relayed["proxy"]["media_address"], "the relay's (relay.example.org)")
        self.assertEqual(relayed["network"]["relay"], "turn")
        tls = tr.report(AOR, "p", False, True, True, turn=("turns:relay.example.org:5349", "u"))
        self.assertEqual(tls["peer"]["media_address"], "the relay's (relay.example.org)")
        self.assertEqual(tls["network"]["relay"], "turns")
        # TURN over plain TCP carries no calls: it hides nothing, and the report says so.
        tcp = tr.report(AOR, "p", False, True, True, turn=("turn:relay.example.org?transport=tcp", "u"))
        self.assertEqual(tcp["peer"]["media_address"], "yours")
        self.assertIn("your IP is seen", tcp["network"]["relay"])
        direct = tr.report(AOR, None, False, True, True, direct=True)
        self.assertIsNone(direct["proxy"])
        self.assertTrue(direct["peer"]["device_certificate"])

    def test_about_lines_fit_both_widths(self):
        menu_view = dm.View(CallControl())
        for r in (tr.report(AOR, "p", True, True, False, turn=("turn:[::1]:3478", "u")),
                  tr.report(AOR, "p", False, False, True, allow_insecure=True),
                  tr.report(AOR, None, False, True, True, direct=True)):
            lines = tr.about_lines(r)
            for long, short in lines:
                self.assertLessEqual(len(long), 22, long)
                self.assertLessEqual(len(short), 14, short)
            menu_view.menu.close()
            menu_view.menu.push("About", dm.about_items(lines, "1.0"))
            for width in (16, 24):
                for _ in range(len(lines)):
                    screen = dm.render(menu_view, 0, width, 8)
                    self.assertFalse([s for s in screen[1:-1] if "~" in s], (width, screen))
                    menu_view.menu.key("DOWN")
        texts = [long for long, _ in tr.about_lines(tr.report(AOR, "p", True, True, False,
                                                                  turn=("turn:r.example", "u")))]
        self.assertIn(" caller ID: withheld", texts)
        self.assertIn(" decrypts: never", texts)
        self.assertIn(" relay's IP, not yours", texts)


if __name__ == "__main__":
    unittest.main()
