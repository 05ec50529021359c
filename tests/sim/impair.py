"""A UDP impairment relay for the media of one call, and the Kamailio that
puts it into the call.

    relay = ImpairmentRelay(Impairment(loss=0.05, jitter_ms=40, seed=1))
    with relay, RelayingKamailio(run_dir, pki, users, relay) as proxy:
        ... handsets register with proxy and call each other ...
        relay.stats["caller>callee"].lost / .duplicated / .reordered

How it gets into the call: the proxy acts as a session border controller
(as Kamailio with rtpproxy does in real deployments). It rewrites the media
port of every SDP it relays to one of the relay's two ports (the offer's
to `caller_port`: that is where the callee sends to reach the caller; the
answer's to `callee_port`; the address stays 127.0.0.1), so each handset
sends its SRTP to the relay. The relay learns
where each handset really is from the packets it sends (latching, as media
relays do behind NAT: a handset sends and receives on one socket) and
forwards each packet out of the other port, impaired. The handsets are not
told anything and need no test hook; SRTP keys (inside the SDP) pass
unchanged, and the relay only ever sees encrypted packets.

Impairments are per direction, seeded (the same seed gives the same
decisions for the same packet sequence) and bounded: a packet is delayed
by `delay_ms` plus a uniform share of `jitter_ms` (packets 20 ms apart
with up to 40 ms of jitter overtake each other), held back a further
`reorder_ms` with probability `reorder` (overtaken by the next ones),
dropped with probability `loss`, sent twice with probability `duplicate`
(the copy with its own delay). The relay runs in one thread, stops after
`max_seconds` or `max_packets` whatever happens, and counts everything it
did so tests can compare with what the handsets report."""
import heapq
import random
import re
import select
import socket
import threading
import time
from collections import deque

from tests.sim.kamailio import Kamailio

CALLER_TO_CALLEE = "caller>callee"
CALLEE_TO_CALLER = "callee>caller"
_MAX_DATAGRAM = 4096
_KEEP_RECENT = 64  # packets remembered per direction (tests forge from them)


class Impairment:
    """What happens to the packets of one direction."""

    def __init__(self, loss=0.0, jitter_ms=0, delay_ms=0, duplicate=0.0, seed=0, reorder=0.0, reorder_ms=50):
        if not (0.0 <= loss < 1.0 and 0.0 <= duplicate < 1.0 and 0.0 <= reorder < 1.0):
            raise ValueError("loss, duplicate and reorder are probabilities below 1")
        if jitter_ms < 0 or delay_ms < 0 or reorder_ms < 0:
            raise ValueError("delays cannot be negative")
        self.loss = loss
        self.jitter_ms = jitter_ms
        self.delay_ms = delay_ms
        self.duplicate = duplicate
        self.seed = seed
        self.reorder = reorder  # probability that a packet is held back by reorder_ms (overtaken)
        self.reorder_ms = reorder_ms

    def other_direction(self):
        """The same impairment with its own seed, for the way back."""
        return Impairment(self.loss, self.jitter_ms, self.delay_ms, self.duplicate, self.seed + 1,
                          self.reorder, self.reorder_ms)

    def __repr__(self):
        return "Impairment(loss=%s, jitter_ms=%s, delay_ms=%s, duplicate=%s, reorder=%s, seed=%s)" % (
            self.loss, self.jitter_ms, self.delay_ms, self.duplicate, self.reorder, self.seed)


class DirectionStats:
    """What the relay did to one direction's packets."""

    def __init__(self):
        self.received = 0  # packets that arrived at the relay
        self.unlatched = 0  # arrived before the other handset was known: dropped
        self.lost = 0  # dropped on purpose
        self.duplicated = 0  # extra copies sent
        self.forwarded = 0  # datagrams sent on, copies included
        self.reordered = 0  # sent after a packet that arrived later than it
        self.max_release_lag_ms = 0.0  # how late the relay's own scheduling ran (should be ~ms)

    def as_dict(self):
        return dict(vars(self))

    def __repr__(self):
        return "DirectionStats(%s)" % self.as_dict()


