# The hardware the phone application talks to, as plain base classes.
#
# A board builds one object of each kind (hal/esp32/board.py on a handset,
# hal/unix/board.py in the simulation) and hands them to the app in a Hal.
# Nothing here blocks: every call returns at once, so one asyncio loop can
# drive audio, keys and display together. Time is passed in (now_ms) like
# everywhere else in Hushphone; the HAL never sleeps on the app's behalf.
from hushphone.compat import IS_MICROPYTHON, const

# Audio frames: 20 ms of 8 kHz mono, 16-bit little-endian signed PCM, the
# frame hushphone.app.media sends and plays.
RATE = const(8000)
FRAME_SAMPLES = const(160)
FRAME_BYTES = const(320)
FRAME_MS = const(20)

# Key events are these strings (interned: comparing them allocates nothing).
KEY_DIGITS = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#")
OFFHOOK = "OFFHOOK"  # handset lifted (or a "call" button)
ONHOOK = "ONHOOK"  # handset put down (or a "hang up" button)
HOOK = "HOOK"  # one hook button that toggles (boards without a hook switch)
SPEAKER = "SPEAKER"
SOFT1 = "SOFT1"
SOFT2 = "SOFT2"
SOFT3 = "SOFT3"
UP = "UP"
DOWN = "DOWN"
OK = "OK"
BACK = "BACK"
MUTE = "MUTE"
HOLD = "HOLD"
KEYS = KEY_DIGITS + (OFFHOOK, ONHOOK, HOOK, SPEAKER, SOFT1, SOFT2, SOFT3, UP, DOWN, OK, BACK, MUTE, HOLD)

# A key must read the same for this long before it counts (contact bounce
# lasts a few ms; a person's shortest press is ~50 ms).
DEBOUNCE_MS = const(20)


class HalError(Exception):
    """Bad board description or hardware that does not answer (our side)."""


class Audio:
    """Full-duplex audio: microphone frames in, speaker frames out.

    read_frame(buf) fills `buf` (FRAME_BYTES, writable) with the next
    captured frame and returns True, or returns False at once when no whole
    frame is ready yet. write_frame(buf) queues one frame for playback and
    returns True, or False when the output queue is full (the caller drops
    or retries: it owns the clock)."""

    rate = RATE

    def start(self):
        pass

    def stop(self):
        pass

    def read_frame(self, buf):
        raise NotImplementedError

    def write_frame(self, buf):
        raise NotImplementedError

    def set_volume(self, percent):
        """Speaker/earpiece volume 0..100."""

    def set_mic_gain(self, db):
        """Microphone pre-amplifier gain in dB (boards round to their steps)."""


class Keypad:
    """Key events with debounce: poll(now_ms) returns one key string from
    KEYS (a press, reported once however long it is held) or None."""

    def poll(self, now_ms):
        raise NotImplementedError


class Display:
    """A small text screen: `height` lines of `width` characters. Line 0 is
    the status line (security state, registration, time); show() replaces
    the whole screen, longer lines are cut, missing lines are blank."""

    width = 16
    height = 4

    def show(self, lines):
        raise NotImplementedError

    def clear(self):
        self.show(())


def fit_lines(lines, width, height):
    """The screen exactly as a Display shows `lines`: `height` strings of
    `width` characters (cut or space-padded)."""
    out = []
    for i in range(height):
        text = lines[i] if i < len(lines) else ""
        if len(text) > width:
            text = text[:width]
        out.append(text + " " * (width - len(text)))
    return out


class Store:
    """NVS-backed key/value storage (settings or secrets, one namespace
    each). Values are int (i32) or bytes; names at most 15 characters.
    Writes become durable on commit()."""

    def get_int(self, key, default=None):
        raise NotImplementedError

    def set_int(self, key, value):
        raise NotImplementedError

    def get_bytes(self, key, default=None):
        raise NotImplementedError

    def set_bytes(self, key, value):
        raise NotImplementedError

    def delete(self, key):
        raise NotImplementedError

    def commit(self):
        raise NotImplementedError


class Clock:
    """ticks_ms(): a wrapping millisecond counter for timers (compare with
    ticks_diff); unix_time(): seconds since 1970, or None until the time is
    known (NTP, or the SIP server's Date header)."""

    def ticks_ms(self):
        raise NotImplementedError

    def ticks_diff(self, a, b):
        return a - b

    def unix_time(self):
        return None


class Hal:
    """Everything one board provides. `partition` is the OTA partition class
    (esp32.Partition or hal.unix.partition.Partition); `random_bytes(n)` is
    hushphone.crypto.random's, backed by the chip's TRNG on a handset."""

    def __init__(self, board, audio, keypad, display, settings, secrets, clock, partition, random_bytes, checks=()):
        self.board = board  # the board name
        self.audio = audio
        self.keypad = keypad
        self.display = display
        self.settings = settings
        self.secrets = secrets
        self.clock = clock
        self.partition = partition
        self.random_bytes = random_bytes
        self.checks = list(checks)  # board self-test checks for ota.confirm
        # The running app, set by it (app/phone.py): call_up() and stop() for
        # the update agent, which never resets the handset during a call.
        self.app = None


class SystemClock(Clock):
    """The runtime's own millisecond clock (time.ticks_ms on MicroPython,
    monotonic on CPython); unix_time() once set_unix_time() told the time
    (the RTC is not trusted: a handset learns the time from NTP or SIP)."""

    def __init__(self):
        import time

        self._time = time
        self._anchor = None  # (unix ms, ticks_ms) when the time was last told

    def ticks_ms(self):
        if IS_MICROPYTHON:
            return self._time.ticks_ms()
        return self._time.monotonic_ns() // 1000000

    def ticks_diff(self, a, b):
        if IS_MICROPYTHON:
            return self._time.ticks_diff(a, b)
        return a - b

    def set_unix_time(self, seconds):
        self._anchor = (int(seconds * 1000), self.ticks_ms())

    def unix_time(self):
        # ticks_diff is exact for ~6 days on MicroPython (ticks wrap at 2**30
        # ms); the app re-tells the time at every registration refresh.
        if self._anchor is None:
            return None
        unix_ms, ticks = self._anchor
        return (unix_ms + self.ticks_diff(self.ticks_ms(), ticks)) // 1000
