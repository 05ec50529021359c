# SIP message syntax beyond the torture corpus: headers, URIs (RFC 3261
# §19.1.4 comparison examples), name-addr, Via, CSeq, auth params,
# serialisation, limits and stream framing. Runs on both runtimes.
import unittest

from hushphone.sip.message import (
    COMPACT,
    MAX_HEADERS,
    MAX_LINE,
    MAX_MESSAGE_SIZE,
    Headers,
    LocalSipError,
    NameAddr,
    Request,
    Response,
    SipParseError,
    SipUri,
    StreamParser,
    Via,
    parse_auth_params,
    parse_challenges,
    parse_cseq,
    parse_message,
    parse_name_addr,
    parse_uri,
    parse_via,
    unquote,
    uri_equal,
)

INVITE = (
    b"INVITE sips:bob@example.org SIP/2.0\r\n"
    b"Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Alice" <sips:alice@example.com>;tag=1928301774\r\n'
    b"To: <sips:bob@example.org>\r\n"
    b"Call-ID: a84b4c76e66710@pc33.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sips:alice@192.0.2.1:5061;transport=tls>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n"
    b"\r\n"
    b"v=0\n"
)


def request(method="OPTIONS", extra=b"", body=b""):
    return (
        method.encode() + b" sip:bob@example.org SIP/2.0\r\n"
        b"Via: SIP/2.0/TLS h.example.com;branch=z9hG4bKx\r\n"
        b"From: <sip:a@example.com>;tag=1\r\n"
        b"To: <sip:bob@example.org>\r\n"
        b"Call-ID: c1\r\n"
        b"CSeq: 1 " + method.encode() + b"\r\n" + extra + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


class HeadersTest(unittest.TestCase):
    def test_compact_forms_normalised(self):
        expected = {
            "v": "Via", "f": "From", "t": "To", "i": "Call-ID", "m": "Contact", "l": "Content-Length",
            "c": "Content-Type", "k": "Supported", "s": "Subject", "e": "Content-Encoding", "o": "Event",
            "r": "Refer-To", "b": "Referred-By", "u": "Allow-Events", "x": "Session-Expires",
            "a": "Accept-Contact", "j": "Reject-Contact", "d": "Request-Disposition", "y": "Identity",
            "n": "Identity-Info",
        }
        self.assertEqual(COMPACT, expected)
        h = Headers()
        for short in sorted(expected):
            h.add(short.upper(), "x")
        self.assertEqual([n for n, v in h.items()], [expected[s] for s in sorted(expected)])
        for short, full in expected.items():
            self.assertEqual(h.get(full.upper()), "x")
            self.assertEqual(h.get(short), "x")

    def test_case_insensitive_and_canonical(self):
        h = Headers([("call-id", "1"), ("cseq", "2 INVITE"), ("www-authenticate", "Digest realm=x"), ("X-Odd", "y")])
        self.assertEqual([n for n, v in h.items()], ["Call-ID", "CSeq", "WWW-Authenticate", "X-Odd"])
        self.assertIn("CALL-ID", h)
        self.assertIn("x-odd", h)
        self.assertNotIn("From", h)
        self.assertEqual(h.get("missing", "d"), "d")

    def test_get_all_splits_list_headers_only(self):
        h = Headers()
        h.add("Via", "SIP/2.0/TLS a;branch=1, SIP/2.0/TLS b;branch=2")
        h.add("v", "SIP/2.0/TLS c;branch=3")
        h.add("Contact", '"Doe, John" <sip:j@x;a=b,c>;q=0.5 , <sip:k@y>')
        h.add("Allow", "INVITE, ACK,,BYE")
        h.add("WWW-Authenticate", 'Digest realm="a,b", nonce="n"')
        h.add("Date", "Sat, 13 Nov 2010 23:29:00 GMT")
        h.add("Subject", "one, two")
        self.assertEqual(h.get_all("via"), ["SIP/2.0/TLS a;branch=1", "SIP/2.0/TLS b;branch=2", "SIP/2.0/TLS c;branch=3"])
        self.assertEqual(h.get_all("m"), ['"Doe, John" <sip:j@x;a=b,c>;q=0.5', "<sip:k@y>"])
        self.assertEqual(h.get_all("Allow"), ["INVITE", "ACK", "BYE"])
        self.assertEqual(h.get_all("WWW-Authenticate"), ['Digest realm="a,b", nonce="n"'])
        self.assertEqual(h.get_all("Date"), ["Sat, 13 Nov 2010 23:29:00 GMT"])
        self.assertEqual(h.get_all("Subject"), ["one, two"])
        self.assertEqual(h.get_fields("Via"), ["SIP/2.0/TLS a;branch=1, SIP/2.0/TLS b;branch=2", "SIP/2.0/TLS c;branch=3"])
        self.assertEqual(h.get_all("Contact")[0], '"Doe, John" <sip:j@x;a=b,c>;q=0.5')
        h2 = Headers([("Contact", "*")])
        self.assertEqual(h2.get_all("Contact"), ["*"])

    def test_set_add_prepend_remove_copy(self):
        h = Headers([("Via", "1"), ("To", "t"), ("Via", "2"), ("Route", "r")])
        h.prepend("v", "0")
        self.assertEqual(h.get_all("Via"), ["0", "1", "2"])
        c = h.copy()
        h.set("Via", "only")
        self.assertEqual(h.items(), [("Via", "only"), ("To", "t"), ("Route", "r")])
        h.remove("route")
        h.set("Max-Forwards", 70)
        self.assertEqual(h.items(), [("Via", "only"), ("To", "t"), ("Max-Forwards", "70")])
        self.assertEqual(c.get_all("Via"), ["0", "1", "2"])
        self.assertEqual(c.count("via"), 3)
        self.assertEqual(len(c), 5)


class UriTest(unittest.TestCase):
    def test_full_sip_uri(self):
        u = parse_uri("sips:alice:secret@[2001:db8::10]:5061;transport=tls;lr?subject=project%20x&priority=urgent")
        self.assertEqual((u.scheme, u.user, u.password, u.host, u.port), ("sips", "alice", "secret", "2001:db8::10", 5061))
        self.assertEqual(u.params.items(), [("transport", "tls"), ("lr", None)])
        self.assertEqual(u.headers.items(), [("subject", "project%20x"), ("priority", "urgent")])
        self.assertEqual(str(u), "sips:alice:secret@[2001:db8::10]:5061;transport=tls;lr?subject=project%20x&priority=urgent")
        self.assertEqual(u.host_port(), "[2001:db8::10]:5061")
        self.assertEqual(parse_uri("SIP:Bob@Example.COM").scheme, "sip")

    def test_constructed(self):
        u = SipUri("sip", "bob", "2001:db8::1", 5060, {"transport": "tls"})
        self.assertEqual(str(u), "sip:bob@[2001:db8::1]:5060;transport=tls")
        self.assertEqual(str(SipUri("sips", None, "example.com")), "sips:example.com")

    def test_tel_and_other_schemes(self):
        t = parse_uri("tel:+1-201-555-0123;phone-context=example.com")
        self.assertEqual((t.scheme, t.user, t.params["phone-context"]), ("tel", "+1-201-555-0123", "example.com"))
        self.assertEqual(str(t), "tel:+1-201-555-0123;phone-context=example.com")
        m = parse_uri("mailto:someone@example.com")
        self.assertEqual((m.scheme, m.opaque, str(m)), ("mailto", "someone@example.com", "mailto:someone@example.com"))

    def test_bad_uris(self):
        for text in (
            "", "sip", ":x", "sip:", "sip:@example.com", "sip:user@", "sip:user@host:", "sip:user@host:99999",
            "sip:user@host:5x", "sip:user@[2001:db8::1", "sip:user@[zz::1]", "sip:user@host;;lr", "sip:a b@host",
            "sip:user@host;=x", "sip:user@host;p=", "sip:user@host?novalue", "sip:us<er@host", "sip:host extra",
            "1sip:x", "sip:user@-host", "sip:user@host..com", "http://exa mple.com", "sip:2001:db8::10",
        ):
            with self.assertRaises(SipParseError, msg=text):
                parse_uri(text)

    def test_rfc3261_comparison_examples(self):
        # RFC 3261 §19.1.4: these pairs are equivalent ...
        equal = (
            ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
            ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
            ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
            ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
            (
                "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
                "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
            ),
            (
                "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
                "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
            ),
        )
        # ... and these are not.
        unequal = (
            ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
            ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
            ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
            ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"),
            ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
            ("tel:+1-201-555-0123", "tel:+1-201-555-0124"),
            ("sip:alice@atlanta.com", "tel:+1-201-555-0123"),
        )
        equal += (("tel:+1-201-555-0123;phone-context=X", "tel:%2B1-201-555-0123;Phone-Context=x"),)
        for a, b in equal:
            self.assertTrue(uri_equal(a, b), a + " == " + b)
            self.assertTrue(uri_equal(b, a), b + " == " + a)
        for a, b in unequal:
            self.assertFalse(uri_equal(a, b), a + " != " + b)
            self.assertFalse(uri_equal(b, a), b + " != " + a)


class NameAddrViaCSeqTest(unittest.TestCase):
    def test_name_addr_forms(self):
        n = parse_name_addr('"A \\"quoted\\" name" <sips:a@example.com;transport=tls>;tag=xyz;expires=60')
        self.assertEqual(n.display, 'A "quoted" name')
        self.assertEqual(str(n.uri), "sips:a@example.com;transport=tls")
        self.assertEqual((n.tag, n.params["expires"]), ("xyz", "60"))
        self.assertEqual(str(n), '"A \\"quoted\\" name" <sips:a@example.com;transport=tls>;tag=xyz;expires=60')
        self.assertEqual(str(parse_name_addr(str(n))), str(n))
        bare = parse_name_addr("sip:a@example.com;tag=1")
        self.assertEqual((bare.display, str(bare.uri), bare.tag), (None, "sip:a@example.com", "1"))
        self.assertEqual(str(bare), "<sip:a@example.com>;tag=1")
        inst = parse_name_addr('<sip:a@192.0.2.1>;+sip.instance="<urn:uuid:0001>";reg-id=1')
        self.assertEqual(unquote(inst.params["+sip.instance"]), "<urn:uuid:0001>")
        self.assertEqual(str(NameAddr(parse_uri("sip:x@y"), "Bob")), '"Bob" <sip:x@y>')
        spec = parse_name_addr('sip:a@192.0.2.1;+sip.instance="<urn:uuid:0001>";expires=60')
        self.assertEqual((spec.display, str(spec.uri), spec.params["expires"]), (None, "sip:a@192.0.2.1", "60"))
        self.assertEqual(unquote(spec.params["+sip.instance"]), "<urn:uuid:0001>")

    def test_bad_name_addr(self):
        for text in (
            '"unterminated <sip:a@b>', "Bad, Name <sip:a@b>", "< sip:a@b >", "<sip:a@b", "<sip:a@b>;",
            "<sip:a@b>;tag=", "<sip:a@b> junk", "sip:a@b?x=y", '"x" sip:a@b', "", "<>", "<sip:a@b>;t=\"x",
        ):
            with self.assertRaises(SipParseError, msg=text):
                parse_name_addr(text)

    def test_via(self):
        v = parse_via("SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bK74bf9;received=192.0.2.9;rport=60000")
        self.assertEqual((v.transport, v.host, v.port, v.branch), ("TLS", "2001:db8::1", 5061, "z9hG4bK74bf9"))
        self.assertEqual((v.params["received"], v.params["rport"]), ("192.0.2.9", "60000"))
        self.assertEqual(str(v), "SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bK74bf9;received=192.0.2.9;rport=60000")
        v2 = parse_via("sip / 2.0 / tls host.example.com : 5061 ; rport ; branch = z9hG4bKa")
        self.assertEqual((v2.transport, v2.host, v2.port, v2.branch), ("TLS", "host.example.com", 5061, "z9hG4bKa"))
        self.assertIsNone(v2.params["rport"])
        self.assertEqual(str(Via("tls", "192.0.2.1", 5061, [("branch", "z9hG4bK1"), ("rport", None)])),
                         "SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK1;rport")
        for text in ("SIP/2.0 host", "SIP/2.0/TLS", "SIP/2.0/TLS host;", "SIP/2.0/TLS host;branch",
                     "HTTP/2.0/TLS host", "SIP/2.0/TLS host:port", "SIP/2.0/TLS a b"):
            with self.assertRaises(SipParseError, msg=text):
                parse_via(text)
        with self.assertRaises(SipParseError) as ctx:
            parse_via("SIP/3.0/TLS host")
        self.assertEqual(ctx.exception.status, 505)

    def test_cseq(self):
        self.assertEqual(parse_cseq("4294967295 INVITE"), (4294967295, "INVITE"))
        self.assertEqual(parse_cseq(" 0  ACK "), (0, "ACK"))
        for text in ("4294967296 INVITE", "1", "x INVITE", "-1 INVITE", "1 IN VITE", "1 INV@TE", "1_0 BYE", "+1 BYE"):
            with self.assertRaises(SipParseError, msg=text):
                parse_cseq(text)

    def test_auth_params(self):
        scheme, p = parse_auth_params(
            'Digest realm="atlanta.example.com", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", '
            'qop="auth,auth-int", opaque="", stale=FALSE, algorithm=MD5'
        )
        self.assertEqual(scheme, "Digest")
        self.assertEqual(p, {
            "realm": "atlanta.example.com", "nonce": "ea9c8e88df84f1cec4341ae6cbe5a359",
            "qop": "auth,auth-int", "opaque": "", "stale": "FALSE", "algorithm": "MD5",
        })
        both = parse_challenges('Digest realm="a", algorithm=SHA-256, nonce="1",Digest realm="a", algorithm=MD5, nonce="2"')
        self.assertEqual([(s, d["algorithm"], d["nonce"]) for s, d in both], [("Digest", "SHA-256", "1"), ("Digest", "MD5", "2")])
        self.assertEqual(parse_auth_params('Digest username="bob", uri="sip:x", response="a\\"b"')[1]["response"], 'a"b')
        for text in ("", "Digest realm", 'Digest realm="x', "Digest realm=x realm=y", "Digest a=1, a=2"):
            with self.assertRaises(SipParseError, msg=text):
                parse_auth_params(text)


class ParseAndSerialiseTest(unittest.TestCase):
    def test_parse_invite(self):
        m = parse_message(INVITE)
        self.assertTrue(m.is_request)
        self.assertEqual((m.method, m.uri, m.body), ("INVITE", "sips:bob@example.org", b"v=0\n"))
        self.assertEqual(parse_via(m.headers.get("Via")).params["rport"], None)

    def test_to_bytes_exact(self):
        r = Request("REGISTER", parse_uri("sips:example.com"), [
            ("v", "SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK1;rport"), ("max-forwards", "70"),
            ("f", "<sips:a@example.com>;tag=1"), ("t", "<sips:a@example.com>"), ("i", "c@x"),
            ("cseq", "1 REGISTER"), ("m", "<sips:a@192.0.2.1:5061>"), ("l", "999"),
        ])
        self.assertEqual(r.to_bytes(), (
            b"REGISTER sips:example.com SIP/2.0\r\n"
            b"Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK1;rport\r\nMax-Forwards: 70\r\n"
            b"From: <sips:a@example.com>;tag=1\r\nTo: <sips:a@example.com>\r\nCall-ID: c@x\r\n"
            b"CSeq: 1 REGISTER\r\nContact: <sips:a@192.0.2.1:5061>\r\nContent-Length: 0\r\n\r\n"
        ))
        resp = Response(200, "OK", Headers(r.headers), b"hello")
        resp.headers.remove("Content-Length")
        wire = resp.to_bytes()
        self.assertTrue(wire.startswith(b"SIP/2.0 200 OK\r\nVia: "))
        self.assertTrue(wire.endswith(b"Content-Length: 5\r\n\r\nhello"))
        back = parse_message(wire)
        self.assertFalse(back.is_request)
        self.assertEqual((back.status, back.reason, back.body), (200, "OK", b"hello"))

    def test_header_injection_refused(self):
        r = Request("OPTIONS", "sip:a@b", [("Subject", "x\r\nVia: evil")])
        with self.assertRaises(LocalSipError):
            r.to_bytes()
        with self.assertRaises(LocalSipError):
            Request("OPTIONS", "sip:a@b\r\n").to_bytes()

    def test_folding_and_compact_round_trip(self):
        data = request(extra=b"Subject: first\r\n second\r\n\tthird\r\nk: timer,\r\n path\r\n")
        m = parse_message(data)
        self.assertEqual(m.headers.get("Subject"), "first second third")
        self.assertEqual(m.headers.get_all("Supported"), ["timer", "path"])
        again = parse_message(m.to_bytes())
        self.assertEqual(again.headers.items(), m.headers.items())
        self.assertIn(b"\r\nSupported: timer, path\r\n", m.to_bytes())

    def test_rejections(self):
        cases = (
            (b"", 400), (b"\r\n\r\n", 400), (b"OPTIONS sip:a@b SIP/2.0", 400),
            (request().replace(b"SIP/2.0\r\n", b"SIP/2.1\r\n", 1), 505),
            (request().replace(b"OPTIONS sip", b"OPT IONS sip", 1), 400),
            (request().replace(b"OPTIONS sip", b"OPT\xffIONS sip", 1), 400),
            (request().replace(b"Call-ID: c1", b"Call-ID: c1\rX: y"), 400),
            (request().replace(b"Call-ID: c1", b"Call-ID: c1\nX: y"), 400),
            (request().replace(b"Call-ID: c1", b"Call ID: c1"), 400),
            (request().replace(b"Call-ID: c1", b": c1"), 400),
            (request().replace(b"Call-ID: c1", b"Call-ID: c 1"), 400),
            (b" " + request(), 400),
            (request(extra=b"Content-Length: 0\r\n"), 400),
            (request(extra=b"Max-Forwards: x\r\n"), 400),
            (request(extra=b"Contact: <sip:a@b>,\r\n"), 400),
            (b"SIP/2.0 99 Too Small\r\n" + request()[request().find(b"\r\n") + 2 :], 400),
            (b"SIP/2.0 2000 OK\r\n" + request()[request().find(b"\r\n") + 2 :], 400),
            (b"SIP/2.0 abc OK\r\n" + request()[request().find(b"\r\n") + 2 :], 400),
        )
        for data, status in cases:
            with self.assertRaises(SipParseError, msg=repr(data[:40])) as ctx:
                parse_message(data)
            self.assertEqual(ctx.exception.status, status, repr(data[:60]) + " " + ctx.exception.reason)
        with self.assertRaises(SipParseError):
            parse_message("not bytes")
        with self.assertRaises(SipParseError):
            parse_message(None)

    def test_out_of_memory_is_a_513(self):
        import hushphone.sip.parser as parser_module

        def exhausted(data):
            raise MemoryError()

        saved = parser_module._parse_datagram
        parser_module._parse_datagram = exhausted
        try:
            with self.assertRaises(SipParseError) as ctx:
                parse_message(INVITE)
        finally:
            parser_module._parse_datagram = saved
        self.assertEqual((ctx.exception.status, ctx.exception.reason), (513, "out of memory"))

    def test_leading_crlf_and_bytearray(self):
        m = parse_message(bytearray(b"\r\n\r\n" + request()))
        self.assertEqual(m.method, "OPTIONS")

    def test_limits(self):
        self.assertLessEqual(MAX_MESSAGE_SIZE, 16384)
        big = request(body=b"x" * MAX_MESSAGE_SIZE)
        with self.assertRaises(SipParseError) as ctx:
            parse_message(big)
        self.assertEqual(ctx.exception.status, 513)
        many = request(extra=b"X-A: 1\r\n" * MAX_HEADERS)
        with self.assertRaises(SipParseError) as ctx:
            parse_message(many)
        self.assertEqual((ctx.exception.status, ctx.exception.reason), (513, "too many headers"))
        self.assertEqual(parse_message(request(extra=b"X-A: 1\r\n" * (MAX_HEADERS - 7))).headers.count("X-A"), MAX_HEADERS - 7)
        long_value = request(extra=b"X-Long: " + b"a" * MAX_LINE + b"\r\n")
        with self.assertRaises(SipParseError) as ctx:
            parse_message(long_value)
        self.assertEqual(ctx.exception.status, 513)
        folded = request(extra=b"X-Long: a\r\n" + b" a\r\n" * (MAX_LINE // 2))
        with self.assertRaises(SipParseError) as ctx:
            parse_message(folded)
        self.assertEqual(ctx.exception.status, 513)
        long_uri = request().replace(b"sip:bob@", b"sip:" + b"b" * MAX_LINE + b"@", 1)
        with self.assertRaises(SipParseError) as ctx:
            parse_message(long_uri)
        self.assertEqual(ctx.exception.status, 414)
        huge_cseq = request().replace(b"CSeq: 1 ", b"CSeq: " + b"9" * 3000 + b" ")
        with self.assertRaises(SipParseError) as ctx:
            parse_message(huge_cseq)
        self.assertIn(ctx.exception.status, (400, 513))


class StreamParserTest(unittest.TestCase):
    def drain(self, parser):
        out = []
        for _ in range(100):
            ev = parser.next_event()
            if ev is None:
                return out
            out.append(ev)
        self.fail("parser never ran dry")

    def test_several_messages_in_one_read(self):
        p = StreamParser()
        p.feed(INVITE + request(body=b"abc") + b"\r\n\r\n" + INVITE[:20])
        events = self.drain(p)
        self.assertEqual([e if isinstance(e, str) else e.method for e in events], ["INVITE", "OPTIONS", "ping"])
        self.assertEqual(events[1].body, b"abc")
        p.feed(INVITE[20:])
        self.assertEqual([e.method for e in self.drain(p)], ["INVITE"])
        self.assertEqual(p.buffered(), 0)

    def test_byte_by_byte(self):
        stream = b"\r\n" + INVITE + INVITE
        p = StreamParser()
        events = []
        for i in range(len(stream)):
            p.feed(stream[i : i + 1])
            events.extend(self.drain(p))
        # The lone CRLF before the first message reads as a pong.
        self.assertEqual(events[0], "pong")
        self.assertEqual([e.body for e in events[1:]], [b"v=0\n", b"v=0\n"])

    def test_ping_pong(self):
        p = StreamParser()
        p.feed(b"\r\n\r\n")
        self.assertEqual(self.drain(p), ["ping"])
        p.feed(b"\r\n")
        self.assertEqual(self.drain(p), ["pong"])
        p.feed(b"\r\n\r")
        self.assertEqual(self.drain(p), [])
        p.feed(b"\n")
        self.assertEqual(self.drain(p), ["ping"])

    def test_fatal_framing_errors(self):
        no_length = request().replace(b"Content-Length: 0\r\n", b"")
        for data, status in (
            (no_length, 400),
            (request().replace(b"Content-Length: 0", b"Content-Length: -1"), 400),
            (request().replace(b"Content-Length: 0", b"Content-Length: 0\r\nl: 0"), 400),
            (request().replace(b"Content-Length: 0", b"Content-Length: 99999999"), 413),
            (b"X" * (MAX_MESSAGE_SIZE + 1), 513),
            (b"OPTIONS sip:a@b SIP/2.0\r\nBad Header\r\n\r\n", 400),
        ):
            p = StreamParser()
            p.feed(data)
            with self.assertRaises(SipParseError) as ctx:
                self.drain(p)
            self.assertEqual((ctx.exception.status, ctx.exception.fatal), (status, True), ctx.exception.reason)
            with self.assertRaises(SipParseError):
                p.next_event()  # stays closed
            with self.assertRaises(SipParseError):
                p.feed(INVITE)

    def test_feeding_without_draining_is_bounded(self):
        p = StreamParser(max_message=1000)
        with self.assertRaises(SipParseError) as ctx:
            for _ in range(100):
                p.feed(b"a" * 100)
        self.assertEqual(ctx.exception.status, 513)

    def test_bad_header_in_well_framed_message_is_not_fatal(self):
        bad = request().replace(b"From: <sip:a@example.com>;tag=1\r\n", b"")
        p = StreamParser()
        p.feed(bad + INVITE)
        err = p.next_event()  # returned, not raised: the message is bad, the stream is fine
        self.assertIsInstance(err, SipParseError)
        self.assertEqual((err.status, err.fatal, err.reason), (400, False, "missing From"))
        self.assertEqual(err.message.headers.get("Call-ID"), "c1")  # enough for a 400 reply
        self.assertEqual(p.next_event().method, "INVITE")

    def test_refused_request_line_is_framed_and_answerable(self):
        # SIP/7.0 (RFC 4475 badvers) with a Content-Length: the stream goes on.
        bad = request().replace(b" SIP/2.0\r\n", b" SIP/7.0\r\n", 1)
        p = StreamParser()
        p.feed(bad + INVITE)
        err = p.next_event()
        self.assertIsInstance(err, SipParseError)
        self.assertEqual((err.status, err.fatal), (505, False))
        self.assertEqual(err.message.headers.get("Call-ID"), "c1")
        self.assertEqual(p.next_event().method, "INVITE")