class _Leg:
    """One relay port: the socket a handset sends to, and that handset's
    address once it has sent something."""

    def __init__(self, host):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.peer = None


class ImpairmentRelay:
    """Two UDP ports on loopback; see the module text. `caller_port` is
    where the callee sends (it reaches the caller), `callee_port` where the
    caller sends. `stats[direction]` are DirectionStats (read them with
    snapshot()); recent_packets(direction) the last packets seen, as they
    arrived."""

    def __init__(self, caller_to_callee=None, callee_to_caller=None, host="127.0.0.1",
                 max_seconds=300.0, max_packets=200000):
        self._to_caller = _Leg(host)  # the callee sends here
        self._to_callee = _Leg(host)  # the caller sends here
        self.caller_port = self._to_caller.port
        self.callee_port = self._to_callee.port
        impair_out = caller_to_callee or Impairment()
        # One impairment given: the same for both directions, with its own seed.
        impair_back = callee_to_caller or impair_out.other_direction()
        # direction name, leg packets arrive on, leg they leave from, impairment, seeded rng
        self._directions = {
            self._to_callee.sock: (CALLER_TO_CALLEE, self._to_callee, self._to_caller, impair_out,
                                   random.Random(impair_out.seed)),
            self._to_caller.sock: (CALLEE_TO_CALLER, self._to_caller, self._to_callee, impair_back,
                                   random.Random(impair_back.seed)),
        }
        self.stats = {CALLER_TO_CALLEE: DirectionStats(), CALLEE_TO_CALLER: DirectionStats()}
        self.recent = {CALLER_TO_CALLEE: deque(maxlen=_KEEP_RECENT), CALLEE_TO_CALLER: deque(maxlen=_KEEP_RECENT)}
        self.max_seconds = max_seconds
        self.max_packets = max_packets
        self._queue = []  # (release time, tie-break, direction, arrival number, data, leg out)
        self._arrivals = {CALLER_TO_CALLEE: 0, CALLEE_TO_CALLER: 0}
        self._highest_sent = {CALLER_TO_CALLEE: -1, CALLEE_TO_CALLER: -1}
        self._tie = 0
        self._stop = threading.Event()
        self._thread = None
        self.error = None  # an exception that ended the relay thread early
        self._lock = threading.Lock()

    # -- where the handsets are -------------------------------------------

    @property
    def caller_address(self):
        """The caller's media address as latched from its packets (or None)."""
        return self._to_callee.peer

    @property
    def callee_address(self):
        return self._to_caller.peer

    def recent_packets(self, direction):
        """A copy of the last packets seen in one direction (oldest first)."""
        with self._lock:
            return list(self.recent[direction])

    def snapshot(self):
        """A consistent copy of the counters: {direction: dict}."""
        with self._lock:
            return {d: s.as_dict() for d, s in self.stats.items()}

    # -- life cycle ---------------------------------------------------------

    def start(self):
        self._thread = threading.Thread(target=self._run, name="impairment-relay", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        for leg in (self._to_caller, self._to_callee):
            leg.sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- the loop -----------------------------------------------------------

    def _run(self):
        try:
            self._loop()
        except Exception as e:  # reported to the test, which asserts on it
            self.error = e

    def _loop(self):
        deadline = time.monotonic() + self.max_seconds
        socks = list(self._directions)
        total = 0
        while not self._stop.is_set() and time.monotonic() < deadline and total < self.max_packets:
            now = time.monotonic()
            wait = 0.05
            if self._queue:
                wait = max(0.0, min(wait, self._queue[0][0] - now))
            readable, _, _ = select.select(socks, [], [], wait)
            now = time.monotonic()
            for sock in readable:
                for _ in range(64):  # bounded per wake-up
                    try:
                        data, addr = sock.recvfrom(_MAX_DATAGRAM)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break  # e.g. ICMP unreachable from an earlier send
                    total += 1
                    self._arrived(sock, data, addr, now)
            self._release(time.monotonic())

    def _arrived(self, sock, data, addr, now):
        name, leg_in, leg_out, impairment, rng = self._directions[sock]
        stats = self.stats[name]
        with self._lock:
            leg_in.peer = addr  # latch: where this handset sends from is where it listens
            self.recent[name].append(data)
            stats.received += 1
            number = self._arrivals[name]
            self._arrivals[name] = number + 1
            # Draw every decision for every packet, so one seed gives one
            # pattern whatever happens to earlier packets.
            lose = rng.random() < impairment.loss
            delay = (impairment.delay_ms + rng.random() * impairment.jitter_ms) / 1000.0
            if rng.random() < impairment.reorder:
                delay += impairment.reorder_ms / 1000.0
            copy = rng.random() < impairment.duplicate
            copy_delay = (impairment.delay_ms + rng.random() * impairment.jitter_ms) / 1000.0
            if leg_out.peer is None:
                stats.unlatched += 1
                return
            if lose:
                stats.lost += 1
                return
            self._schedule(now + delay, name, number, data, leg_out)
            if copy:
                stats.duplicated += 1
                self._schedule(now + copy_delay, name, number, data, leg_out)

    def _schedule(self, when, name, number, data, leg_out):
        self._tie += 1
        heapq.heappush(self._queue, (when, self._tie, name, number, data, leg_out))

    def _release(self, now):
        while self._queue and self._queue[0][0] <= now:
            when, _tie, name, number, data, leg_out = heapq.heappop(self._queue)
            stats = self.stats[name]
            with self._lock:
                if number < self._highest_sent[name]:
                    stats.reordered += 1
                else:
                    self._highest_sent[name] = number
                stats.forwarded += 1
                late_ms = (now - when) * 1000.0
                stats.max_release_lag_ms = max(stats.max_release_lag_ms, late_ms)
            try:
                leg_out.sock.sendto(data, leg_out.peer)
            except OSError:
                pass  # the handset's port closed (call over): UDP carries on


# --- putting the relay into the call ----------------------------------------

_AUDIO_PORT = re.compile(r"m=audio [0-9]+ ")


class RelayingKamailio(Kamailio):
    """The test Kamailio (tests/sim/kamailio.py) that also points the media
    of every INVITE/answer it relays at an ImpairmentRelay: the offer's
    `m=audio` port becomes the relay's caller_port (the callee sends there),
    the answer's the relay's callee_port (textops subst_body; Kamailio fixes
    Content-Length). A re-INVITE from the callee would be rewritten like an
    offer from the caller: the tests using it do not send one.
    Only the port changes: the handsets are on 127.0.0.1, like the relay."""

    def __init__(self, run_dir, pki, users, relay, **kwargs):
        super().__init__(run_dir, pki, users, **kwargs)
        self.relay = relay

    def _write_config(self):
        cfg = super()._write_config()
        text = cfg.read_text()
        offer = (
            '    if (is_method("INVITE") && has_body("application/sdp")) {\n'
            '        subst_body("/m=audio [0-9]+ /m=audio %d /");\n'
            "    }\n" % self.relay.caller_port
        )
        answer = (
            '    if (has_body("application/sdp")) {\n'
            '        subst_body("/m=audio [0-9]+ /m=audio %d /");\n'
            "    }\n" % self.relay.callee_port
        )
        text = _insert_after(text, "route[RELAY] {\n", offer)
        text = _insert_after(text, "onreply_route[REPLY] {\n", answer)
        cfg.write_text(text)
        return cfg


def _insert_after(text, anchor, addition):
    at = text.find(anchor)
    if at < 0:
        raise RuntimeError("the Kamailio configuration has no %r any more: update RelayingKamailio" % anchor)
    at += len(anchor)
    return text[:at] + addition + text[at:]


def media_port(sdp_body):
    """The audio port of an SDP body (bytes or str), or None."""
    if isinstance(sdp_body, bytes):
        sdp_body = sdp_body.decode("utf-8", "replace")
    m = _AUDIO_PORT.search(sdp_body)
    return int(m.group(0).split()[1]) if m else None
