# Call control: what the handset does with its calls, sans-IO.
#
# Keys and network facts go in (key(), dial(), incoming(), answered(), ...);
# actions for the driver come out of next_action(): tuples whose first item
# says what to do on the wire or with the media:
#
#   ("invite", line, target)      start an outgoing call
#   ("ring", line)                send 180; ring (or play the waiting tone)
#   ("answer", line)              accept the incoming call (SDP answer)
#   ("reject", line, status)      486 Busy Here, 603 Decline
#   ("hangup", line)              CANCEL / BYE
#   ("reinvite", line, direction) "sendonly" to hold, "sendrecv" to resume
#   ("dtmf", line, key)           an RFC 4733 key press in the media
#   ("mute", line, on)            send silence frames (same size) or the mic
#   ("ended", line)               the call is over: log it, free its media
#
# A handset has at most `max_calls` lines (one active plus one waiting by
# default). Time is integer milliseconds passed in. The driver keeps its
# SIP call and media in line.ref. Misuse by our own code raises
# CallControlError; a key that makes no sense now is ignored (returns False).

IDLE = "idle"
DIALING = "dialing"  # collecting digits, no line yet
CALLING = "calling"  # our INVITE is out
RINGING = "ringing"  # an incoming call rings (or waits, beside another call)
IN_CALL = "in_call"
HELD = "held"  # we put it on hold
ENDED = "ended"

BUSY = 486
DECLINE = 603
DTMF_KEYS = "0123456789*#"

# Why a call ended, for the display and the log.
_FAILED_TEXT = {486: "busy", 600: "busy", 603: "declined", 404: "not found", 480: "unavailable",
                408: "no answer", 487: "cancelled", 488: "media refused"}


class CallControlError(Exception):
    """Our own code used call control wrongly (no such line...)."""


def failure_text(status):
    return _FAILED_TEXT.get(status, "failed (%d)" % status)


class Line:
    """One call. direction "in" or "out"; peer is the other party as shown;
    answered_ms when the call was set up (None until then); held (by us),
    remote_held (the peer holds us), muted; waiting: it rang while another
    call was up; end_reason once ENDED."""

    def __init__(self, number, direction, peer, now):
        self.number = number
        self.direction = direction
        self.peer = peer
        self.state = CALLING if direction == "out" else RINGING
        self.created_ms = now
        self.answered_ms = None
        self.ended_ms = None
        self.muted = False
        self.remote_held = False
        self.remote_ringing = False
        self.waiting = False
        self.end_reason = None
        self.ref = None  # the driver's own data (SIP call, media)

    def duration_ms(self, now):
        if self.answered_ms is None:
            return 0
        return (self.ended_ms if self.ended_ms is not None else now) - self.answered_ms

    def __repr__(self):
        return "Line(%d %s %s %s)" % (self.number, self.direction, self.peer, self.state)


