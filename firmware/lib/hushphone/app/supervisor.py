# The supervisor: every failure of the phone app is handled here.
#
# One failure (a MemoryError, a bug) ends the call it happened in, cleanly
# (BYE, CANCEL or 500) and the phone carries on; this many failures within
# the window re-initialise SIP (new UA, new connection); that many
# re-initialisations within the window and a handset resets (an
# unconfirmed new firmware that crash-loops is then rolled back).
#
# What is counted: only our own failures (MemoryError, a bug, a
# LocalSipError). A peer's bad message (a malformed request, an offer the
# policy refuses, a RemoteSipError or SipParseError that reaches us) is the
# peer's: it costs that message only, is logged as "peer_error" and never
# counted, so no peer can make the handset restart SIP or reset.
import gc

import asyncio

from hushphone.app import callcontrol as cc
from hushphone.sip import events
from hushphone.sip.errors import RemoteSipError, SipParseError

PEER_ERRORS = (RemoteSipError, SipParseError)

_FAULTS_BEFORE_RESTART = 5
_RESTARTS_BEFORE_RESET = 3
_FAULT_WINDOW_MS = 30000
_RESTART_BACKOFF_MS = (1000, 5000, 20000)


class CrashLoop(Exception):
    """The app kept failing even after SIP was re-initialised: on a
    handset the supervisor resets the board; the simulation exits."""


def fault_text(exc):
    """What the user and the log are told about a failure: never the
    exception's message (it may quote a peer's data or a key)."""
    return "out of memory" if isinstance(exc, MemoryError) else "internal error"


