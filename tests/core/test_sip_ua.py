# Two user agents joined by a fake link (the real StreamParser framing on
# every hop) and a fake clock: REGISTER with a 401 challenge, INVITE with a
# 407 challenge / 180 / 200 / ACK / BYE, CANCEL, re-INVITE hold/resume with
# real SDP, 486, OPTIONS, keepalive, privacy defaults, and bad input.
import unittest

from hushphone import sdp
from hushphone.sip import events, timers
from hushphone.sip.message import parse_message, parse_name_addr, parse_via
from hushphone.sip.useragent import UaConfig, UserAgent

from sip_fakelink import Counter, FakeLink, FakeRegistrar, events_of, names

SUITES = ("AES_CM_128_HMAC_SHA1_80",)
USERS = {"alice": "pa", "bob": "pb"}


def make_pair(proxy_auth=True, **config):
    reg = FakeRegistrar(USERS)
    a = UserAgent(UaConfig("sip:alice@example.test", "alice", "pa", **config), Counter(b"a"))
    b = UserAgent(UaConfig("sip:bob@example.test", "bob", "pb"), Counter(b"b"))
    link = FakeLink(a, b, reg, record_route=["<sip:proxy.example.test;transport=tls;lr>"], proxy_auth=proxy_auth)
    a.connection_made(0)
    b.connection_made(0)
    return a, b, link


def offer(direction="sendrecv", port=4000):
    return sdp.build_offer("192.0.2.1", port, ["PCMU"], SUITES, Counter(b"sdp%d" % port), direction=direction)


def methods(link, who):
    out = []
    for msg in link.sent_by(who):
        out.append(msg.method if msg.is_request else msg.status)
    return out


