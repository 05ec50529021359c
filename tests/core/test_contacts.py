# Contacts with vCard 4 (RFC 6350) import/export: escaping, folding,
# UTF-8, unknown properties kept, dial targets, the file on the handset.
import os
import unittest

from hushphone import vcard
from hushphone.app.contacts import Contacts, ContactsError, dial_target
from hushphone.crypto.random import random_bytes

# RFC 6350 §3.4 escapes (\, \; \\ \n), a folded line (§3.2), UTF-8,
# grouped and unknown properties.
CARD = (
    "BEGIN:VCARD\r\n"
    "VERSION:4.0\r\n"
    "FN:J\u00f6rg M\u00fcller\\, Jr.\r\n"
    "N:M\u00fcller;J\u00f6rg;;;Jr.\\;II\r\n"
    "TEL;VALUE=uri;TYPE=work;PREF=1:tel:+49-30-1234\r\n"
    "TEL;TYPE=cell:joerg\r\n"
    "EMAIL:j@example.org\r\n"
    "NOTE:line one\\nline two with a backslash \\\\ and a long tail that has to be fo\r\n"
    " lded at 75 octets\r\n"
    "item1.X-ABLABEL:Stra\u00dfe\r\n"
    "END:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:\u6771\u4eac \u592a\u90ce\r\nTEL:taro\r\nEND:VCARD\r\n"
)


def _hex(b):
    return "".join("%02x" % x for x in b)


class VcardTest(unittest.TestCase):
    def test_parse_escapes_folding_utf8(self):
        a, b = vcard.parse(CARD)
        self.assertEqual(a["fn"], "J\u00f6rg M\u00fcller, Jr.")
        self.assertEqual(a["n"], ["M\u00fcller", "J\u00f6rg", "", "", "Jr.;II"])
        self.assertEqual(a["tel"][0], {"value": "tel:+49-30-1234", "types": ["work"], "pref": 1})
        self.assertEqual(a["note"], "line one\nline two with a backslash \\ and a long tail that has to be folded at 75 octets")
        self.assertEqual(a["extra"], ["item1.X-ABLABEL:Stra\u00dfe"])
        self.assertEqual(b["fn"], "\u6771\u4eac \u592a\u90ce")

    def test_round_trip(self):
        cards = vcard.parse(CARD)
        text = vcard.serialize(cards)
        self.assertEqual(vcard.parse(text), cards)
        for physical in text.split("\r\n"):
            self.assertLessEqual(len(physical.encode("utf-8")), 75)
        self.assertIn("FN:J\u00f6rg M\u00fcller\\, Jr.\r\n", text)

    def test_malformed(self):
        for text in ("BEGIN:VCARD\nVERSION:3.0\nFN:x\nEND:VCARD\n", "BEGIN:VCARD\nVERSION:4.0\nTEL:1\nEND:VCARD\n",
                     "BEGIN:VCARD\nVERSION:4.0\nFN:x\n", "FN:x\n", "BEGIN:VCARD\nnocolon\n",
                     "BEGIN:VCARD\nVERSION:4.0\nFN:x\nTEL;PREF=a:1\nEND:VCARD\n"):
            self.assertRaises(vcard.VCardError, vcard.parse, text)


class ContactsTest(unittest.TestCase):
    def setUp(self):
        self.path = "/tmp/hush_contacts_test_%s.vcf" % _hex(random_bytes(8))

    def tearDown(self):
        try:
            os.remove(self.path)
        except OSError:
            pass

    def test_import_save_load_export(self):
        book = Contacts(self.path).load()
        self.assertEqual(book.items, [])
        self.assertEqual(book.import_vcard(CARD), 2)
        book.add("Bob", "bob")
        book.save()
        again = Contacts(self.path).load()
        self.assertEqual(again.names(), ["Bob", "J\u00f6rg M\u00fcller, Jr.", "\u6771\u4eac \u592a\u90ce"])
        self.assertEqual(vcard.parse(again.export_vcard()), again.items)
        self.assertEqual(again.find("bob")["fn"], "Bob")
        self.assertIsNone(again.find("nobody"))
        self.assertEqual(again.name_for("taro"), "\u6771\u4eac \u592a\u90ce")
        self.assertIsNone(again.name_for("zed"))

    def test_bad_import_keeps_the_book(self):
        book = Contacts(self.path)
        book.add("Bob", "bob")
        self.assertRaises(ContactsError, book.import_vcard, "BEGIN:VCARD\nVERSION:4.0\n")
        self.assertEqual(book.names(), ["Bob"])
        self.assertRaises(ContactsError, book.add, "", "1")
        with open(self.path, "w") as f:
            f.write("garbage")
        self.assertRaises(ContactsError, Contacts(self.path).load)

    def test_dial_target_prefers_pref(self):
        a = vcard.parse(CARD)[0]
        self.assertEqual(dial_target(a), "+49-30-1234")
        self.assertEqual(dial_target({"fn": "x", "tel": [{"value": "sip:bob@example.org"}]}), "bob@example.org")
        self.assertIsNone(dial_target({"fn": "x"}))


if __name__ == "__main__":
    unittest.main()