class Supervisor:
    """Counts the phone's faults and restarts SIP (or gives up) when
    there are too many. `phone` is the app (app/phone.py)."""

    def __init__(self, phone):
        self.phone = phone
        self.faults = []  # times (ms) of recent failures
        self.restarts = []
        self.restart_at = None  # when a pending SIP re-initialisation may run
        self.give_up = False

    def is_peers(self, exc):
        return isinstance(exc, PEER_ERRORS)

    def peer_error(self, exc, where, peer=None):
        """The peer's error: logged (kind and place, no data), not counted."""
        fields = {"where": where, "error": type(exc).__name__}
        if peer is not None:
            fields["peer"] = peer
        try:
            self.phone.emit("peer_error", **fields)
        except Exception:  # the log line failed: nothing else to do for the peer's error
            pass

    def transport_fault(self, exc, where):
        """What the SIP transport caught around one message, timer or event."""
        self.note_fault(exc, "sip-" + where, self.phone.now())

    def note_fault(self, exc, where, now, peer=None):
        """Log a failure (its kind and place, no data) and count it; too
        many in a short time and SIP is re-initialised. A peer's error is
        only logged."""
        if self.is_peers(exc):
            self.peer_error(exc, where, peer)
            return
        gc.collect()  # a MemoryError: free what the failed work left behind
        fields = {"where": where, "error": type(exc).__name__, "reason": fault_text(exc)}
        if peer is not None:
            fields["peer"] = peer
        try:
            self.phone.emit("fault", **fields)
        except Exception:  # even the log line failed: counting must still happen
            pass
        faults = [t for t in self.faults if now - t < _FAULT_WINDOW_MS]
        faults.append(now)
        self.faults = faults
        if len(faults) >= _FAULTS_BEFORE_RESTART and self.restart_at is None and self.phone.ua is not None:
            self.faults = []
            self.schedule_restart(now)

    def call_fault(self, line, exc, where, now):
        """A call's handler failed (MemoryError, a bug): end that call
        cleanly (BYE, CANCEL or an error response), free its media and
        say so; the phone stays registered for the next call. A peer's
        error costs the message only: the call goes on."""
        phone = self.phone
        if self.is_peers(exc):
            self.peer_error(exc, where, line.peer)
            return
        text = fault_text(exc)
        self.note_fault(exc, where, now, peer=line.peer)
        if line.ref is not None:
            call, media = line.ref
            media.release()  # the session, ZRTP and buffers: the memory we need to send the BYE
            gc.collect()
            if call.state == "incoming" and phone.ua is not None:
                try:
                    phone.ua.reject(call, now, 500)  # 500 Server Internal Error, not 603
                except Exception:  # nothing more to do: the caller's transaction times out
                    pass
        if line.state != cc.ENDED:
            phone.calls.hangup(now, text, line)
        phone.view.message = "Call failed: " + text

    def orphan_fault(self, ev, exc, now):
        """A failure on a SIP event with no line (yet): a new incoming
        call is refused 500 (400 when the peer's message was at fault);
        anything else is only logged."""
        self.note_fault(exc, "sip", now)
        call = getattr(ev, "call", None)
        if isinstance(ev, events.IncomingCall) and call is not None and call.state == "incoming":
            try:
                self.phone.ua.reject(call, now, 400 if self.is_peers(exc) else 500)
            except Exception:  # e.g. no memory for the response either: the caller times out
                pass

    def schedule_restart(self, now):
        restarts = [t for t in self.restarts if now - t < _FAULT_WINDOW_MS * len(_RESTART_BACKOFF_MS)]
        if len(restarts) >= _RESTARTS_BEFORE_RESET:
            self.give_up = True  # acted on by the main loop's supervise(), not inside a handler
            return
        backoff = _RESTART_BACKOFF_MS[min(len(restarts), len(_RESTART_BACKOFF_MS) - 1)]
        restarts.append(now)
        self.restarts = restarts
        self.restart_at = now + backoff
        self.phone.emit("sip_restart", after_ms=backoff)

    def last_resort(self):
        self.phone.emit("crash_loop", restarts=len(self.restarts))
        if self.phone.hal.board != "sim":
            import machine

            machine.reset()  # after the log line; OTA rolls back a new image that crash-loops
        raise CrashLoop("repeated failures after re-initialising SIP")

    async def supervise(self, now):
        """Run from the main loop: restart SIP when its task died, or when
        repeated failures asked for a re-initialisation (after a backoff)."""
        if self.give_up:
            self.last_resort()
        phone = self.phone
        if phone.missing is not None:
            return  # no SIP to supervise
        task = phone.sip.task
        if self.restart_at is None and (phone.transport is None or (task is not None and task.done())):
            # The SIP task ended on its own (it never should), or the last
            # re-initialisation failed half-way: (re)start it after a backoff.
            self.note_fault(RuntimeError(), "sip-task", now)
            self.schedule_restart(now)
        if self.restart_at is not None and now >= self.restart_at:
            self.restart_at = None
            try:
                await self.restart_sip(now)
            except Exception as e:  # e.g. no memory for the new TLS context: the next round tries again
                self.note_fault(e, "restart", now)

    async def restart_sip(self, now):
        """Re-initialise SIP: end every call locally, drop the connection,
        start a new user agent and register again."""
        phone = self.phone
        for line in list(phone.calls.lines):
            if line.ref is not None:
                line.ref[1].release()
            phone.calls.remote_ended(line, now, "internal error")
        self._actions_local()
        old = phone.sip.task
        if phone.transport is not None:  # None when the previous re-initialisation failed half-way
            phone.transport.stop()
        if old is not None and not old.done():
            try:
                await asyncio.wait_for(old, 5)
            except Exception:  # a dying task may raise anything (or time out): it is replaced anyway
                pass
        phone.ua = phone.transport = None
        gc.collect()
        phone.sip.make()
        phone.view.registration = "offline"
        phone.sip.start()

    def _actions_local(self):
        """Run the call-control actions without SIP (the UA is being
        replaced): only the local ones (logging the ended calls)."""
        phone = self.phone
        now = phone.now()
        while True:
            action = phone.calls.next_action()
            if action is None:
                break
            if action[0] == "ended":
                try:
                    phone._do_ended(action[1], action, now)
                except Exception as e:  # a bug in logging a call must not stop the restart
                    self.note_fault(e, "ended", now)