class Basic(unittest.TestCase):
    def setUp(self):
        self.a, self.b, self.link = make_pair()

    def ring_and_answer(self):
        a, b, link = self.a, self.b, self.link
        self.offer = offer()
        call = a.call("bob", self.offer.to_bytes(), 0)
        link.pump()
        incoming = events_of(b)[0]
        self.assertIsInstance(incoming, events.IncomingCall)
        b.ringing(incoming.call, 0)
        link.pump()
        answer, negotiated = sdp.answer(incoming.body, "192.0.2.2", 5000, ["PCMU"], SUITES, Counter(b"ans"))
        b.answer(incoming.call, answer.to_bytes(), 0)
        link.pump()
        return call, incoming.call

    def test_register_with_401_challenge(self):
        self.a.register(0)
        self.link.pump()
        self.assertEqual(names(events_of(self.a)), ["Registered"])
        self.assertEqual([s for s, _ in self.link.registrar.seen], [401, 200])
        self.assertIn("sip:alice@example.test", self.link.registrar.bindings)

    def test_invite_407_180_200_ack_bye(self):
        call, incoming = self.ring_and_answer()
        ev = events_of(self.a)
        self.assertEqual(names(ev), ["CallProgress", "CallAnswered"])
        self.assertEqual(ev[0].status, 180)
        got = sdp.process_answer(self.offer, ev[1].body)
        self.assertEqual(got.encrypted_by, "sdes")
        self.assertEqual(names(events_of(self.b)), ["CallConfirmed"])
        # a: INVITE (challenged, ACKed inside the transaction), INVITE with credentials, ACK for the 2xx
        self.assertEqual(methods(self.link, "a"), ["INVITE", "ACK", "INVITE", "ACK"])
        invites = [m for m in self.link.sent_by("a") if m.is_request and m.method == "INVITE"]
        self.assertIn("Proxy-Authorization", invites[1].headers)
        self.assertEqual(invites[0].headers.get("Call-ID"), invites[1].headers.get("Call-ID"))
        self.assertEqual(parse_name_addr(invites[0].headers.get("From")).tag,
                         parse_name_addr(invites[1].headers.get("From")).tag)
        c0 = int(invites[0].headers.get("CSeq").split()[0])
        self.assertEqual(invites[1].headers.get("CSeq"), "%d INVITE" % (c0 + 1))
        self.assertNotEqual(parse_via(invites[0].headers.get("Via")).branch,
                            parse_via(invites[1].headers.get("Via")).branch)
        self.assertEqual(methods(self.link, "b"), [100, 180, 200])
        ack = self.link.sent_by("a")[-1]
        self.assertEqual(ack.headers.get_all("Route"), ["<sip:proxy.example.test;transport=tls;lr>"])
        self.assertEqual(ack.headers.get("CSeq"), "%d ACK" % (c0 + 1))
        # BYE from the callee
        self.b.hangup(incoming, 10)
        self.link.pump()
        self.assertEqual(events_of(self.b)[0].how, "local")
        self.assertEqual(events_of(self.a)[0].how, "remote")
        self.assertEqual(self.a.calls, [])
        self.assertEqual(self.b.calls, [])

    def test_cancel_of_a_ringing_call_gets_487(self):
        call = self.a.call("bob", offer().to_bytes(), 0)
        self.link.pump()
        incoming = events_of(self.b)[0].call
        self.b.ringing(incoming, 0)
        self.link.pump()
        events_of(self.a)
        self.a.hangup(call, 5)
        self.link.pump()
        self.assertEqual([e.how for e in events_of(self.a)], ["cancelled"])
        self.assertEqual([e.how for e in events_of(self.b)], ["cancelled"])
        self.assertEqual(call.status, 487)
        sent_a = self.link.sent_by("a")
        cancel = [m for m in sent_a if m.is_request and m.method == "CANCEL"][0]
        invite = [m for m in sent_a if m.is_request and m.method == "INVITE"][-1]
        self.assertEqual(parse_via(cancel.headers.get("Via")).branch, parse_via(invite.headers.get("Via")).branch)
        self.assertEqual(cancel.headers.get("CSeq").split()[0], invite.headers.get("CSeq").split()[0])
        self.assertEqual(methods(self.link, "b")[-2:], [200, 487])
        self.assertEqual(sent_a[-1].method, "ACK")  # for the 487, same branch
        self.assertEqual(parse_via(sent_a[-1].headers.get("Via")).branch, parse_via(invite.headers.get("Via")).branch)

    def test_cancel_after_100_trying(self):
        call = self.a.call("bob", offer().to_bytes(), 0)
        self.link.pump()
        incoming = events_of(self.b)[0].call
        # b's 100 Trying came back: a provisional response, so CANCEL may go (§9.1)
        self.a.hangup(call, 1)
        self.link.pump()
        self.assertEqual([e.how for e in events_of(self.a)], ["cancelled"])
        self.assertEqual(incoming.state, "ended")

    def test_cancel_before_any_response_is_held_back(self):
        self.link.drop = lambda sender, data: sender == "b"  # b's answers are lost for now
        call = self.a.call("bob", offer().to_bytes(), 0)
        self.link.pump()
        self.a.hangup(call, 1)
        self.link.pump()
        self.assertNotIn("CANCEL", methods(self.link, "a"))
        # the first provisional response releases it
        self.link.drop = None
        for data in [d for n, d in self.link.log if n == "b"]:
            self.link._deliver("a", data)
        self.link.pump()
        self.assertIn("CANCEL", methods(self.link, "a"))
        self.assertEqual([e.how for e in events_of(self.a)], ["cancelled"])
        self.assertEqual(call.state, "ended")

    def test_busy_486(self):
        call = self.a.call("bob", offer().to_bytes(), 0)
        self.link.pump()
        incoming = events_of(self.b)[0].call
        self.b.reject(incoming, 0, 486)
        self.link.pump()
        failed = events_of(self.a)
        self.assertEqual(names(failed), ["CallFailed"])
        self.assertEqual(failed[0].status, 486)
        self.assertEqual(call.state, "ended")
        self.assertEqual(methods(self.link, "a")[-1], "ACK")
        self.assertEqual(self.b.get_timer(), self.b._keepalive.get_timer())  # Timer H stopped by the ACK

    def test_reinvite_hold_and_resume(self):
        call, incoming = self.ring_and_answer()
        events_of(self.a)
        events_of(self.b)
        for ours, theirs in (("sendonly", "recvonly"), ("sendrecv", "sendrecv")):
            new_offer = offer(ours)
            self.a.reinvite(call, new_offer.to_bytes(), 20)
            self.link.pump()
            asked = events_of(self.b)
            self.assertEqual(names(asked), ["UpdateRequested"])
            answer, neg = sdp.answer(asked[0].body, "192.0.2.2", 5000, ["PCMU"], SUITES, Counter(b"re"))
            self.assertEqual(neg.direction, theirs)
            self.b.accept_update(incoming, answer.to_bytes(), 21)
            self.link.pump()
            done = events_of(self.a)
            self.assertEqual(names(done), ["CallUpdated"])
            self.assertEqual(sdp.process_answer(new_offer, done[0].body).direction, ours)
        self.assertEqual(methods(self.link, "a")[-4:], ["INVITE", "ACK", "INVITE", "ACK"])
        self.assertEqual(incoming.ack_deadline, None)

    def test_glare_gets_491(self):
        call, incoming = self.ring_and_answer()
        self.link.drop = lambda sender, data: True
        self.a.reinvite(call, offer("sendonly").to_bytes(), 1)
        self.b.reinvite(incoming, offer("sendonly").to_bytes(), 1)
        self.link.pump()
        self.link.drop = None
        for who in ("a", "b"):
            for data in [d for n, d in self.link.log if n == who and d.startswith(b"INVITE")][-1:]:
                self.link._deliver("b" if who == "a" else "a", data)
        self.link.pump()
        self.assertEqual([e.status for e in events_of(self.a) if isinstance(e, events.UpdateFailed)], [491])
        self.assertEqual([e.status for e in events_of(self.b) if isinstance(e, events.UpdateFailed)], [491])

    def test_missing_ack_ends_the_call_with_bye(self):
        call = self.a.call("bob", offer().to_bytes(), 0)
        self.link.pump()
        incoming = events_of(self.b)[0].call
        self.link.drop = lambda sender, data: data.startswith(b"ACK ")
        self.b.answer(incoming, offer(port=6000).to_bytes(), 0)
        self.link.pump()
        self.link.drop = None
        self.link.advance(timers.ACK_WAIT)
        self.assertIn("no-ack", [e.how for e in events_of(self.b) if isinstance(e, events.CallEnded)])
        self.assertEqual(methods(self.link, "b")[-1], "BYE")
        self.assertIn("remote", [e.how for e in events_of(self.a) if isinstance(e, events.CallEnded)])

    def test_invite_expiry_cancels_a_call_ringing_forever(self):
        self.a.config.invite_expiry = 60000
        call = self.a.call("bob", offer().to_bytes(), 0)
        self.link.pump()
        self.b.ringing(events_of(self.b)[0].call, 0)
        self.link.pump()
        self.link.advance(60000)
        self.assertIn("CANCEL", methods(self.link, "a"))
        self.assertEqual([e.how for e in events_of(self.a) if isinstance(e, events.CallEnded)], ["cancelled"])
        self.assertEqual(call.state, "ended")

    def test_unanswered_invite_times_out(self):
        self.link.drop = lambda sender, data: sender == "b"
        call = self.a.call("bob", offer().to_bytes(), 0)
        self.link.pump()
        self.link.advance(timers.TIMER_B)
        failed = [e for e in events_of(self.a) if isinstance(e, events.CallFailed)]
        self.assertEqual([e.status for e in failed], [408])
        self.assertEqual(call.state, "ended")


