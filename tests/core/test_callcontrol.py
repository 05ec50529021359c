# Call control transitions, sans-IO: outgoing, incoming, busy, decline,
# remote hang-up, hold/resume, mute, DTMF, call waiting.
import unittest

from hushphone.app import callcontrol as cc
from hushphone.app.callcontrol import CallControl, CallControlError


def drain(calls):
    out = []
    while True:
        a = calls.next_action()
        if a is None:
            return out
        out.append(a)


def kinds(actions):
    return [a[0] for a in actions]


class OutgoingTest(unittest.TestCase):
    def test_dial_by_keys_then_answered_then_hang_up(self):
        c = CallControl()
        self.assertEqual(c.state, cc.IDLE)
        for k in "12":
            self.assertTrue(c.key(k, 0))
        self.assertEqual(c.state, cc.DIALING)
        c.key("3", 0)
        c.key("BACK", 0)
        self.assertEqual(c.dial_buffer, "12")
        c.key("CALL", 100)
        a = drain(c)
        self.assertEqual(kinds(a), ["invite"])
        line = a[0][1]
        self.assertEqual(a[0][2], "12")
        self.assertEqual(c.state, cc.CALLING)
        c.remote_ringing(line)
        self.assertTrue(line.remote_ringing)
        c.answered(line, 1000)
        self.assertEqual(c.state, cc.IN_CALL)
        self.assertEqual(line.duration_ms(61000), 60000)
        c.key("HANGUP", 5000)
        a = drain(c)
        self.assertEqual(kinds(a), ["hangup", "ended"])
        self.assertEqual(line.state, cc.ENDED)
        self.assertEqual(line.end_reason, "hung up")
        self.assertEqual(c.state, cc.IDLE)
        self.assertEqual(line.duration_ms(99999), 4000)

    def test_busy_and_declined_outgoing(self):
        for status, text in ((486, "busy"), (603, "declined"), (404, "not found"), (500, "failed (500)")):
            c = CallControl()
            line = c.dial("bob", 0)
            drain(c)
            c.failed(line, status, 10)
            self.assertEqual(kinds(drain(c)), ["ended"])
            self.assertEqual(line.end_reason, text)
            self.assertEqual(c.state, cc.IDLE)
            self.assertIs(c.last_ended, line)

    def test_cancel_before_answer(self):
        c = CallControl()
        line = c.dial("bob", 0)
        drain(c)
        c.key("HANGUP", 10)
        self.assertEqual(kinds(drain(c)), ["hangup", "ended"])
        self.assertEqual(line.state, cc.ENDED)

    def test_misuse(self):
        c = CallControl()
        self.assertRaises(CallControlError, c.dial, "", 0)
        c.dial("bob", 0)
        self.assertRaises(CallControlError, c.dial, "carol", 0)
        self.assertRaises(CallControlError, CallControl, 0)
        ringing = CallControl()
        line = ringing.incoming("x", 0)
        self.assertRaises(CallControlError, ringing.answered, line, 0)

    def test_keys_that_make_no_sense_are_ignored(self):
        c = CallControl()
        for k in ("HOLD", "MUTE", "DECLINE", "OK", "BACK", "HANGUP", "FOO"):
            self.assertFalse(c.key(k, 0), k)
        self.assertEqual(drain(c), [])


class IncomingTest(unittest.TestCase):
    def test_ring_answer_remote_hangup(self):
        c = CallControl()
        line = c.incoming("alice", 0)
        self.assertEqual(kinds(drain(c)), ["ring"])
        self.assertEqual(c.state, cc.RINGING)
        self.assertFalse(line.waiting)
        c.key("CALL", 500)
        self.assertEqual(kinds(drain(c)), ["answer"])
        self.assertEqual(c.state, cc.IN_CALL)
        c.remote_ended(line, 3500)
        self.assertEqual(kinds(drain(c)), ["ended"])
        self.assertEqual(line.end_reason, "ended by peer")
        self.assertEqual(line.duration_ms(0), 3000)
        self.assertEqual(c.state, cc.IDLE)

    def test_decline_sends_603(self):
        c = CallControl()
        c.incoming("alice", 0)
        drain(c)
        c.key("DECLINE", 10)
        a = drain(c)
        self.assertEqual(a[0][0], "reject")
        self.assertEqual(a[0][2], 603)
        self.assertEqual(c.state, cc.IDLE)
        # HANGUP on a ringing call declines too.
        c.incoming("bob", 20)
        drain(c)
        c.key("HANGUP", 30)
        self.assertEqual(drain(c)[0][2], 603)

    def test_incoming_interrupts_dialling(self):
        c = CallControl()
        c.key("5", 0)
        c.incoming("alice", 0)
        self.assertEqual(c.dial_buffer, "")
        self.assertEqual(c.state, cc.RINGING)

    def test_caller_cancels(self):
        c = CallControl()
        line = c.incoming("alice", 0)
        drain(c)
        c.remote_ended(line, 100, "missed")
        self.assertEqual(kinds(drain(c)), ["ended"])
        self.assertEqual(line.answered_ms, None)
        self.assertEqual(c.state, cc.IDLE)


