# Jitter buffer and loss concealment for 20 ms audio frames (sans-IO).
#
# Packets go in with put(seq, timestamp, payload, now_ms) as they arrive;
# pop(now_ms) is called once per ptime by the playout clock and returns the
# next payload in sequence order, or None when it is missing (the caller
# then conceals). Slots are preallocated: nothing is allocated per packet.
#
# Depth adapts between min_ms and max_ms: it follows the RFC 3550
# interarrival jitter estimate, grows by one frame whenever a packet
# arrives too late to be played, and shrinks back after a quiet period.
# A larger depth is reached by playing one concealment frame without
# advancing; a smaller one by dropping a frame once the queue has stayed
# too long for a while (not on a single burst).
from hushphone.audio.pcm import copy_into, fill_zero, scale_into
from hushphone.compat import const

# put() results
ACCEPTED = const(0)
DUPLICATE = const(1)
LATE = const(2)
RESYNC = const(3)  # far outside the window: the stream restarted
BAD_SIZE = const(4)

# pop() states (also in .last_state)
WAITING = const(0)  # filling up before playout (start or after an outage)
PLAYED = const(1)
LOST = const(2)  # the packet was not there in time: conceal
STRETCHED = const(3)  # one frame inserted to deepen the buffer

_CAPACITY = const(16)  # slots: the reordering window, power of two
_MASK = const(15)
_EMPTY = const(-1)
_SHRINK_AFTER = const(500)  # pops without a late packet before depth shrinks (10 s)
_TRIM_AFTER = const(25)  # pops with a long queue before one frame is dropped (0.5 s)
_OUTAGE = const(5)  # consecutive losses with an empty buffer: refill before playing again
_HISTORY = const(30)  # played-or-not bits kept to tell duplicates from late packets
_HISTORY_MASK = const(0x3FFFFFFF)


def _seq_diff(a, b):
    """a - b on the 16-bit sequence circle, in -32768..32767."""
    d = (a - b) & 0xFFFF
    if d >= 0x8000:
        d -= 0x10000
    return d


class JitterStats:
    """Counters of what happened to received frames."""

    def __init__(self):
        self.accepted = 0
        self.played = 0
        self.lost = 0  # concealed because the packet was not there in time
        self.late = 0  # arrived after its playout time, dropped
        self.duplicate = 0
        self.trimmed = 0  # dropped to bring the depth back down
        self.stretched = 0
        self.resyncs = 0
        self.bad_size = 0


