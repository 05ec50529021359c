# A line-based control and event channel on the console: stdin/stdout on
# the unix port, the USB serial console on a handset. Tests, QA and the
# hardware-in-the-loop suite press keys and read what happens:
#
#   in:   key 5 | key CALL | keys 1,2,wait:500,CALL | dial bob | answer |
#         decline | hangup | hold | mute | dtmf 5 | stats | export | quit
#   out:  @event {"event": "...", ...}   one JSON object per line
#
# parse() is sans-IO; LineReader polls a stream without blocking so the
# phone's single asyncio loop keeps its 20 ms audio clock. Secrets never go
# out here: events carry names, states and counters only.
import json
import sys

from hushphone.compat import IS_MICROPYTHON

EVENT_PREFIX = "@event "
_MAX_LINE = 1024
_MAX_READ = 512
# Verbs and how many words follow them (None: the rest of the line).
_VERBS = {"key": 1, "keys": None, "dial": 1, "answer": 0, "decline": 0, "hangup": 0, "hold": 0, "mute": 0,
          "dtmf": 1, "stats": 0, "report": 0, "export": 0, "quit": 0}


class ConsoleError(ValueError):
    """A control line we do not understand (reported, never fatal)."""


def parse(line):
    """(verb, argument or None) for one control line; None for a blank
    line or a comment; ConsoleError for anything else."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    parts = text.split(None, 1)
    verb = parts[0].lower()
    rest = parts[1].strip() if len(parts) > 1 else ""
    if verb not in _VERBS:
        raise ConsoleError("unknown command %r" % verb)
    n = _VERBS[verb]
    if n == 0:
        if rest:
            raise ConsoleError("%s takes no argument" % verb)
        return verb, None
    if not rest or (n == 1 and len(rest.split()) != 1):
        raise ConsoleError("%s needs one argument" % verb if n == 1 else "%s needs an argument" % verb)
    return verb, rest


def event_line(name, fields=None):
    data = {"event": name}
    if fields:
        data.update(fields)
    return EVENT_PREFIX + json.dumps(data)


def parse_event(line):
    """The dict of an event line, or None if it is not one (for tools)."""
    if not line.startswith(EVENT_PREFIX):
        return None
    try:
        data = json.loads(line[len(EVENT_PREFIX):])
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class LineReader:
    """Complete lines from a stream, without blocking: poll() returns the
    lines that arrived since the last call ([] if none) and sets `closed`
    at the end of input. Over-long lines are dropped and counted."""

    def __init__(self, stream=None):
        import select

        self._stream = stream if stream is not None else sys.stdin
        self._poller = select.poll()
        self._poller.register(self._stream, select.POLLIN)
        self._buf = b""
        self._skipping = False
        self.closed = False
        self.dropped = 0
        if not IS_MICROPYTHON:
            self._fd = self._stream.fileno()

    def _read(self):
        if IS_MICROPYTHON:
            # No user-space buffer on this stream: read while poll says so.
            raw = getattr(self._stream, "buffer", self._stream)
            data = b""
            while len(data) < _MAX_READ and self._poller.poll(0):
                c = raw.read(1)
                if not c:
                    self.closed = True
                    break
                data += c if isinstance(c, bytes) else c.encode()
            return data
        import os

        if not self._poller.poll(0):
            return b""
        data = os.read(self._fd, 4096)
        if not data:
            self.closed = True
        return data

    def poll(self):
        if self.closed:
            return []
        data = self._read()
        if not data:
            return []
        self._buf += data
        lines = []
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            if self._skipping:  # the end of an over-long line, already counted
                self._skipping = False
                continue
            if len(line) > _MAX_LINE:
                self.dropped += 1
                continue
            try:
                lines.append(line.decode())
            except UnicodeError:
                self.dropped += 1
        if len(self._buf) > _MAX_LINE:
            self._buf = b""
            if not self._skipping:
                self.dropped += 1
            self._skipping = True
        return lines
