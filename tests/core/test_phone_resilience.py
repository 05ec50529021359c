# The phone app survives one bad event: a MemoryError or a bug while
# handling a call ends that call cleanly (BYE / an error response, the
# reason on the display and in the log, no data from the failure) and the
# phone stays registered; the next call works. Two real Phone apps (sim
# HAL, real UDP media on loopback, SDES-SRTP) joined by the fake SIP link
# of the UA tests; faults are injected by replacing one handler on the
# instance or through the phone's own test hook.
import json
import os
import time
import unittest

import asyncio

from hushphone.app import callcontrol as cc
from hushphone.app.console import EVENT_PREFIX
from hushphone.app.phone import Phone
from hushphone.crypto.random import random_bytes
from hushphone.hal.unix import board
from hushphone.sip.useragent import UaConfig, UserAgent

from sip_fakelink import Counter, FakeLink, FakeRegistrar

USERS = {"alice": "pa", "bob": "pb"}


def _hex(b):
    import binascii

    return binascii.hexlify(b).decode()


def make_phone(root, user, **extra):
    os.mkdir(root)
    config = {"root": root, "name": user, "tone_hz": 1000 if user == "alice" else 1500, "zrtp": False,
              "contacts_path": root + "/contacts.vcf", "media_host": "127.0.0.1"}
    config.update(extra)
    hal = board.build(config, out=lambda text: None)
    hal.clock.set_unix_time(time.time())
    lines = []
    phone = Phone(hal, config, out=lines.append)
    # The app's own UA, carried by the fake link instead of TLS.
    phone.ua = UserAgent(UaConfig("sip:%s@example.test" % user, user, USERS[user]), Counter(user.encode()))
    phone.missing = None
    phone.lines_out = lines
    return phone


def events_named(phone, name):
    out = []
    for line in phone.lines_out:
        if line.startswith(EVENT_PREFIX):
            e = json.loads(line[len(EVENT_PREFIX):])
            if e["event"] == name:
                out.append(e)
    return out


def boom(*args, **kwargs):
    raise MemoryError("memory allocation failed, allocating 8400 bytes")


def bug(*args, **kwargs):
    raise KeyError("secret-password")  # the message must never reach the log


