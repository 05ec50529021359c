# Mutation fuzzing of the user agent as the phone drives it (issue 11).
# A real exchange is recorded once: two agents register with a digest
# challenge, call through an authenticating, record-routing proxy (407,
# 100, 180, 200, ACK), re-INVITE and hang up; what each agent received is
# kept with the actions it took. A scenario replays one side's part from
# a fresh agent with the same random source (so tags, branches and nonces
# match), exact up to a chosen message; from there every message is
# mutated with even odds (the mutations of test_sip_message_fuzz plus its
# hostile shapes) and delivered whole or through the StreamParser in
# random chunks (a fatal framing error drops the "connection", as the
# transport does). On every event a phone-like driver acts as app/phone.py
# does: the offer goes through sdp.answer (a refused offer is rejected
# 488), then ringing/answer/reject/hang up, accept or refuse re-INVITEs,
# re-INVITE and hang up established calls; the clock jumps and timers
# fire in between. Checked for every input:
#  - receive(), handle_timer(), next_event() and the StreamParser raise
#    nothing (the peer's errors are handled inside, errors.py);
#  - the actions raise nothing but LocalSipError, and that only when the
#    call is not in the state the action needs;
#  - once every timer has run out (10 minutes later), no server
#    transaction is left behind.
import unittest

from hushphone import sdp
from hushphone.sip.message import LocalSipError, SipParseError, StreamParser
from hushphone.sip.useragent import UaConfig, UserAgent

import test_sip_message_fuzz as mfuzz
from sip_fakelink import Counter, FakeLink, FakeRegistrar, events_of

SUITES = sdp.DEFAULT_SUITES
OFFER_SD = sdp.build_offer("192.0.2.1", 4000, ["PCMU", "PCMA"], SUITES, Counter(b"offer"),
                           zrtp_hash="1.10 " + "ab" * 32, session_id=5)
OFFER = OFFER_SD.to_bytes()
SEEDS = {"a": b"fuzz-a", "b": b"fuzz-b"}
CONFIGS = {
    "a": ("sip:alice@example.test", "alice", "pa"),
    "b": ("sip:bob@example.test", "bob", "pb"),
}


class FuzzFailure(AssertionError):
    pass


def new_agent(side):
    aor, user, password = CONFIGS[side]
    ua = UserAgent(UaConfig(aor, user, password), Counter(SEEDS[side]))
    ua.connection_made(0)
    return ua


_ANSWERS = {}


def phone_answer(body):
    """What app/phone.py does with an offer: sdp.answer, or None when it
    refuses it (SdpError: the call is rejected 488). The same offer gets
    the same answer: kept, so replays do not pay for it again."""
    if body in _ANSWERS:
        return _ANSWERS[body]
    try:
        answer, _ = sdp.answer(body, "192.0.2.2", 5000, ["PCMU", "PCMA"], SUITES, Counter(b"ans"),
                               zrtp_hash="1.10 " + "cd" * 32)
        answer = answer.to_bytes()
    except sdp.SdpError:
        answer = None
    if len(_ANSWERS) > 50:
        _ANSWERS.clear()
    _ANSWERS[body] = answer
    return answer


class Recorder(FakeLink):
    """FakeLink that keeps, per agent, the steps it lived through:
    ("msg", bytes received) and ("api", name) in order."""

    def __init__(self, *args, **kwargs):
        FakeLink.__init__(self, *args, **kwargs)
        self.steps = {"a": [], "b": []}

    def _deliver(self, name, data):
        self.steps[name].append(("msg", data))
        FakeLink._deliver(self, name, data)


def normal_phone(ua, side, state, now):
    """The expected behaviour (used while recording and while replaying the
    exact prefix): ring and answer a good offer, accept re-INVITEs."""
    for ev in events_of(ua):
        kind = type(ev).__name__
        if kind == "IncomingCall":
            state["call"] = ev.call
            body = phone_answer(ev.body)
            if body is None:
                ua.reject(ev.call, now, 488)
            else:
                ua.ringing(ev.call, now)
                ua.answer(ev.call, body, now)
        elif kind == "UpdateRequested":
            body = phone_answer(ev.body)
            if body is None:
                ua.reject_update(ev.call, now, 488)
            else:
                ua.accept_update(ev.call, body, now)


API = {
    "register": lambda ua, state, now: ua.register(now),
    "call": lambda ua, state, now: state.__setitem__("call", ua.call("bob", OFFER, now)),
    "reinvite": lambda ua, state, now: ua.reinvite(state["call"], OFFER, now),
    "hangup": lambda ua, state, now: ua.hangup(state["call"], now),
}

_RECORDED = None


