# The display model: status line, call screen, soft keys, menus; every
# screen is exactly height lines of at most width characters.
import unittest

from hushphone.app import display_model as dm
from hushphone.app import security
from hushphone.app.callcontrol import CallControl
from hushphone.app.security import CallSecurity


def screen(view, now=0, width=21, height=8):
    lines = dm.render(view, now, width, height)
    assert len(lines) == height, lines
    for line in lines:
        assert len(line) <= width, (line, width)
    return lines


class DisplayTest(unittest.TestCase):
    def setUp(self):
        self.calls = CallControl()
        self.sec = {}
        self.view = dm.View(self.calls, lambda line: self.sec.get(line.number),
                            lambda peer: {"bob": "Bob Smith"}.get(peer, peer))
        self.view.registration = "registered"
        self.view.account = "alice@localhost"

    def test_idle(self):
        lines = screen(self.view)
        self.assertEqual(lines[0], "Ready")
        self.assertEqual(lines[1], "alice@localhost")
        self.assertEqual(lines[-1], "Menu   Log")
        self.view.registration = "failed"
        self.assertEqual(screen(self.view)[0], "Not registered")

    def test_dialing(self):
        for k in "123":
            self.calls.key(k, 0)
        lines = screen(self.view)
        self.assertEqual(lines[1:3], ["Dial:", "123"])
        self.assertEqual(lines[-1], "Call   Delete Clear")

    def test_in_call_with_sdes_security_and_duration(self):
        line = self.calls.dial("bob", 0)
        self.assertEqual(screen(self.view)[1:3], ["Bob Smith", "Calling"])
        self.calls.remote_ringing(line)
        self.assertEqual(screen(self.view)[2], "Ringing")
        self.calls.answered(line, 1000)
        self.sec[line.number] = CallSecurity(security.SDES)
        lines = screen(self.view, now=66000)
        self.assertEqual(lines[0], "Ready | SRTP*")  # short on a narrow screen, in full below
        self.assertEqual(lines[1:5], ["Bob Smith", "In call 1:05", "SRTP (provider can", "decrypt)"])
        self.assertEqual(lines[-1], "Hold   Mute   End")
        wide = screen(self.view, now=66000, width=40)
        self.assertEqual(wide[0], "Ready | SRTP (provider can decrypt)")
        self.calls.key("MUTE", 0)
        self.calls.key("HOLD", 0)
        lines = screen(self.view, now=3661000)
        self.assertEqual(lines[2:4], ["On hold 1:01:00", "(muted)"])
        self.assertEqual(lines[-1], "Resume Unmute End")

    def test_insecure_and_zrtp_indicators(self):
        line = self.calls.dial("carol", 0)
        self.calls.answered(line, 0)
        self.sec[line.number] = CallSecurity(security.NONE)
        self.assertIn("NOT ENCRYPTED", screen(self.view, width=30)[0])
        z = CallSecurity(security.ZRTP)
        self.sec[line.number] = z
        self.assertEqual(screen(self.view, width=30)[0], "Ready | ZRTP: securing...")
        self.assertEqual(screen(self.view, width=30)[-1], "Hold      Mute      End")  # nothing to confirm yet
        z.zrtp_secure("ab3d", False)
        self.assertEqual(screen(self.view, width=30)[-1], "Confirm   Reject    End")
        z.keys_changed = True
        lines = screen(self.view, width=30)
        self.assertEqual(lines[0], "Ready | ZRTP SAS ab3d")
        self.assertEqual(screen(self.view, width=16)[0], "ZRTP ab3d?")  # the SAS whole, the state gives way
        self.assertEqual(screen(self.view, width=20)[0], "Ready | ZRTP ab3d?")
        z.verified = True
        self.assertEqual(screen(self.view, width=30)[-1], "Hold      Mute      End")
        self.assertEqual(screen(self.view, width=30)[0], "Ready | ZRTP ab3d (verified)")
        self.assertEqual(screen(self.view, width=20)[0], "Ready | ZRTP ab3d")
        self.assertIn("! Keys changed: verify the SAS", lines)

    def test_the_sas_is_never_cut_on_a_16_column_display(self):
        # The 128-pixel SSD1306 boards show 16 columns. Every status the
        # handset can be in, with a B32 SAS and the longest B256 SAS (two
        # PGP words): the SAS is on the status line in full where it fits
        # at all, and always in full in the call lines.
        from hushphone.zrtp.pgpwords import EVEN_WORDS, ODD_WORDS

        line = self.calls.dial("carol", 0)
        self.calls.answered(line, 0)
        longest = max(EVEN_WORDS, key=len) + " " + max(ODD_WORDS, key=len)
        for sas in ("ab3d", "y1zq", longest):
            for verified in (False, True):
                for registration in list(dm.REG_TEXT) + ["something new"]:
                    z = CallSecurity(security.ZRTP)
                    z.zrtp_secure(sas, verified)
                    self.sec[line.number] = z
                    self.view.registration = registration
                    for width in (16, 21, 24):
                        lines = screen(self.view, width=width)
                        if len(sas) <= width:
                            self.assertIn(sas, lines[0], (sas, registration, width, lines))
                        body = " ".join(lines[1:-1])
                        for word in sas.split(" "):
                            self.assertIn(word, body.split(" "), (sas, width, lines))

    def test_a_refused_certificate_is_said_as_such(self):
        self.view.registration = "cert_refused"
        self.assertEqual(screen(self.view, width=21)[0], "Server cert refused")
        self.assertEqual(screen(self.view, width=16)[0], "Cert refused")

    def test_every_setting_readable_on_both_widths(self):
        menu = self.view.menu
        for withhold in (False, True):
            for sdes in (False, True):
                for turn in (None, "relay.example.org"):
                    menu.close()
                    menu.push("Settings", dm.settings_items(withhold, 30, 100, sdes, turn))
                    for width in (16, 21, 24):
                        lines = screen(self.view, width=width, height=8)
                        shown = [text[2:] for text in lines[2:-1] if text]
                        on = lambda flag: "on" if flag else "off"  # noqa: E731
                        self.assertTrue(shown[0].endswith(": " + on(withhold)), (width, shown))
                        self.assertTrue(shown[0].split(":")[0] in ("Withhold caller ID", "Withhold my ID",
                                                                   "Hide my ID", "Hide ID"), shown)
                        self.assertEqual(shown[1].split(": ")[1], "allowed" if sdes else "off", (width, shown))
                        self.assertTrue(shown[1].startswith("SDES"), shown)
                        self.assertEqual(shown[2].split(": ")[1], on(turn), (width, shown))
                        for text in shown[:3]:
                            self.assertNotIn("~", text, (width, shown))  # no setting's state cut
                    self.assertEqual(menu.key("OK"), "toggle_withhold")
                    menu.key("DOWN")
                    self.assertEqual(menu.key("OK"), "toggle_sdes")

    def test_call_waiting_screen(self):
        first = self.calls.incoming("bob", 0)
        lines = screen(self.view)
        self.assertEqual(lines[1:3], ["Bob Smith", "Incoming call"])
        self.assertEqual(lines[-1], "Answer Decline")
        self.calls.answer(0)
        self.calls.incoming("carol", 100)
        lines = screen(self.view, now=5000)
        self.assertIn("+ carol: waiting", lines)
        self.assertEqual(lines[-1], "Answer Decline")
        self.calls.answer(200)
        lines = screen(self.view, now=5000)
        self.assertEqual(lines[1], "carol")
        self.assertIn("+ Bob Smith: on hold", lines)
        self.assertEqual(first.state, "held")

    def test_ended_message_then_idle(self):
        line = self.calls.dial("bob", 0)
        self.calls.failed(line, 486, 1000)
        self.assertIn("Bob Smith: busy", screen(self.view, now=2000))
        self.assertNotIn("Bob Smith: busy", screen(self.view, now=7000))

    def test_menu_navigation(self):
        menu = self.view.menu
        menu.push("Menu", dm.main_menu_items())
        lines = screen(self.view)
        self.assertEqual(lines[1:6], ["Menu", "> Contacts", "  Call log", "  Settings", "  About"])
        self.assertEqual(lines[-1], "Select Back")
        self.assertIsNone(menu.key("DOWN"))
        self.assertIsNone(menu.key("DOWN"))
        self.assertEqual(menu.key("OK"), "settings")
        menu.push("Settings", dm.settings_items(False, 30, 100))
        self.assertEqual(screen(self.view, width=30)[2], "> Withhold caller ID: off")
        self.assertEqual(menu.key("OK"), "toggle_withhold")
        menu.replace("Settings", dm.settings_items(True, 30, 100))
        self.assertEqual(screen(self.view, width=30)[2], "> Withhold caller ID: on")
        self.assertIsNone(menu.key("BACK"))
        self.assertEqual(menu.key("BACK"), "close")
        self.assertFalse(menu.open)

    def test_menu_scrolls_and_ringing_wins(self):
        menu = self.view.menu
        menu.push("Contacts", dm.contacts_items(["n%d" % i for i in range(10)]))
        for _ in range(7):
            menu.key("DOWN")
        lines = screen(self.view)
        self.assertEqual(lines[-2], "> n7")
        self.assertEqual(menu.key("OK"), "call:n7")
        self.calls.incoming("bob", 0)
        self.assertEqual(screen(self.view)[1], "Bob Smith")  # a call beats the menu

    def test_calllog_and_about_items(self):
        items = dm.calllog_items([{"t": 0, "kind": "missed", "peer": "bob", "secs": 0},
                                  {"t": 0, "kind": "in", "peer": "eve", "secs": 75}])
        self.assertEqual(items, [("! bob", "redial:bob"), ("< eve 1:15", "redial:eve")])
        about = dm.about_items(["SRTP required"], "1.0")
        self.assertEqual(about, [("Hushphone 1.0", None), ("SRTP required", None)])

    def test_wrap_and_fit(self):
        self.assertEqual(dm.wrap("a bb ccc dddddddd", 5), ["a bb", "ccc", "ddddd", "ddd"])
        self.assertEqual(dm.fit("abcdef", 4), "abc~")
        self.assertEqual(dm.duration_text(59999), "0:59")


if __name__ == "__main__":
    unittest.main()
