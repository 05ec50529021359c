# RFC 3261 §10 registration against a registrar that really checks digest
# credentials: challenge and answer, refresh timing, fresh identifiers per
# registration, stale nonces, wrong passwords, backoff with jitter and cap.
import unittest

from hushphone.sip import events, timers
from hushphone.sip.message import parse_message, parse_name_addr
from hushphone.sip.registration import Registration, refresh_delay
from hushphone.sip.transaction import make_response

from sip_fakelink import Counter, FakeRegistrar

AOR = "sip:alice@example.test"


class Harness:
    """One Registration talking to a FakeRegistrar directly (no transport)."""

    def __init__(self, password="pw", **kwargs):
        self.registrar = FakeRegistrar({"alice": "pw"}, **kwargs)
        self.reg = Registration(AOR, "sip:example.test", "alice", password, Counter(), 600,
                                backoff_base=1000, backoff_max=8000)
        self.sent = []

    def exchange(self, request, now):
        """Send `request` and follow the registrar's answers; the event."""
        event = None
        for _ in range(5):
            if request is None:
                return event
            self.sent.append(request)
            response = parse_message(self.registrar.handle(parse_message(request.to_bytes())))
            request, event = self.reg.on_response(response, now)
        raise AssertionError("registration loop")


class Register(unittest.TestCase):
    def test_challenge_then_registered_and_refreshed_before_expiry(self):
        h = Harness()
        event = h.exchange(h.reg.start(0), 0)
        self.assertIsInstance(event, events.Registered)
        self.assertEqual(event.expires, 600)
        self.assertEqual([s for s, _ in h.registrar.seen], [401, 200])
        self.assertEqual(h.reg.timer, refresh_delay(600))
        first = h.sent[0]
        self.assertIn("Authorization", h.sent[1].headers)
        self.assertEqual(h.sent[1].headers.get("Call-ID"), first.headers.get("Call-ID"))
        # refresh: same Call-ID and contact, higher CSeq
        refresh = h.reg.handle_timer(h.reg.timer)
        self.assertIsNotNone(refresh)
        self.assertEqual(refresh.headers.get("Call-ID"), first.headers.get("Call-ID"))
        self.assertEqual(refresh.headers.get("Contact"), first.headers.get("Contact"))
        self.assertIsInstance(h.exchange(refresh, 300000), events.Registered)

    def test_refresh_delay_policy(self):
        self.assertEqual(refresh_delay(3600), 1800000)  # expires/2
        self.assertEqual(refresh_delay(600), 300000)
        self.assertEqual(refresh_delay(50), 20000)  # expires - 30 s
        self.assertEqual(refresh_delay(20), 5000)  # never sooner than expires/4

    def test_granted_expiry_from_the_contact_is_used(self):
        h = Harness(expires=120)
        event = h.exchange(h.reg.start(0), 0)
        self.assertEqual(event.expires, 120)
        self.assertEqual(h.reg.timer, refresh_delay(120))

    def test_each_registration_gets_fresh_identifiers(self):
        h = Harness()
        h.exchange(h.reg.start(0), 0)
        first = h.sent[-1]
        h.exchange(h.reg.stop(10), 10)
        self.assertEqual(h.sent[-1].headers.get("Expires"), "0")
        self.assertEqual(h.registrar.bindings, {})
        h.exchange(h.reg.start(20), 20)
        second = h.sent[-1]
        for name in ("Call-ID",):
            self.assertNotEqual(first.headers.get(name), second.headers.get(name))
        a = parse_name_addr(first.headers.get("Contact")).uri
        b = parse_name_addr(second.headers.get("Contact")).uri
        self.assertNotEqual(a.user, b.user)
        self.assertNotEqual(a.host, b.host)
        self.assertTrue(b.host.endswith(".invalid"))
        self.assertNotEqual(parse_name_addr(first.headers.get("From")).tag,
                            parse_name_addr(second.headers.get("From")).tag)
        self.assertNotIn("User-Agent", second.headers)

    def test_stale_nonce_is_answered_without_failing(self):
        h = Harness()
        h.registrar.stale_next = True
        event = h.exchange(h.reg.start(0), 0)
        self.assertIsInstance(event, events.Registered)
        self.assertEqual([s for s, _ in h.registrar.seen], [401, 401, 200])

    def test_wrong_password_fails_once_and_is_not_retried(self):
        h = Harness(password="wrong")
        event = h.exchange(h.reg.start(0), 0)
        self.assertIsInstance(event, events.RegistrationFailed)
        self.assertEqual(event.status, 401)
        self.assertIsNone(event.retry_in)
        self.assertEqual(len(h.sent), 2)  # one answer to one challenge, then stop
        self.assertIsNone(h.reg.timer)

    def test_challenge_without_credentials_fails_without_retry(self):
        reg = Registration(AOR, "sip:example.test", None, None, Counter())
        req = reg.start(0)
        challenge = make_response(req, 401, None, "r")
        challenge.headers.add("WWW-Authenticate", 'Digest realm="r", nonce="n"')
        again, event = reg.on_response(challenge, 0)
        self.assertIsNone(again)
        self.assertEqual((event.status, event.retry_in), (401, None))
        self.assertIn("no", event.reason)

    def test_interval_too_brief_retries_with_min_expires(self):
        h = Harness()
        req = h.reg.start(0)
        resp = make_response(req, 423, None, "r")
        resp.headers.add("Min-Expires", "900")
        again, event = h.reg.on_response(resp, 0)
        self.assertIsNone(event)
        self.assertEqual(again.headers.get("Expires"), "900")


class Backoff(unittest.TestCase):
    def test_exponential_with_jitter_and_cap(self):
        h = Harness()
        req = h.reg.start(0)
        waits = []
        now = 0
        for _ in range(6):
            _, event = h.reg.on_response(make_response(req, 503, None, "r"), now)
            self.assertIsInstance(event, events.RegistrationFailed)
            waits.append(event.retry_in)
            self.assertEqual(h.reg.timer, now + event.retry_in)
            now = h.reg.timer
            req = h.reg.handle_timer(now)  # a new registration after the wait
            self.assertIsNotNone(req)
        bounds = [1000, 2000, 4000, 8000, 8000, 8000]
        for wait, bound in zip(waits, bounds):
            self.assertGreaterEqual(wait, bound // 2)
            self.assertLessEqual(wait, bound)
        self.assertTrue(len(set(waits[3:])) > 1, waits)  # jitter from the random source

    def test_lost_connection_reregisters_with_new_identity(self):
        h = Harness()
        h.exchange(h.reg.start(0), 0)
        old = h.sent[-1].headers.get("Call-ID")
        event = h.reg.connection_lost(100, "reset by peer")
        self.assertIsInstance(event, events.RegistrationFailed)
        self.assertEqual(event.reason, "reset by peer")
        self.assertLessEqual(event.retry_in, 1000)
        self.assertIsNone(h.reg.connection_lost(101, "again"))  # already waiting
        req = h.reg.handle_timer(h.reg.timer)
        self.assertNotEqual(req.headers.get("Call-ID"), old)
        self.assertIsInstance(h.exchange(req, 2000), events.Registered)
        self.assertEqual(h.reg.failures, 0)

    def test_defaults_are_rfc5626_like(self):
        self.assertEqual(timers.BACKOFF_BASE, 30000)
        self.assertEqual(timers.BACKOFF_MAX, 1800000)