class Resilience(unittest.TestCase):
    def setUp(self):
        self.dir = "/tmp/hush_resilience_" + _hex(random_bytes(6))
        os.mkdir(self.dir)
        self.alice = make_phone(self.dir + "/alice", "alice", test_hooks=True)
        self.bob = make_phone(self.dir + "/bob", "bob")
        self.link = FakeLink(self.alice.ua, self.bob.ua, FakeRegistrar(USERS))
        for p in (self.alice, self.bob):
            p.ua.connection_made(0)
            p.ua.register(0)
        self.settle()
        for p in (self.alice, self.bob):
            self.assertEqual(p.view.registration, "registered")

    def tearDown(self):
        for p in (self.alice, self.bob):
            for line in p.calls.lines:
                if line.ref is not None:
                    line.ref[1].close()

    def settle(self):
        """Carry SIP both ways and hand each UA's events to its phone."""
        for _ in range(20):
            self.link.pump()
            moved = False
            for p in (self.alice, self.bob):
                while True:
                    ev = p.ua.next_event()
                    if ev is None:
                        break
                    moved = True
                    p.sip.on_event(ev)
            if not moved:
                return

    def tick(self, ms):
        """Run both phones' 20 ms loops for about `ms` (real UDP media)."""
        for _ in range(ms // 20):
            for p in (self.alice, self.bob):
                p._tick(p.now())
            self.settle()
            time.sleep(0.02)

    def call(self):
        rang = len(events_named(self.bob, "incoming"))
        self.alice.dial("bob")
        self.settle()
        self.assertEqual(len(events_named(self.bob, "incoming")), rang + 1)
        self.bob.key("ANSWER")
        self.settle()
        self.assertEqual(self.alice.calls.state, cc.IN_CALL)
        self.assertEqual(self.bob.calls.state, cc.IN_CALL)
        self.tick(400)
        for p in (self.alice, self.bob):
            stats = p.calls.current.ref[1].stats()
            self.assertGreater(stats["received"], 5, stats)  # audio flows both ways

    def assert_survived(self, phone, reason, ended_before):
        ended = events_named(phone, "ended")
        self.assertEqual(len(ended), ended_before + 1)
        self.assertEqual(ended[-1]["reason"], reason)
        self.assertEqual(phone.view.message, "Call failed: " + reason)
        self.assertEqual(phone.calls.lines, [])
        self.assertEqual(phone.calls.state, cc.IDLE)
        self.assertEqual(phone.view.registration, "registered")
        self.assertEqual(phone.ua.registration.state, "registered")
        for line in phone.lines_out:
            self.assertNotIn("secret-password", line)
            self.assertNotIn("8400", line)  # the exception's text is not logged

    def test_memory_error_in_the_media_ends_that_call_with_bye_and_the_next_call_works(self):
        self.call()
        media = self.alice.calls.current.ref[1]
        media.drain = boom  # the next tick's packet handling runs out of memory
        self.tick(40)
        self.assert_survived(self.alice, "out of memory", 0)
        fault = events_named(self.alice, "fault")[-1]
        self.assertEqual((fault["where"], fault["error"], fault["reason"]), ("media", "MemoryError", "out of memory"))
        self.assertIsNone(media.session)  # released at once
        bye = [m for m in self.link.sent_by("a") if m.is_request and m.method == "BYE"]
        self.assertEqual(len(bye), 1)
        self.assertEqual(events_named(self.bob, "ended")[-1]["reason"], "ended by peer")
        self.assertEqual(self.bob.calls.lines, [])
        self.call()  # the phone is still fully usable
        self.alice.key("HANGUP")
        self.settle()
        self.assertEqual(events_named(self.bob, "ended")[-1]["reason"], "ended by peer")

    def test_the_test_hook_injects_a_memory_error_in_the_media(self):
        self.call()
        self.alice.command("inject media")
        self.tick(40)
        self.assert_survived(self.alice, "out of memory", 0)
        self.assertEqual(len(events_named(self.bob, "ended")), 1)
        self.call()

    def test_a_bug_while_answering_refuses_the_call_with_500(self):
        self.bob._do_answer = bug
        self.alice.dial("bob")
        self.settle()
        self.bob.key("ANSWER")
        self.settle()
        self.assert_survived(self.bob, "internal error", 0)
        self.assertEqual(events_named(self.bob, "fault")[-1]["error"], "KeyError")
        self.assertEqual(events_named(self.alice, "ended")[-1]["reason"], "failed (500)")
        del self.bob._do_answer
        self.call()

    def test_a_memory_error_on_an_incoming_invite_is_answered_500(self):
        self.bob.sip.incoming = boom
        self.alice.dial("bob")
        self.settle()
        self.assertEqual(events_named(self.alice, "ended")[-1]["reason"], "failed (500)")
        self.assertEqual(events_named(self.bob, "fault")[-1]["reason"], "out of memory")
        self.assertEqual(self.bob.calls.lines, [])
        del self.bob.sip.incoming
        self.call()

    def test_a_bug_in_a_call_event_ends_the_call_with_bye(self):
        self.call()
        self.alice.key("HOLD")  # bob handles the re-INVITE: a bug there
        self.bob.sip.peer_update = bug
        self.settle()
        self.assert_survived(self.bob, "internal error", 0)
        self.assertEqual(events_named(self.alice, "ended")[-1]["reason"], "ended by peer")
        del self.bob.sip.peer_update
        self.call()

    def test_repeated_failures_ask_for_a_sip_restart_then_give_up(self):
        now = 1000
        for _ in range(5):
            self.alice.supervisor.note_fault(MemoryError(), "loop", now)
        self.assertEqual(len(events_named(self.alice, "sip_restart")), 1)
        self.assertIsNotNone(self.alice.supervisor.restart_at)
        self.assertFalse(self.alice.supervisor.give_up)
        for i in range(2):  # two more rounds of restarts...
            self.alice.supervisor.restart_at = None
            for _ in range(5):
                self.alice.supervisor.note_fault(MemoryError(), "loop", now + i)
        self.assertEqual(len(events_named(self.alice, "sip_restart")), 3)
        self.alice.supervisor.restart_at = None
        for _ in range(5):  # ...and the next one is a crash loop
            self.alice.supervisor.note_fault(MemoryError(), "loop", now + 3)
        self.assertTrue(self.alice.supervisor.give_up)


class Restart(unittest.TestCase):
    def test_a_failed_reinitialisation_is_retried_not_fatal(self):
        root = "/tmp/hush_restart_" + _hex(random_bytes(6))
        os.mkdir(root)
        phone = make_phone(root + "/p", "alice")
        phone.transport = None  # as a re-initialisation that failed half-way leaves it
        calls = []

        def make_sip():
            calls.append(1)
            raise MemoryError("no memory for the TLS context")

        phone.sip.make = make_sip

        async def main():
            now = 0
            for _ in range(2):  # each round: schedule, wait out the backoff, try (a third restart would give up)
                await phone.supervisor.supervise(now)
                now = phone.supervisor.restart_at if phone.supervisor.restart_at is not None else now
                await phone.supervisor.supervise(now)

        asyncio.run(main())
        self.assertGreaterEqual(len(calls), 2)  # tried again, the app still runs
        wheres = [e["where"] for e in events_named(phone, "fault")]
        self.assertIn("restart", wheres)
        self.assertNotIn("AttributeError", [e["error"] for e in events_named(phone, "fault")])


class _Console:
    """Lines for the app's console; closed after `polls` polls."""

    def __init__(self, lines, polls):
        self.lines = lines
        self.polls = polls
        self.closed = False

    def poll(self):
        self.polls -= 1
        if self.polls <= 0:
            self.closed = True
        out, self.lines = self.lines, []
        return out


class Supervisor(unittest.TestCase):
    def test_the_main_loop_survives_failing_ticks(self):
        root = "/tmp/hush_supervisor_" + _hex(random_bytes(6))
        os.mkdir(root)
        phone = make_phone(root + "/p", "alice", test_hooks=True)
        phone.ua = None  # no SIP: only the loop itself
        phone.missing = "no SIP account"
        console = _Console(["inject loop 3", "stats"], 10)
        asyncio.run(phone.run(console))
        faults = events_named(phone, "fault")
        self.assertEqual(len(faults), 3)
        self.assertEqual(faults[0]["where"], "loop")
        self.assertEqual(len(events_named(phone, "stats")), 1)
        self.assertEqual(len(events_named(phone, "stopped")), 1)

    def test_the_idle_phone_fills_its_zrtp_key_pool_and_a_pool_without_memory_pauses(self):
        root = "/tmp/hush_keypool_" + _hex(random_bytes(6))
        os.mkdir(root)
        phone = make_phone(root + "/p", "alice", zrtp=True)
        phone.ua = None
        phone.missing = "no SIP account"
        pool = phone.zrtp.keypool
        for _ in range(31):  # one pair per 10 ticks while idle: 2 X25519 and 1 DH-3072
            phone._tick(phone.now())
        self.assertTrue(pool.full())
        tries = []

        class NoMemory:
            def refill_one(self):
                tries.append(phone._ticks)
                raise MemoryError("memory allocation failed, allocating 768 bytes")

        phone.zrtp.keypool = NoMemory()
        for _ in range(200):
            phone._tick(phone.now())
        self.assertEqual(len(tries), 1)  # then a pause, not a failure every 200 ms
        self.assertEqual(events_named(phone, "fault"), [])  # and no fault: SIP is never restarted for it
        phone._ticks += 1500  # 30 s later it tries again
        phone._tick(phone.now())
        self.assertEqual(len(tries), 2)


if __name__ == "__main__":
    unittest.main()
