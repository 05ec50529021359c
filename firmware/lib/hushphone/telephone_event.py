# RFC 4733 telephone-event payloads for DTMF keys (events 0-15), sans-IO.
#
#   0                   1                   2                   3
#   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
#  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#  |     event     |E|R| volume    |          duration             |
#  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#
# Durations are in RTP timestamp units (8 per ms for G.711). The RTP layer
# owns sequence numbers, the timestamp of a key press and the marker bit on
# the wire; this module says what to put in them and never reads a clock.
from hushphone.compat import const

# Keypad characters in event-code order: '0'-'9' are 0-9, '*' 10, '#' 11,
# 'A'-'D' 12-15 (RFC 4733 section 3.2).
KEYS = "0123456789*#ABCD"

DEFAULT_VOLUME = const(10)  # -10 dBm0, what common phones send
DEFAULT_INTERVAL = const(400)  # 50 ms at 8 kHz (section 2.5.1.2)
END_PACKETS = const(3)  # the final packet is sent three times (2.5.1.4)
MAX_DURATION = const(0xFFFF)  # longer events are split into segments (2.5.1.3)

_PAYLOAD_LEN = const(4)
_E_BIT = const(0x80)
_R_BIT = const(0x40)
_VOLUME_MASK = const(0x3F)
_TIMESTAMP_MASK = const(0xFFFFFFFF)


class TelephoneEventError(ValueError):
    """Base of this module's errors."""


class RemoteTelephoneEventError(TelephoneEventError):
    """A peer sent a payload that is not a telephone-event payload."""


class LocalTelephoneEventError(TelephoneEventError):
    """Our own code asked for something out of range (a key that is not on a
    DTMF keypad, a volume above 63, a duration that does not fit)."""


def event_for_key(key):
    """Event code for a keypad character ('0'-'9', '*', '#', 'A'-'D';
    lower-case 'a'-'d' accepted)."""
    if not isinstance(key, str) or len(key) != 1:
        raise LocalTelephoneEventError("a DTMF key is one character, got %r" % (key,))
    code = KEYS.find(key.upper())
    if code < 0:
        raise LocalTelephoneEventError("not a DTMF key: %r" % (key,))
    return code


def key_for_event(event):
    """Keypad character for a DTMF event code 0-15."""
    if not isinstance(event, int) or not 0 <= event < len(KEYS):
        raise LocalTelephoneEventError("not a DTMF event code: %r" % (event,))
    return KEYS[event]


class TelephoneEvent:
    """One decoded payload. The reserved R bit is dropped on decoding: the
    sender must send 0 and the receiver must ignore it (section 2.3.3)."""

    def __init__(self, event, duration, end=False, volume=DEFAULT_VOLUME):
        self.event = event
        self.duration = duration
        self.end = end
        self.volume = volume

    def encode(self):
        return encode_payload(self.event, self.duration, self.end, self.volume)

    def __eq__(self, other):
        return (
            isinstance(other, TelephoneEvent)
            and self.event == other.event
            and self.duration == other.duration
            and self.end == other.end
            and self.volume == other.volume
        )

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return "TelephoneEvent(event=%d, duration=%d, end=%s, volume=%d)" % (
            self.event,
            self.duration,
            self.end,
            self.volume,
        )


def _check_int(name, value, low, high):
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise LocalTelephoneEventError("%s must be an integer %d..%d, got %r" % (name, low, high, value))


def encode_payload(event, duration, end=False, volume=DEFAULT_VOLUME):
    """The 4-byte payload for one event report (R bit 0)."""
    _check_int("event", event, 0, 255)
    _check_int("duration", duration, 0, MAX_DURATION)
    _check_int("volume", volume, 0, _VOLUME_MASK)
    return bytes((event, (_E_BIT if end else 0) | volume, duration >> 8, duration & 0xFF))