class JitterBuffer:
    def __init__(self, payload_size, ptime_ms=20, min_ms=40, max_ms=120, clock_rate=8000):
        if payload_size <= 0 or ptime_ms <= 0 or not 0 < min_ms <= max_ms:
            raise ValueError("bad jitter buffer parameters")
        self.payload_size = payload_size
        self.ptime_ms = ptime_ms
        self.min_frames = (min_ms + ptime_ms - 1) // ptime_ms
        self.max_frames = min(max_ms // ptime_ms, _CAPACITY - 2)
        if self.max_frames < self.min_frames:
            self.max_frames = self.min_frames
        self._units_per_ms = clock_rate // 1000
        self._slots = [bytearray(payload_size) for _ in range(_CAPACITY)]
        self._slot_seq = [_EMPTY] * _CAPACITY
        self.stats = JitterStats()
        self.target_frames = self.min_frames
        self.last_state = WAITING
        self._jitter16 = 0  # RFC 3550 jitter estimate in timestamp units, x16
        self._late_frames = 0  # extra depth asked for by late packets
        self._since_late = 0
        self._long_queue = 0
        self._stretch = 0
        self._reset()

    def _reset(self):
        for i in range(_CAPACITY):
            self._slot_seq[i] = _EMPTY
        self._count = 0
        self._started = False
        self._next = 0  # next sequence number to play (when started)
        self._lowest = 0  # lowest stored sequence number (while waiting)
        self._highest = 0
        self._misses = 0
        self._played = 0  # bit i: sequence number _next-1-i was played
        self._prev_arrival = None
        self._prev_ts = 0

    # -- input ---------------------------------------------------------

    def put(self, seq, timestamp, payload, now_ms, offset=0, length=-1):
        """Store one received payload (payload[offset:offset+length], all
        of it by default: no slice object needed); returns ACCEPTED or why
        it was not."""
        stats = self.stats
        if length < 0:
            length = len(payload) - offset
        if length != self.payload_size:
            stats.bad_size += 1
            return BAD_SIZE
        seq &= 0xFFFF
        result = ACCEPTED
        if self._count == 0 and not self._started:
            self._lowest = seq
            self._highest = seq
        elif self._started:
            d = _seq_diff(seq, self._next)
            if -_HISTORY <= d < 0 and (self._played >> (-d - 1)) & 1:
                stats.duplicate += 1  # a copy of one already played
                return DUPLICATE
            if -0x1000 < d < 0:
                stats.late += 1
                self._on_late()
                return LATE
            if d < 0 or d >= _CAPACITY - 1:
                self._resync(seq)  # far outside the window: the peer restarted
                result = RESYNC
        else:
            d = _seq_diff(seq, self._lowest)
            if d >= _CAPACITY - 1 or _seq_diff(self._highest, seq) >= _CAPACITY - 1:
                self._resync(seq)
                result = RESYNC
            elif d < 0:
                self._lowest = seq  # reordered while filling up
        slot = seq & _MASK
        if self._slot_seq[slot] == seq:
            stats.duplicate += 1
            return DUPLICATE
        if self._slot_seq[slot] == _EMPTY:
            self._count += 1
        self._slot_seq[slot] = seq
        copy_into(self._slots[slot], payload, offset, length)
        if _seq_diff(seq, self._highest) > 0:
            self._highest = seq
        stats.accepted += 1
        self._update_jitter(timestamp, now_ms)
        return result

    def _resync(self, seq):
        self.stats.resyncs += 1
        self._reset()
        self._lowest = seq
        self._highest = seq

    def _on_late(self):
        self._since_late = 0
        before = self.target_frames
        if before < self.max_frames:
            self._late_frames += 1
            self._retarget()
            self._stretch += self.target_frames - before

    def _update_jitter(self, timestamp, now_ms):
        # RFC 3550 §6.4.1: J += (|D| - J) / 16, D = difference of transit times.
        arrival = now_ms * self._units_per_ms
        if self._prev_arrival is not None:
            # modulo 2**24: callers may pass the low 24 bits of the RTP
            # timestamp (a small int on a 32-bit port)
            ts_delta = (timestamp - self._prev_ts) & 0xFFFFFF
            if ts_delta >= 0x800000:
                ts_delta -= 0x1000000
            d = (arrival - self._prev_arrival) - ts_delta
            if d < 0:
                d = -d
            self._jitter16 += d - ((self._jitter16 + 8) >> 4)
        self._prev_arrival = arrival
        self._prev_ts = timestamp & 0xFFFFFF
        self._retarget()

    def _retarget(self):
        # Depth to cover the jitter (one frame plus four times the mean
        # deviation, at least min), plus what late packets showed was missing.
        jitter_ms = self.jitter_ms()
        frames = (self.ptime_ms + 4 * jitter_ms + self.ptime_ms - 1) // self.ptime_ms
        if frames < self.min_frames:
            frames = self.min_frames
        frames += self._late_frames
        if frames > self.max_frames:
            frames = self.max_frames
        self.target_frames = frames

    def jitter_ms(self):
        return (self._jitter16 >> 4) // self._units_per_ms

    @property
    def depth_ms(self):
        return self.target_frames * self.ptime_ms

    def buffered(self):
        return self._count

    # -- output --------------------------------------------------------

    def pop(self, now_ms):
        """The payload to play now (a preallocated buffer, valid until the
        next put/pop), or None; .last_state says which case it was."""
        if not self._started:
            if self._count == 0 or _seq_diff(self._highest, self._lowest) + 1 < self.target_frames:
                self.last_state = WAITING
                return None
            self._started = True
            self._next = self._lowest
            self._misses = 0
            self._stretch = 0
        self._adapt()
        if self._stretch > 0:
            self._stretch -= 1
            self.stats.stretched += 1
            self.last_state = STRETCHED
            return None
        if self._long_queue >= _TRIM_AFTER:
            self._long_queue = 0
            if self._take(self._next) is not None:
                self.stats.trimmed += 1
            self._next = (self._next + 1) & 0xFFFF
            self._played = (self._played << 1) & _HISTORY_MASK
        seq = self._next
        self._next = (seq + 1) & 0xFFFF
        payload = self._take(seq)
        self._played = ((self._played << 1) | (payload is not None)) & _HISTORY_MASK
        if payload is None:
            self.stats.lost += 1
            self.last_state = LOST
            if self._count == 0:
                self._misses += 1
                if self._misses >= _OUTAGE:
                    self._reset()  # nothing coming: refill before playing again
            return None
        self._misses = 0
        self.stats.played += 1
        self.last_state = PLAYED
        return payload

    def _take(self, seq):
        slot = seq & _MASK
        if self._slot_seq[slot] != seq:
            return None
        self._slot_seq[slot] = _EMPTY
        self._count -= 1
        return self._slots[slot]

    def _adapt(self):
        # Shrink the target after a quiet period; notice a queue that stays
        # longer than the target (after a burst or a shrink) so pop() trims.
        self._since_late += 1
        if self._since_late >= _SHRINK_AFTER:
            self._since_late = 0
            if self._late_frames > 0:
                self._late_frames -= 1
                self._retarget()
        queued = _seq_diff(self._highest, self._next) + 1
        if queued > self.target_frames + 1:
            self._long_queue += 1
        else:
            self._long_queue = 0


# Gains (x/256) for consecutive concealed frames: repeat, then fade out.
_FADE = (256, 192, 128, 64)


class Concealer:
    """Keeps the last good PCM frame and fills gaps with it, fading out
    over a few frames to silence (a repeat hides one lost packet well; a
    long repeat sounds like a buzz)."""

    def __init__(self, frame_bytes=320):
        self.frame_bytes = frame_bytes
        self._last = bytearray(frame_bytes)
        self._run = len(_FADE)  # start silent: nothing to repeat yet

    def good(self, pcm):
        """Remember a frame that was played as received."""
        copy_into(self._last, pcm, 0, self.frame_bytes)
        self._run = 0

    def conceal_into(self, out):
        """Write the concealment for the next missing frame into `out`;
        returns the gain used (256 = plain repeat, 0 = silence)."""
        run = self._run
        if run < len(_FADE):
            gain = _FADE[run]
            self._run = run + 1
            if gain == 256:
                copy_into(out, self._last, 0, self.frame_bytes)
            else:
                scale_into(out, self._last, self.frame_bytes, gain)
            return gain
        fill_zero(out, self.frame_bytes)
        return 0