class CallControl:
    def __init__(self, max_calls=2):
        if max_calls < 1:
            raise CallControlError("max_calls must be at least 1")
        self.max_calls = max_calls
        self.lines = []  # oldest first
        self.current = None  # the line the keys and the audio belong to
        self.dial_buffer = ""
        self.last_ended = None
        self._actions = []
        self._next_number = 1

    # -- reading -----------------------------------------------------------

    def next_action(self):
        if self._actions:
            return self._actions.pop(0)
        return None

    @property
    def state(self):
        """The handset's state as the user sees it: the current line's
        state, DIALING while digits are collected, else IDLE."""
        if self.current is not None:
            return self.current.state
        if self.dial_buffer:
            return DIALING
        return IDLE

    def ringing_line(self):
        for line in self.lines:
            if line.state == RINGING:
                return line
        return None

    def other_line(self, line):
        for other in self.lines:
            if other is not line:
                return other
        return None

    # -- the user ----------------------------------------------------------

    def key(self, name, now):
        """One key press by name: a digit, "*", "#", "CALL", "OK", "HANGUP",
        "BACK", "HOLD", "MUTE", "DECLINE". Returns True if it did something."""
        line = self.current
        if name in DTMF_KEYS and len(name) == 1:
            if line is not None and line.state == IN_CALL:
                self._actions.append(("dtmf", line, name))
                return True
            if line is None:
                self.dial_buffer += name
                return True
            return False
        if name in ("CALL", "OK", "ANSWER"):
            if self.ringing_line() is not None:
                return self.answer(now)
            if line is None and self.dial_buffer:
                target = self.dial_buffer
                self.dial_buffer = ""
                self.dial(target, now)
                return True
            return False
        if name == "HANGUP":
            if line is None and self.ringing_line() is None:
                had = bool(self.dial_buffer)
                self.dial_buffer = ""
                return had
            return self.hangup(now)
        if name == "DECLINE":
            return self.decline(now)
        if name == "BACK":
            if line is None and self.dial_buffer:
                self.dial_buffer = self.dial_buffer[:-1]
                return True
            return False
        if name == "HOLD":
            return self.toggle_hold(now)
        if name == "MUTE":
            return self.toggle_mute()
        return False

    def dial(self, target, now):
        """Call `target` (a user name or SIP URI). Only from idle: with a
        call up, hold it first... that is what a second line is for."""
        if not target:
            raise CallControlError("nothing to dial")
        if self.lines:
            raise CallControlError("a call is already up")
        self.dial_buffer = ""
        line = self._new_line("out", target, now)
        self.current = line
        self._actions.append(("invite", line, target))
        return line

    def answer(self, now):
        """Answer the ringing line; a call in progress goes on hold first."""
        line = self.ringing_line()
        if line is None:
            return False
        active = self.current
        if active is not None and active is not line and active.state == IN_CALL:
            active.state = HELD
            self._actions.append(("reinvite", active, "sendonly"))
        elif active is not None and active is not line and active.state == CALLING:
            self._end(active, "cancelled", now, hangup=True)
        self._actions.append(("answer", line))
        line.state = IN_CALL
        line.answered_ms = now
        self.current = line
        return True

    def decline(self, now):
        line = self.ringing_line()
        if line is None:
            return False
        self._actions.append(("reject", line, DECLINE))
        self._end(line, "declined", now)
        return True

    def hangup(self, now, reason="hung up", line=None):
        """Hang up the current call (or `line`); an unanswered incoming one
        is declined. The held call, if any, comes back (resumed)."""
        if line is not None and line is not self.current:
            if line.state == RINGING:
                self._actions.append(("reject", line, DECLINE))
                self._end(line, reason, now)
            elif line.state != ENDED:
                self._end(line, reason, now, hangup=True)
            return True
        line = self.current
        if line is None:
            ringing = self.ringing_line()
            return self.decline(now) if ringing is not None else False
        if line.state == RINGING:
            return self.decline(now)
        self._end(line, reason, now, hangup=True)
        back = self.current
        if back is not None and back.state == HELD:
            back.state = IN_CALL
            self._actions.append(("reinvite", back, "sendrecv"))
        return True

    def toggle_hold(self, now):
        line = self.current
        if line is None:
            return False
        if line.state == IN_CALL:
            line.state = HELD
            self._actions.append(("reinvite", line, "sendonly"))
            return True
        if line.state == HELD:
            line.state = IN_CALL
            self._actions.append(("reinvite", line, "sendrecv"))
            return True
        return False

    def toggle_mute(self):
        line = self.current
        if line is None or line.state not in (IN_CALL, HELD):
            return False
        line.muted = not line.muted
        self._actions.append(("mute", line, line.muted))
        return True

    # -- the network -------------------------------------------------------

    def incoming(self, peer, now, ref=None):
        """A new incoming call (`ref`: the driver's data for it). Returns
        its Line, or None when it was refused busy (486: no free line, or
        another call rings already); the refusal is still an action
        carrying a short-lived Line."""
        if len(self.lines) >= self.max_calls or self.ringing_line() is not None:
            line = Line(0, "in", peer, now)
            line.ref = ref
            self._actions.append(("reject", line, BUSY))
            line.state = ENDED
            line.end_reason = "busy"
            line.ended_ms = now
            self._actions.append(("ended", line))
            return None
        line = self._new_line("in", peer, now)
        line.ref = ref
        line.waiting = bool(self.lines[:-1])
        if self.current is None:
            self.dial_buffer = ""  # an incoming call interrupts dialling
            self.current = line
        self._actions.append(("ring", line))
        return line

    def remote_ringing(self, line):
        if line.state == CALLING:
            line.remote_ringing = True

    def answered(self, line, now):
        """Our outgoing call was answered."""
        if line.state != CALLING:
            raise CallControlError("answered() needs a calling line, not %r" % (line,))
        line.state = IN_CALL
        line.answered_ms = now

    def failed(self, line, status, now):
        """Our outgoing call failed with a final status (486, 603...)."""
        if line.state == ENDED:
            return
        self._end(line, failure_text(status), now)

    def remote_ended(self, line, now, reason="ended by peer"):
        """The peer hung up (BYE, CANCEL) or the call was lost. A held call
        becomes current again but stays held until the user resumes it."""
        if line.state == ENDED:
            return
        self._end(line, reason, now)

    def remote_hold(self, line, held):
        """The peer put us on hold (its re-INVITE said sendonly/inactive) or
        resumed (sendrecv)."""
        line.remote_held = bool(held)

    def update_failed(self, line, direction):
        """Our hold/resume re-INVITE was refused: the call stays as it was."""
        if line.state == HELD and direction == "sendonly":
            line.state = IN_CALL
        elif line.state == IN_CALL and direction == "sendrecv":
            line.state = HELD

    # -- internals ---------------------------------------------------------

    def _new_line(self, direction, peer, now):
        line = Line(self._next_number, direction, peer, now)
        self._next_number += 1
        self.lines.append(line)
        return line

    def _end(self, line, reason, now, hangup=False):
        if hangup:
            self._actions.append(("hangup", line))
        line.state = ENDED
        line.end_reason = reason
        line.ended_ms = now
        if line in self.lines:
            self.lines.remove(line)
        self.last_ended = line
        if self.current is line:
            self.current = self.lines[0] if self.lines else None
            if self.current is not None and self.current.state == RINGING:
                self.current.waiting = False
        self._actions.append(("ended", line))