class InCallTest(unittest.TestCase):
    def setUp(self):
        self.c = CallControl()
        self.line = self.c.dial("bob", 0)
        self.c.answered(self.line, 100)
        drain(self.c)

    def test_dtmf_keys_in_call(self):
        for k in "19*#":
            self.assertTrue(self.c.key(k, 200))
        self.assertEqual(drain(self.c), [("dtmf", self.line, k) for k in "19*#"])
        self.assertEqual(self.c.dial_buffer, "")

    def test_hold_resume(self):
        self.c.key("HOLD", 200)
        self.assertEqual(drain(self.c), [("reinvite", self.line, "sendonly")])
        self.assertEqual(self.c.state, cc.HELD)
        self.assertFalse(self.c.key("5", 200))  # no DTMF into a held call
        self.c.key("HOLD", 300)
        self.assertEqual(drain(self.c), [("reinvite", self.line, "sendrecv")])
        self.assertEqual(self.c.state, cc.IN_CALL)

    def test_refused_hold_reverts(self):
        self.c.key("HOLD", 200)
        drain(self.c)
        self.c.update_failed(self.line, "sendonly")
        self.assertEqual(self.c.state, cc.IN_CALL)

    def test_mute(self):
        self.c.key("MUTE", 200)
        self.assertEqual(drain(self.c), [("mute", self.line, True)])
        self.assertTrue(self.line.muted)
        self.c.key("MUTE", 200)
        self.assertEqual(drain(self.c), [("mute", self.line, False)])

    def test_peer_holds_us(self):
        self.c.remote_hold(self.line, True)
        self.assertTrue(self.line.remote_held)
        self.assertEqual(self.c.state, cc.IN_CALL)
        self.c.remote_hold(self.line, False)
        self.assertFalse(self.line.remote_held)


class CallWaitingTest(unittest.TestCase):
    def setUp(self):
        self.c = CallControl()
        self.first = self.c.incoming("alice", 0)
        self.c.answer(10)
        drain(self.c)

    def test_second_call_waits_answer_switches_hangup_returns(self):
        c = self.c
        second = c.incoming("carol", 1000)
        self.assertEqual(drain(c), [("ring", second)])
        self.assertTrue(second.waiting)
        self.assertIs(c.current, self.first)  # still talking to alice
        self.assertEqual(c.state, cc.IN_CALL)
        c.key("CALL", 2000)
        self.assertEqual(drain(c), [("reinvite", self.first, "sendonly"), ("answer", second)])
        self.assertIs(c.current, second)
        self.assertEqual(self.first.state, cc.HELD)
        self.assertIs(c.other_line(second), self.first)
        c.key("HANGUP", 3000)
        self.assertEqual(drain(c), [("hangup", second), ("ended", second), ("reinvite", self.first, "sendrecv")])
        self.assertIs(c.current, self.first)
        self.assertEqual(c.state, cc.IN_CALL)

    def test_third_call_is_busy(self):
        c = self.c
        c.incoming("carol", 1000)
        drain(c)
        self.assertIsNone(c.incoming("dave", 1100))
        a = drain(c)
        self.assertEqual((a[0][0], a[0][2]), ("reject", 486))
        self.assertEqual(a[1][0], "ended")
        self.assertEqual(a[1][1].end_reason, "busy")
        self.assertEqual(len(c.lines), 2)

    def test_single_line_phone_is_busy(self):
        c = CallControl(max_calls=1)
        c.incoming("alice", 0)
        c.answer(0)
        drain(c)
        self.assertIsNone(c.incoming("bob", 10))
        self.assertEqual(drain(c)[0][2], 486)

    def test_hang_up_a_line_that_is_not_current(self):
        c = self.c
        second = c.incoming("carol", 1000)
        drain(c)
        c.hangup(1100, "ZRTP failed", second)  # the waiting call: declined
        self.assertEqual(drain(c), [("reject", second, 603), ("ended", second)])
        self.assertEqual(second.end_reason, "ZRTP failed")
        second = c.incoming("carol", 1200)
        c.answer(1300)
        drain(c)
        c.hangup(1400, "SAS rejected", self.first)  # the held call
        self.assertEqual(drain(c), [("hangup", self.first), ("ended", self.first)])
        self.assertIs(c.current, second)
        self.assertEqual(c.state, cc.IN_CALL)

    def test_waiting_caller_gives_up(self):
        c = self.c
        second = c.incoming("carol", 1000)
        drain(c)
        c.remote_ended(second, 1500, "missed")
        self.assertEqual(drain(c), [("ended", second)])
        self.assertIs(c.current, self.first)
        self.assertEqual(c.state, cc.IN_CALL)

    def test_active_peer_hangs_up_while_other_waits(self):
        c = self.c
        second = c.incoming("carol", 1000)
        drain(c)
        c.remote_ended(self.first, 1200)
        drain(c)
        self.assertIs(c.current, second)
        self.assertEqual(c.state, cc.RINGING)
        self.assertFalse(second.waiting)  # it now rings like a normal call

    def test_remote_end_of_active_leaves_held_call_held(self):
        c = self.c
        second = c.incoming("carol", 1000)
        c.answer(1100)
        drain(c)
        c.remote_ended(second, 2000)
        self.assertEqual(drain(c), [("ended", second)])
        self.assertIs(c.current, self.first)
        self.assertEqual(c.state, cc.HELD)  # the user resumes it with HOLD
        c.key("HOLD", 2100)
        self.assertEqual(drain(c), [("reinvite", self.first, "sendrecv")])


if __name__ == "__main__":
    unittest.main()