def recorded():
    """{side: [steps]} of one real exchange (made once per process)."""
    global _RECORDED
    if _RECORDED is not None:
        return _RECORDED
    reg = FakeRegistrar({"alice": "pa", "bob": "pb"})
    a, b = new_agent("a"), new_agent("b")
    link = Recorder(a, b, reg, record_route=["<sip:p.example.test;transport=tls;lr>"], proxy_auth=True)
    states = {"a": {}, "b": {}}

    def api(side, name):
        link.steps[side].append(("api", name))
        API[name](link.ua[side], states[side], link.now)
        settle()

    def settle():
        for _ in range(10):
            link.pump()
            normal_phone(a, "a", states["a"], link.now)
            normal_phone(b, "b", states["b"], link.now)
            if not a.has_pending_output() and not b.has_pending_output():
                return

    api("a", "register")
    api("b", "register")
    api("a", "call")
    api("a", "reinvite")
    api("b", "reinvite")
    api("a", "hangup")
    if states["a"]["call"].state != "ended" or len(link.steps["a"]) < 10 or len(link.steps["b"]) < 8:
        raise AssertionError("the recorded exchange did not complete")
    _RECORDED = link.steps
    return _RECORDED


class Scenario:
    def __init__(self, rng, pool, stats):
        self.rng = rng
        self.pool = pool
        self.stats = stats
        self.now = 0
        self.state = {}
        self.parser = None
        self.trace = []

    def fail(self, what):
        raise FuzzFailure("%s after %r" % (what, self.trace[-6:]))

    def act(self, ua, what, action, call=None, states=None):
        """An action as the phone takes it: LocalSipError only when the
        call is no longer in a state it fits (the phone logs a race)."""
        try:
            action()
        except LocalSipError:
            if call is not None and states is not None and call.state in states:
                self.fail("LocalSipError from %s on a call in state %s" % (what, call.state))
            self.stats["local_errors"] += 1
        except Exception as e:
            self.fail("%s escaped %s" % (type(e).__name__, what))

    def drive(self, ua, random_phone):
        """Act on every event: normally while replaying the prefix, by
        chance after the first mutation."""
        if not random_phone:
            try:
                normal_phone(ua, None, self.state, self.now)
            except LocalSipError:
                self.stats["local_errors"] += 1
            except Exception as e:
                self.fail("%s escaped the normal phone" % type(e).__name__)
            return
        rng, now = self.rng, self.now
        for _ in range(50):
            try:
                ev = ua.next_event()
            except Exception as e:
                self.fail("%s escaped next_event" % type(e).__name__)
            if ev is None:
                return
            self.stats["events"] += 1
            kind = type(ev).__name__
            call = getattr(ev, "call", None)
            if kind == "IncomingCall":
                self.state["call"] = call
                body = phone_answer(ev.body)
                choice = rng.below(6)
                if body is None:
                    self.act(ua, "reject", lambda: ua.reject(call, now, 488))
                elif choice == 0:
                    self.act(ua, "reject", lambda: ua.reject(call, now, (486, 603, 480)[rng.below(3)]))
                elif choice == 1:
                    self.act(ua, "hangup", lambda: ua.hangup(call, now))
                elif choice == 2:
                    self.act(ua, "ringing", lambda: ua.ringing(call, now), call, ("incoming",))
                    self.stats["left_ringing"] += 1
                else:
                    self.act(ua, "ringing", lambda: ua.ringing(call, now), call, ("incoming",))
                    self.act(ua, "answer", lambda: ua.answer(call, body, now), call, ("incoming",))
            elif kind == "UpdateRequested":
                body = phone_answer(ev.body)
                if body is None or rng.below(4) == 0:
                    self.act(ua, "reject_update", lambda: ua.reject_update(call, now, 488))
                else:
                    self.act(ua, "accept_update", lambda: ua.accept_update(call, body, now))
            elif kind in ("CallAnswered", "CallConfirmed", "CallUpdated"):
                if kind != "CallConfirmed":
                    try:  # the phone takes the answer to its offer
                        sdp.process_answer(OFFER_SD, ev.body)
                    except sdp.SdpError:
                        self.act(ua, "hangup", lambda: ua.hangup(call, now))  # "media refused"
                        continue
                    except Exception as e:
                        self.fail("%s escaped process_answer" % type(e).__name__)
                choice = rng.below(4)
                if choice == 0:
                    self.act(ua, "hangup", lambda: ua.hangup(call, now))
                elif choice == 1:
                    self.act(ua, "reinvite", lambda: ua.reinvite(call, OFFER, now))

    def deliver(self, ua, data, mutated):
        """One message, whole or through the framer in random chunks."""
        if mutated:
            self.stats["inputs"] += 1
        self.trace.append(data[:300])
        if self.rng.below(2) == 0:
            try:
                ua.receive(data, self.now)
            except Exception as e:
                self.fail("%s escaped receive" % type(e).__name__)
            return
        if self.parser is None:
            self.parser = StreamParser()
        pos = 0
        for _ in range(len(data) + 1):
            if pos >= len(data):
                break
            n = 1 + self.rng.below(1500)
            try:
                self.parser.feed(data[pos : pos + n])
                for _ in range(len(data) + 2):
                    item = self.parser.next_event()
                    if item is None:
                        break
                    ua.receive(item, self.now)
            except SipParseError as e:
                if not e.fatal:
                    self.fail("non-fatal SipParseError raised by the framer")
                # The transport drops the connection: the UA hears of it.
                self.stats["dropped"] += 1
                self.parser = None
                ua.connection_lost(self.now, "bad framing")
                ua.connection_made(self.now)
                return
            except Exception as e:
                self.fail("%s escaped the framer or receive" % type(e).__name__)
            pos += n

    def tick(self, ua, jump):
        self.now += jump
        for _ in range(20):
            try:
                t = ua.get_timer()
                if t is None or t > self.now:
                    return
                ua.handle_timer(self.now)
            except Exception as e:
                self.fail("%s escaped the timers" % type(e).__name__)
            self.stats["timers"] += 1
        ua.data_to_send()

    def run(self, side):
        steps = recorded()[side]
        ua = new_agent(side)
        rng = self.rng
        start = rng.below(len(steps))
        for k in range(len(steps)):
            kind, item = steps[k]
            live = k >= start
            if kind == "api":
                if item in ("reinvite", "hangup") and "call" not in self.state:
                    continue  # no call came about: the phone has nothing to act on
                self.act(ua, item, lambda: API[item](ua, self.state, self.now), None, None)
            elif live and rng.below(2) == 0:
                data = item
                for _ in range(1 + rng.below(2)):
                    data = mfuzz.mutate(data, rng, self.pool)
                self.deliver(ua, data, True)
            else:
                self.deliver(ua, item, False)
            ua.data_to_send()
            self.drive(ua, live)
            if live:
                self.tick(ua, (0, 0, 10, 500, 4000, 33000)[rng.below(6)])
        # The user hangs up what is left (a call left ringing, the held
        # one), then everything runs out: 10 minutes in steps no timer
        # outlasts.
        for call in ua.calls:
            self.act(ua, "hangup", lambda: ua.hangup(call, self.now))
        end = self.now + 600000
        for _ in range(60):
            t = ua.get_timer()
            if t is None or t > end:
                break
            self.tick(ua, max(0, t - self.now))
            self.drive(ua, True)
        ua.data_to_send()
        if ua._tx.server:
            self.fail("server transactions left after 10 minutes: %r" % [t.state for t in ua._tx.server.values()])


