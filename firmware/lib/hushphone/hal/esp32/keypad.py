# Keys on GPIOs: a row/column matrix (the dial pad), single buttons (the
# boards' tact keys, a hook switch) and capacitive touch pads (LyraT).
# Every source feeds one Debouncer: a key counts as pressed or released only
# after it has read the same for DEBOUNCE_MS, a press is reported once
# however long it is held, and a release is reported only for keys that
# have a release event (a hook switch: OFFHOOK when lifted, ONHOOK when put
# down). Pins are machine.Pin objects (or anything with value()/init()).
from hushphone.compat import const
from hushphone.hal.interfaces import DEBOUNCE_MS, KEYS, HalError, Keypad

_MAX_EVENTS = const(16)  # events not yet polled; older ones are dropped first


class Debouncer:
    """Key ids are small ints (a matrix uses row*cols+col, buttons 100+i,
    touch pads 200+i), so a scan allocates nothing."""

    def __init__(self, debounce_ms=DEBOUNCE_MS):
        self.debounce_ms = debounce_ms
        self._raw = {}  # key id -> last raw reading
        self._since = {}  # key id -> when the raw reading last changed
        self._stable = {}  # key id -> debounced state
        self.events = []

    def update(self, key_id, pressed, now_ms, press_event, release_event=None):
        if self._raw.get(key_id) is not pressed:
            self._raw[key_id] = pressed
            self._since[key_id] = now_ms
            return
        if now_ms - self._since[key_id] < self.debounce_ms:
            return
        if self._stable.get(key_id, False) is pressed:
            return
        self._stable[key_id] = pressed
        event = press_event if pressed else release_event
        if event is not None:
            if len(self.events) >= _MAX_EVENTS:
                self.events.pop(0)
            self.events.append(event)

    def next_event(self):
        return self.events.pop(0) if self.events else None


def _check_key(name):
    if name not in KEYS:
        raise HalError("unknown key name %r in the board's key map" % (name,))
    return name


class MatrixKeypad(Keypad):
    """rows: output Pins, driven low one at a time (the others float as
    inputs, so two pressed keys in one column cannot short two driven rows);
    cols: input Pins with pull-ups; keymap[r][c]: the key at row r, col c."""

    def __init__(self, rows, cols, keymap, debouncer=None, pull_up=None, mode_in=None, mode_out=None):
        if len(keymap) != len(rows) or any(len(line) != len(cols) for line in keymap):
            raise HalError("key map must be %d rows of %d keys" % (len(rows), len(cols)))
        self.rows = rows
        self.cols = cols
        self.keymap = [[_check_key(k) for k in line] for line in keymap]
        self.deb = debouncer if debouncer is not None else Debouncer()
        if mode_in is None:
            from machine import Pin

            mode_in, mode_out, pull_up = Pin.IN, Pin.OUT, Pin.PULL_UP
        self._in = mode_in
        self._out = mode_out
        for row in rows:
            row.init(mode_in)
        for col in cols:
            col.init(mode_in, pull_up)

    def scan(self, now_ms):
        ncols = len(self.cols)
        update = self.deb.update
        for r in range(len(self.rows)):
            row = self.rows[r]
            row.init(self._out, value=0)
            line = self.keymap[r]
            for c in range(ncols):
                update(r * ncols + c, self.cols[c].value() == 0, now_ms, line[c])
            row.init(self._in)

    def poll(self, now_ms):
        self.scan(now_ms)
        return self.deb.next_event()


class ButtonKeys(Keypad):
    """buttons: [(pin, press_key, release_key or None, active_low)]."""

    def __init__(self, buttons, debouncer=None):
        self.buttons = [(pin, _check_key(press), _check_key(release) if release else None, low) for pin, press, release, low in buttons]
        self.deb = debouncer if debouncer is not None else Debouncer()

    def scan(self, now_ms):
        for i, (pin, press, release, low) in enumerate(self.buttons):
            level = pin.value()
            self.deb.update(100 + i, (level == 0) if low else (level == 1), now_ms, press, release)

    def poll(self, now_ms):
        self.scan(now_ms)
        return self.deb.next_event()


class TouchKeys(Keypad):
    """pads: [(machine.TouchPad, key)]; a pad reads lower than `threshold`
    while touched (ESP32 touch sensor counts fall with capacitance)."""

    def __init__(self, pads, threshold=400, debouncer=None):
        self.pads = [(pad, _check_key(key)) for pad, key in pads]
        self.threshold = threshold
        self.deb = debouncer if debouncer is not None else Debouncer()

    def scan(self, now_ms):
        for i, (pad, key) in enumerate(self.pads):
            self.deb.update(200 + i, pad.read() < self.threshold, now_ms, key)

    def poll(self, now_ms):
        self.scan(now_ms)
        return self.deb.next_event()


class KeypadGroup(Keypad):
    """Several key sources with one debouncer and one event queue."""

    def __init__(self, sources, debouncer):
        self.sources = sources
        self.deb = debouncer

    def poll(self, now_ms):
        for source in self.sources:
            source.scan(now_ms)
        return self.deb.next_event()
