# The simulated handset's keypad: key presses from a script string
# ("1,2,3,CALL,wait:2000,HANGUP") or from lines arriving on a stream (a
# control socket, stdin). Each item is a key name from hal.interfaces.KEYS
# (case-insensitive; CALL = OFFHOOK, HANGUP = ONHOOK, STAR = *, HASH/POUND
# = #), or wait:MS, which delays the keys after it.
from hushphone.hal.interfaces import HOOK, KEYS, OFFHOOK, ONHOOK, HalError, Keypad

_ALIASES = {"CALL": OFFHOOK, "HANGUP": ONHOOK, "STAR": "*", "HASH": "#", "POUND": "#", "TOGGLE": HOOK}
_MAX_WAIT_MS = 3600000
_MAX_LINE = 1024
_MAX_QUEUED = 256


class KeyScriptError(HalError):
    pass


def parse_script(text):
    """[(delay_ms, key)]: each key with the wait before it (from the
    previous key). Raises KeyScriptError naming the bad item."""
    steps = []
    wait = 0
    for raw in text.replace("\n", ",").split(","):
        item = raw.strip()
        if not item:
            continue
        upper = item.upper()
        if upper.startswith("WAIT:"):
            ms = upper[5:].strip()
            if not ms.isdigit() or int(ms) > _MAX_WAIT_MS:
                raise KeyScriptError("bad wait %r (milliseconds, at most %d)" % (item, _MAX_WAIT_MS))
            wait += int(ms)
            continue
        key = _ALIASES.get(upper, upper)
        if key not in KEYS:
            raise KeyScriptError("unknown key %r" % item)
        steps.append((wait, key))
        wait = 0
    return steps


class ScriptKeys(Keypad):
    """Keys of a script, due relative to the first poll (or `start_ms`):
    poll(now_ms) returns one due key per call, in order."""

    def __init__(self, script="", start_ms=None):
        self._queue = []  # [(due_ms, key)], due times absolute once known
        self._last_due = start_ms
        self._pending = parse_script(script) if script else []

    def feed(self, script, now_ms):
        """Add the keys of `script`, the first due at now_ms (or after the
        previous key, whichever is later) plus its wait."""
        steps = parse_script(script)
        if len(self._queue) + len(steps) > _MAX_QUEUED:
            raise KeyScriptError("too many queued keys")
        self._anchor(now_ms)
        base = self._last_due if self._last_due > now_ms else now_ms
        for wait, key in steps:
            base += wait
            self._queue.append((base, key))
        self._last_due = base

    def _anchor(self, now_ms):
        if self._last_due is None:
            self._last_due = now_ms
        if self._pending:
            base = self._last_due
            for wait, key in self._pending:
                base += wait
                self._queue.append((base, key))
            self._last_due = base
            self._pending = []

    def poll(self, now_ms):
        self._anchor(now_ms)
        if self._queue and self._queue[0][0] <= now_ms:
            return self._queue.pop(0)[1]
        return None

    def idle(self):
        """True when every scripted key has been delivered."""
        return not self._queue and not self._pending


class StreamKeys(ScriptKeys):
    """Keys from text lines on a non-blocking stream: `read()` returns
    whatever bytes arrived (b"" or None when nothing did). Each line is a
    script; a bad line is reported through on_error and skipped, so a typo
    on the control socket never stops the phone."""

    def __init__(self, read, on_error=None):
        ScriptKeys.__init__(self)
        self._read = read
        self._buf = b""
        self._on_error = on_error
        self.errors = 0

    def poll(self, now_ms):
        data = self._read()
        if data:
            self._buf += data
            while b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                self._line(line, now_ms)
            if len(self._buf) > _MAX_LINE:
                self._buf = b""
                self._bad("line longer than %d bytes" % _MAX_LINE)
        return ScriptKeys.poll(self, now_ms)

    def _line(self, line, now_ms):
        try:
            self.feed(line.decode(), now_ms)
        except (KeyScriptError, UnicodeError) as e:
            self._bad(str(e))

    def _bad(self, why):
        self.errors += 1
        if self._on_error:
            self._on_error(why)


def socket_reader(sock):
    """read() for StreamKeys over a connected non-blocking socket."""
    sock.setblocking(False)

    def read():
        try:
            return sock.recv(256)
        except OSError:
            return None  # EAGAIN: nothing yet

    return read


def stream_reader(stream):
    """read() for StreamKeys over a file-like object with a file descriptor
    (stdin, a pipe): only reads when select says a line is waiting."""
    import select

    poller = select.poll()
    poller.register(stream, select.POLLIN)

    def read():
        if not poller.poll(0):
            return None
        line = stream.readline()
        if isinstance(line, str):
            line = line.encode()
        return line or None

    return read
