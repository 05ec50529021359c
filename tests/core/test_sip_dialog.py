# RFC 3261 §12 dialogs: route sets from Record-Route (reversed for the
# UAC), remote target and its refresh, CSeq rules, loose and strict routing.
import unittest

from hushphone.sip.dialog import Dialog
from hushphone.sip.message import Headers, RemoteSipError, Request, parse_name_addr
from hushphone.sip.transaction import make_response

RR = ["<sip:p1.example.test;lr>", "<sip:p2.example.test;lr>"]


def rb(n):
    return b"\x07" * n


def invite(contact="<sip:a1@host-a.invalid;transport=tls>"):
    h = Headers()
    h.add("Via", "SIP/2.0/TLS host-a.invalid;branch=z9hG4bK1;rport")
    for rr in RR:
        h.add("Record-Route", rr)
    h.add("From", '"A" <sip:alice@example.test>;tag=atag')
    h.add("To", "<sip:bob@example.test>")
    h.add("Call-ID", "cid")
    h.add("CSeq", "100 INVITE")
    if contact:
        h.add("Contact", contact)
    return Request("INVITE", "sip:bob@example.test", h)


def ok(inv, contact="<sip:b1@host-b.invalid;transport=tls>"):
    resp = make_response(inv, 200, None, "btag")
    for rr in inv.headers.get_all("Record-Route"):
        resp.headers.add("Record-Route", rr)
    if contact:
        resp.headers.add("Contact", contact)
    return resp


class Uac(unittest.TestCase):
    def setUp(self):
        self.inv = invite()
        self.d = Dialog.from_uac(self.inv, ok(self.inv), "<sip:a1@host-a.invalid>", "host-a.invalid", rb)

    def test_identity_target_and_reversed_route_set(self):
        self.assertEqual(self.d.id(), ("cid", "atag", "btag"))
        self.assertEqual(self.d.remote_target, "sip:b1@host-b.invalid;transport=tls")
        self.assertEqual(self.d.route_set, list(reversed(RR)))
        self.assertEqual(self.d.local_seq, 100)

    def test_in_dialog_request_uses_target_routes_and_next_cseq(self):
        bye = self.d.create_request("BYE")
        self.assertEqual(bye.uri, "sip:b1@host-b.invalid;transport=tls")
        self.assertEqual(bye.headers.get_all("Route"), list(reversed(RR)))
        self.assertEqual(bye.headers.get("CSeq"), "101 BYE")
        self.assertEqual(parse_name_addr(bye.headers.get("From")).tag, "atag")
        self.assertEqual(parse_name_addr(bye.headers.get("From")).display, "A")
        self.assertEqual(parse_name_addr(bye.headers.get("To")).tag, "btag")
        self.assertNotIn("Contact", bye.headers)
        self.assertEqual(self.d.create_request("INFO").headers.get("CSeq"), "102 INFO")
        ack = self.d.create_request("ACK", cseq=100)
        self.assertEqual(ack.headers.get("CSeq"), "100 ACK")
        reinvite = self.d.create_request("INVITE", b"v=0\r\n")
        self.assertEqual(reinvite.headers.get("Contact"), "<sip:a1@host-a.invalid>")
        self.assertEqual(reinvite.headers.get("Content-Type"), "application/sdp")

    def test_strict_router_goes_into_the_request_uri(self):
        self.d.route_set = ["<sip:strict.example.test>", "<sip:p2.example.test;lr>"]
        bye = self.d.create_request("BYE")
        self.assertEqual(bye.uri, "sip:strict.example.test")
        self.assertEqual(bye.headers.get_all("Route"),
                         ["<sip:p2.example.test;lr>", "<sip:b1@host-b.invalid;transport=tls>"])

    def test_target_refresh(self):
        refresh = ok(self.inv, "<sip:b2@elsewhere.invalid>")
        self.d.refresh_target(refresh)
        self.assertEqual(self.d.create_request("BYE").uri, "sip:b2@elsewhere.invalid")

    def test_dialog_needs_to_tag_and_contact(self):
        no_contact = ok(self.inv, None)
        with self.assertRaises(RemoteSipError):
            Dialog.from_uac(self.inv, no_contact, "<sip:x@y.invalid>", "y.invalid", rb)
        untagged = make_response(self.inv, 200)
        untagged.headers.add("Contact", "<sip:b@x.invalid>")
        with self.assertRaises(RemoteSipError):
            Dialog.from_uac(self.inv, untagged, "<sip:x@y.invalid>", "y.invalid", rb)


class Uas(unittest.TestCase):
    def setUp(self):
        self.d = Dialog.from_uas(invite(), "btag", 5000, "<sip:b1@host-b.invalid>", "host-b.invalid", rb)

    def test_route_set_in_order_and_remote_identity(self):
        self.assertEqual(self.d.id(), ("cid", "btag", "atag"))
        self.assertEqual(self.d.route_set, RR)
        self.assertEqual(self.d.remote_target, "sip:a1@host-a.invalid;transport=tls")
        bye = self.d.create_request("BYE")
        self.assertEqual(bye.headers.get("CSeq"), "5001 BYE")
        self.assertEqual(parse_name_addr(bye.headers.get("From")).uri.user, "bob")
        self.assertEqual(parse_name_addr(bye.headers.get("To")).tag, "atag")

    def test_cseq_must_grow(self):
        def req(n, method="BYE"):
            r = invite()
            r.headers.set("CSeq", "%d %s" % (n, method))
            return r

        self.assertIsNone(self.d.check_request(req(101)))
        self.assertEqual(self.d.check_request(req(101)), 500)
        self.assertEqual(self.d.check_request(req(50)), 500)
        self.assertIsNone(self.d.check_request(req(50, "ACK")))  # ACK/CANCEL keep the INVITE's number
        self.assertIsNone(self.d.check_request(req(102)))

    def test_invite_without_contact_targets_the_from_uri(self):
        # RFC 2543 callers (RFC 4475 §3.4.1 inv2543) send no Contact.
        d = Dialog.from_uas(invite(contact=None), "t", 1, "<sip:b@x.invalid>", "x.invalid", rb)
        self.assertEqual(d.remote_target, "sip:alice@example.test")
        self.assertEqual(d.create_request("BYE").uri, "sip:alice@example.test")

    def test_caller_without_from_tag(self):
        # RFC 3261 §12.1.1: a missing From tag is a null remote tag; our
        # requests then carry a To without tag (not "tag=None", no TypeError).
        inv = invite()
        inv.headers.set("From", '"A" <sip:alice@example.test>')
        d = Dialog.from_uas(inv, "t", 1, "<sip:b@x.invalid>", "x.invalid", rb)
        self.assertIsNone(d.remote_tag)
        bye = d.create_request("BYE")
        to = parse_name_addr(bye.headers.get("To"))
        self.assertEqual((str(to.uri), to.tag), ("sip:alice@example.test", None))
        self.assertEqual(parse_name_addr(bye.headers.get("From")).tag, "t")
        self.assertEqual(d.id(), ("cid", "t", None))
