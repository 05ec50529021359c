# Two ZRTP engines joined by a simulated network with a fake clock, for the
# ZRTP core tests on both runtimes. Loss, reordering and tampering are
# deterministic so every run sees the same packets.
from hushphone.crypto.sha import sha256
from hushphone.zrtp.cache import MemoryStorage, ZidCache
from hushphone.zrtp.engine import ZrtpConfig, ZrtpEngine


class DetRandom:
    """A deterministic byte source (SHA-256 in counter mode) so that a
    failing run can be replayed. Test use only."""

    def __init__(self, seed):
        self._seed = seed
        self._counter = 0

    def __call__(self, n):
        out = b""
        while len(out) < n:
            self._counter += 1
            out += sha256(self._seed + str(self._counter).encode())
        return out[:n]


class Party:
    """One endpoint: its storage and ZID cache outlive a call, the engine
    is made per call."""

    def __init__(self, name, storage=None):
        self.name = name
        self.random = DetRandom(name.encode())
        self.storage = storage if storage is not None else MemoryStorage()
        self.cache = ZidCache(self.storage, self.random)

    def engine(self, config=None, wall_time_s=1000, **kwargs):
        return ZrtpEngine(self.cache, self.random, config or ZrtpConfig(), wall_time_s=wall_time_s, **kwargs)


class FakeLink:
    """Delivers each side's datagrams to the other after `latency` ms.
    drop(n, direction, datagram) -> True drops the n-th datagram;
    tamper(datagram, direction) -> replacement bytes; reorder=True gives
    alternate packets very different delays so they overtake each other."""

    def __init__(self, a, b, latency=10, drop=None, tamper=None, reorder=False):
        self.a = a
        self.b = b
        self.latency = latency
        self.drop = drop
        self.tamper = tamper
        self.reorder = reorder
        self.now = 0
        self.in_flight = []  # (due, order, destination, datagram)
        self.sent = 0
        self.dropped = 0
        self.events = {id(a): [], id(b): []}
        self._order = 0

    def _collect(self, src, dst, direction):
        for d in src.datagrams_to_send():
            self.sent += 1
            if self.drop is not None and self.drop(self.sent, direction, d):
                self.dropped += 1
                continue
            if self.tamper is not None:
                d = self.tamper(d, direction)
            delay = self.latency
            if self.reorder:
                delay = self.latency * (4 if self.sent % 2 else 1)
            self._order += 1
            self.in_flight.append((self.now + delay, self._order, dst, d))
        while True:
            e = src.next_event()
            if e is None:
                break
            self.events[id(src)].append(e)

    def flush(self):
        self._collect(self.a, self.b, "a->b")
        self._collect(self.b, self.a, "b->a")

    def start(self):
        self.a.start(self.now)
        self.b.start(self.now)
        self.flush()

    def run(self, until=60000, stop=None, max_steps=5000):
        """Advance the clock event by event until both engines are done
        (secure or failed), `stop()` is true, or `until` ms."""
        for _ in range(max_steps):
            if stop is not None and stop():
                return
            if stop is None and _done(self.a) and _done(self.b) and not self.in_flight:
                return
            times = [item[0] for item in self.in_flight]
            for e in (self.a, self.b):
                t = e.get_timer()
                if t is not None:
                    times.append(t)
            if not times:
                return
            self.now = max(self.now, min(times))
            if self.now > until:
                return
            due = sorted([item for item in self.in_flight if item[0] <= self.now], key=lambda item: (item[0], item[1]))
            self.in_flight = [item for item in self.in_flight if item[0] > self.now]
            for _, _, dst, d in due:
                dst.receive(d, self.now)
                self.flush()
            for e in (self.a, self.b):
                t = e.get_timer()
                if t is not None and t <= self.now:
                    e.handle_timer(self.now)
            self.flush()
        raise AssertionError("fake link did not settle in %d steps" % max_steps)

    def events_of(self, engine, cls):
        return [e for e in self.events[id(engine)] if isinstance(e, cls)]


def _done(engine):
    return engine.state in ("secure", "failed")