def decode_payload(payload):
    """A TelephoneEvent from a received payload. Only single-event payloads
    are accepted (what DTMF senders send); anything else is a
    RemoteTelephoneEventError, which the caller counts and drops."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise RemoteTelephoneEventError("telephone-event payload must be bytes, not %s" % type(payload).__name__)
    length = len(payload)
    if length != _PAYLOAD_LEN:
        if length and length % _PAYLOAD_LEN == 0:
            raise RemoteTelephoneEventError("multiple events in one payload are not supported")
        raise RemoteTelephoneEventError("telephone-event payload is %d bytes, not 4" % length)
    flags = payload[1]
    return TelephoneEvent(
        payload[0],
        (payload[2] << 8) | payload[3],
        bool(flags & _E_BIT),
        flags & _VOLUME_MASK,
    )


# --- sending: the packets for one key press ---------------------------------


class EventPacket:
    """One packet the sender must send for a key press.

    send_at: when to send it, in timestamp units after the key went down.
    timestamp_offset: add to the key press's RTP timestamp (non-zero only
        for the later segments of a press longer than MAX_DURATION).
    marker: set the RTP marker bit. payload: the 4 payload bytes."""

    def __init__(self, send_at, timestamp_offset, marker, event):
        self.send_at = send_at
        self.timestamp_offset = timestamp_offset
        self.marker = marker
        self.event = event
        self.payload = event.encode()

    def __repr__(self):
        return "EventPacket(send_at=%d, timestamp_offset=%d, marker=%s, %r)" % (
            self.send_at,
            self.timestamp_offset,
            self.marker,
            self.event,
        )


def key_press_packets(key, duration, interval=DEFAULT_INTERVAL, volume=DEFAULT_VOLUME):
    """Yields the EventPackets for one key press of `duration` timestamp
    units, updated every `interval` units (50 ms, or the audio ptime):

    - one packet per interval while the key is down, the duration field
      growing; the first of them carries the marker bit;
    - then the final packet (E bit, the full duration) three times, one
      interval apart, all with the same timestamp.

    A press longer than MAX_DURATION is split into segments (RFC 4733
    2.5.1.3): a segment's last report carries MAX_DURATION without the E
    bit, the next segment's timestamp is MAX_DURATION later and has no
    marker. (That last report is sent once, not three times.)"""
    code = event_for_key(key)
    _check_int("duration", duration, 1, 0x7FFFFFFF)
    _check_int("interval", interval, 1, MAX_DURATION)
    _check_int("volume", volume, 0, _VOLUME_MASK)
    segment_start = 0
    elapsed = 0
    marker = True
    while True:
        elapsed = min(elapsed + interval, duration)
        while elapsed - segment_start > MAX_DURATION:
            yield EventPacket(elapsed, segment_start, marker, TelephoneEvent(code, MAX_DURATION, False, volume))
            marker = False
            segment_start += MAX_DURATION
        if elapsed >= duration:
            break
        yield EventPacket(elapsed, segment_start, marker, TelephoneEvent(code, elapsed - segment_start, False, volume))
        marker = False
    final = TelephoneEvent(code, duration - segment_start, True, volume)
    for i in range(END_PACKETS):
        yield EventPacket(duration + i * interval, segment_start, marker, final)
        marker = False


# --- receiving: each key press reported once --------------------------------


class KeyPress:
    """A key press reported by DtmfReceiver."""

    def __init__(self, key, timestamp, volume):
        self.key = key
        self.timestamp = timestamp
        self.volume = volume

    def __repr__(self):
        return "KeyPress(%r, timestamp=%d, volume=%d)" % (self.key, self.timestamp, self.volume)


class DtmfReceiver:
    """Turns received telephone-event payloads into key presses.

    A key press arrives as many packets (updates, three end packets, maybe
    retransmissions, in any order); they share the RTP timestamp of the
    press, so a press is reported the first time its timestamp is seen. The
    timestamps of the last `history` presses are remembered. Events that are
    not DTMF keys (16 and up: flash, tones) are counted in `ignored`."""

    def __init__(self, history=16):
        self._history = history
        self._recent = []  # [timestamp, event, ended], oldest first
        self.ignored = 0

    def receive(self, timestamp, payload, marker=False):
        """Feed one payload with its packet's RTP timestamp and marker bit.
        Returns a KeyPress for a new press, else None; raises
        RemoteTelephoneEventError for a malformed payload."""
        report = decode_payload(payload)
        if report.event >= len(KEYS):
            self.ignored += 1
            return None
        timestamp &= _TIMESTAMP_MASK
        for entry in self._recent:
            if entry[0] == timestamp:
                entry[2] = entry[2] or report.end
                return None
        if self._continues_last_press(timestamp, report, marker):
            self._remember(timestamp, report)
            return None
        self._remember(timestamp, report)
        return KeyPress(KEYS[report.event], timestamp, report.volume)

    def _continues_last_press(self, timestamp, report, marker):
        # A new segment of a long press: no marker, same key, the previous
        # segment not ended, and a timestamp exactly one full segment later.
        if marker or not self._recent:
            return False
        last_timestamp, last_event, last_ended = self._recent[-1]
        return (
            not last_ended
            and last_event == report.event
            and (timestamp - last_timestamp) & _TIMESTAMP_MASK == MAX_DURATION
        )

    def _remember(self, timestamp, report):
        self._recent.append([timestamp, report.event, report.end])
        if len(self._recent) > self._history:
            self._recent.pop(0)