def pool():
    """What mutations splice from: the recorded messages, the torture
    corpus and the hostile messages."""
    import sip_adversarial

    steps = recorded()
    out = [item for side in ("a", "b") for kind, item in steps[side] if kind == "msg"]
    return out + mfuzz.seeds() + [data for _, data in sip_adversarial.cases()]


def run(count, seed):
    """Scenarios until `count` mutated messages went in. Returns stats."""
    rng = mfuzz.Rng(seed)
    stats = {"inputs": 0, "scenarios": 0, "events": 0, "timers": 0, "dropped": 0, "local_errors": 0,
             "left_ringing": 0}
    messages = pool()
    for _ in range(count * 4 + 10):
        if stats["inputs"] >= count:
            break
        Scenario(rng, messages, stats).run("ab"[rng.below(2)])
        stats["scenarios"] += 1
    return stats


class UaFuzz(unittest.TestCase):
    def test_recorded_exchange_replays_exactly(self):
        # Without mutations a fresh agent with the same random source lives
        # the same call again: the replay reaches the dialog's depths.
        for side in ("a", "b"):
            s = Scenario(mfuzz.Rng(1), [], {"inputs": 0, "events": 0, "timers": 0, "dropped": 0,
                                            "local_errors": 0, "left_ringing": 0})
            ua = new_agent(side)
            seen = []
            for kind, item in recorded()[side]:
                if kind == "api":
                    API[item](ua, s.state, 0)
                else:
                    ua.receive(item, 0)
                ua.data_to_send()
                for ev in events_of(ua):
                    seen.append(type(ev).__name__)
                    ua._events.append(ev)
                    break
                normal_phone(ua, side, s.state, 0)
            self.assertEqual(ua.bad_messages, 0, side)
            self.assertEqual(s.state["call"].state, "ended", side)
            self.assertIn("Registered", seen, side)

    def test_small_run(self):
        stats = run(300, 20261207)
        self.assertGreaterEqual(stats["inputs"], 300)
        self.assertGreater(stats["events"], 100)
        self.assertGreater(stats["timers"], 100)
        self.assertGreater(stats["dropped"], 5)

    def test_detects_an_escaping_exception(self):
        # The checker must notice an agent that lets an error out.
        recorded()
        saved = UserAgent._on_request

        def broken(self, request, now):
            raise IndexError("simulated bug")

        UserAgent._on_request = broken
        try:
            with self.assertRaises(FuzzFailure):
                run(50, 3)
        finally:
            UserAgent._on_request = saved