class Provisional(unittest.TestCase):
    def test_183_with_early_media_sdp(self):
        a, b, link = make_pair(proxy_auth=False)
        a.call("bob", offer().to_bytes(), 0)
        link.pump()
        incoming = events_of(b)[0].call
        early = offer(port=7000).to_bytes()
        b.ringing(incoming, 0, 183, early)
        link.pump()
        progress = events_of(a)
        self.assertEqual([(e.status, e.body) for e in progress], [(183, early)])
        resp = link.sent_by("b")[-1]
        self.assertEqual(resp.headers.get("Content-Type"), "application/sdp")
        self.assertIsNotNone(parse_name_addr(resp.headers.get("To")).tag)

    def test_outbound_proxy_route_is_preloaded(self):
        ua = UserAgent(UaConfig("sip:alice@example.test", "alice", "pa", route_set=["<sip:edge.example.test;lr>"]),
                       Counter())
        ua.register(0)
        ua.call("bob", b"", 0)
        for data in ua.data_to_send():
            self.assertEqual(parse_message(data).headers.get_all("Route"), ["<sip:edge.example.test;lr>"])


class Options(unittest.TestCase):
    def test_options_answered_with_allow_and_accept_no_server(self):
        a, b, link = make_pair()
        probe = (b"OPTIONS sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/TLS p.invalid;branch=z9hG4bKopt\r\n"
                 b"Max-Forwards: 70\r\nFrom: <sip:x@example.test>;tag=x\r\nTo: <sip:bob@example.test>\r\n"
                 b"Call-ID: opt1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
        b.receive(probe, 0)
        resp = parse_message(b.data_to_send()[0])
        self.assertEqual(resp.status, 200)
        self.assertIn("INVITE", resp.headers.get("Allow"))
        self.assertIn("BYE", resp.headers.get("Allow"))
        self.assertEqual(resp.headers.get("Accept"), "application/sdp")
        self.assertNotIn("Server", resp.headers)
        self.assertIsNotNone(parse_name_addr(resp.headers.get("To")).tag)

    def test_configured_user_agent_is_sent(self):
        ua = UserAgent(UaConfig("sip:bob@example.test", user_agent="Hushphone/1"), Counter())
        ua.receive(b"OPTIONS sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/TLS p.invalid;branch=z9hG4bKo2\r\n"
                   b"From: <sip:x@e>;tag=x\r\nTo: <sip:bob@example.test>\r\nCall-ID: o\r\nCSeq: 1 OPTIONS\r\n"
                   b"Content-Length: 0\r\n\r\n", 0)
        self.assertEqual(parse_message(ua.data_to_send()[0]).headers.get("Server"), "Hushphone/1")
        ua.register(0)
        self.assertEqual(parse_message(ua.data_to_send()[0]).headers.get("User-Agent"), "Hushphone/1")


class Privacy(unittest.TestCase):
    def test_anonymous_call_withholds_identity(self):
        a, b, link = make_pair(proxy_auth=False, privacy="header;id")
        a.call("sip:bob@example.test", offer().to_bytes(), 0, anonymous=True)
        link.pump()
        invite = link.sent_by("a")[0]
        frm = parse_name_addr(invite.headers.get("From"))
        self.assertEqual(str(frm.uri), "sip:anonymous@anonymous.invalid")
        self.assertEqual(frm.display, "Anonymous")
        self.assertEqual(invite.headers.get("Privacy"), "header;id")
        self.assertNotIn(b"alice", invite.to_bytes())
        self.assertNotIn("P-Preferred-Identity", invite.headers)
        self.assertNotIn("User-Agent", invite.headers)
        contact = parse_name_addr(invite.headers.get("Contact")).uri
        self.assertTrue(contact.host.endswith(".invalid"))
        incoming = events_of(b)[0]
        self.assertIsInstance(incoming, events.IncomingCall)

    def test_preferred_identity_only_when_configured(self):
        a, b, link = make_pair(proxy_auth=False, preferred_identity="<sip:alice@example.test>")
        a.call("bob", offer().to_bytes(), 0)
        link.pump()
        self.assertEqual(link.sent_by("a")[0].headers.get("P-Preferred-Identity"), "<sip:alice@example.test>")

    def test_two_calls_share_no_identifiers(self):
        a, b, link = make_pair(proxy_auth=False)
        a.call("bob", offer().to_bytes(), 0)
        a.call("bob", offer().to_bytes(), 0)
        link.pump()
        first, second = [m for m in link.sent_by("a") if m.is_request and m.method == "INVITE"]

        def ids(m):
            c = parse_name_addr(m.headers.get("Contact")).uri
            return {m.headers.get("Call-ID"), parse_name_addr(m.headers.get("From")).tag,
                    parse_via(m.headers.get("Via")).branch, c.user, c.host, m.headers.get("CSeq").split()[0]}

        self.assertEqual(ids(first) & ids(second), set())


class Keepalive(unittest.TestCase):
    def test_ping_pong_and_dead_flow(self):
        ua = UserAgent(UaConfig("sip:alice@example.test", keepalive_interval=30000), Counter())
        ua.connection_made(0)
        self.assertEqual(ua.get_timer(), 30000)
        ua.handle_timer(30000)
        self.assertEqual(ua.data_to_send(), [b"\r\n\r\n"])
        ua.receive("pong", 30100)
        self.assertFalse(ua.wants_close())
        ua.handle_timer(60000)
        self.assertEqual(ua.data_to_send(), [b"\r\n\r\n"])
        ua.handle_timer(60000 + timers.PONG_TIMEOUT)  # no pong this time
        self.assertTrue(ua.wants_close())
        self.assertFalse(ua.wants_close())  # reported once

    def test_peer_ping_is_answered(self):
        ua = UserAgent(UaConfig("sip:alice@example.test"), Counter())
        ua.receive("ping", 0)
        self.assertEqual(ua.data_to_send(), [b"\r\n"])

    def test_connection_loss_ends_calls_and_schedules_reregistration(self):
        a, b, link = make_pair(proxy_auth=False, backoff_base=1000)
        a.register(0)
        link.pump()
        call = a.call("bob", offer().to_bytes(), 0)
        link.pump()
        events_of(a)
        a.connection_lost(10, "peer reset")
        got = events_of(a)
        self.assertIn("CallFailed", names(got))
        self.assertIn("ConnectionLost", names(got))
        failed = [e for e in got if isinstance(e, events.RegistrationFailed)]
        self.assertEqual(len(failed), 1)
        self.assertTrue(500 <= failed[0].retry_in <= 1000)
        self.assertEqual(call.state, "ended")
        a.connection_made(20)
        link.advance(1000)
        self.assertIn("Registered", names(events_of(a)))


class BadInput(unittest.TestCase):
    def setUp(self):
        self.ua = UserAgent(UaConfig("sip:bob@example.test"), Counter())

    def test_garbage_is_counted_not_raised(self):
        for junk in (b"\x00\xff garbage", b"SIP/2.0 abc\r\n\r\n", b"INVITE\r\n\r\n"):
            self.ua.receive(junk, 0)
        self.assertEqual(self.ua.bad_messages, 3)

    def test_request_missing_call_id_gets_400(self):
        self.ua.receive(b"INVITE sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/TLS p.invalid;branch=z9hG4bKb1\r\n"
                        b"From: <sip:x@e>;tag=x\r\nTo: <sip:bob@example.test>\r\nCSeq: 1 INVITE\r\n"
                        b"Content-Length: 0\r\n\r\n", 0)
        out = self.ua.data_to_send()
        # RFC 4475 §3.3.1: answer 400 with the headers that are there.
        self.assertEqual(len(out), 1)
        self.assertTrue(out[0].startswith(b"SIP/2.0 400 "), out)
        self.assertIn(b"\r\nVia: SIP/2.0/TLS p.invalid;branch=z9hG4bKb1\r\n", out[0])
        self.assertNotIn(b"\r\nCall-ID:", out[0])

    def test_bad_header_gets_400(self):
        self.ua.receive(b"INVITE sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/TLS p.invalid;branch=z9hG4bKb2\r\n"
                        b"From: <sip:x@e>;tag=x\r\nTo: <sip:bob@example.test>\r\nCall-ID: c\r\nCSeq: one INVITE\r\n"
                        b"Content-Length: 0\r\n\r\n", 0)
        out = self.ua.data_to_send()
        self.assertEqual(len(out), 1)
        self.assertTrue(out[0].startswith(b"SIP/2.0 400 "), out)
        self.assertIn(b"\r\nCSeq: one INVITE\r\n", out[0])  # echoed as received (RFC 3261 §8.2.6.2)

    def test_unknown_dialog_and_methods(self):
        def req(method, to_tag="", extra=b""):
            return (method.encode() + b" sip:bob@example.test SIP/2.0\r\n"
                    b"Via: SIP/2.0/TLS p.invalid;branch=z9hG4bK" + str(len(extra)).encode() + method.encode()
                    + to_tag.encode() + b"\r\n"
                    b"From: <sip:x@e>;tag=x\r\nTo: <sip:bob@example.test>" + (b";tag=" + to_tag.encode() if to_tag else b"")
                    + b"\r\nCall-ID: c\r\nCSeq: 1 " + method.encode() + b"\r\n" + extra + b"Content-Length: 0\r\n\r\n")

        cases = [(req("BYE", "nope"), 481), (req("BYE"), 481), (req("REGISTER"), 405), (req("FOO"), 501),
                 (req("INVITE", extra=b"Require: 100rel\r\n"), 420)]
        for data, status in cases:
            self.ua.receive(data, 0)
            got = [parse_message(d).status for d in self.ua.data_to_send()]
            self.assertEqual(got[-1], status, data)
        self.assertEqual(self.ua.calls, [])

    def test_misuse_raises_local_error(self):
        from hushphone.sip.message import LocalSipError

        a, b, link = make_pair(proxy_auth=False)
        call = a.call("bob", offer().to_bytes(), 0)
        with self.assertRaises(LocalSipError):
            a.answer(call, b"", 0)
        with self.assertRaises(LocalSipError):
            a.reinvite(call, b"", 0)
        with self.assertRaises(LocalSipError):
            a.call("sip:bob@exa mple.test", b"", 0)
        self.assertEqual(len(a.calls), 1)
