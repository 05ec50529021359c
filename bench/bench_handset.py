"""Whole-handset figures on the MicroPython unix port: one simulated handset
(the phone app, precompiled .mpy as a handset runs it frozen) in a real
call with another through Kamailio over TLS, end-to-end keys and SRTP.

- CPU: the handset process's CPU time (/proc schedstat) while
  registered and idle, then during the call; the difference per 20 ms
  frame is what the call costs the whole handset (media path, SIP, ZRTP,
  display, console), against the 20 ms frame period.
- Heap: the app's code once imported, and the most live heap the handset
  held: the app runs with its 20 ms tick wrapped to collect garbage and
  read gc.mem_alloc() once a second (the only instrumentation; the rest is
  the app as is), the maximum read from its REPL after the call.

bench/bench_media.py has the media path on its own (one frame through
MediaSession, with libsrtp/audioop as the reference); bench/bench_phone.py
has call setup times and each handset's CPU and heap snapshot over several
calls. This adds the peak (not a snapshot) and the split between the app's
code and what the running phone holds, which size a handset's heap, and
the call's own CPU per frame with the scheduler's nanosecond clock.

Run: .venv/bin/python bench/bench_handset.py   (or `make bench`)"""
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host_tools"))

from tests.hil.simdut import compile_firmware, handset_config, start_handset  # noqa: E402
from tests.sim.kamailio import Kamailio  # noqa: E402
from tests.sim.pki import TestPki  # noqa: E402
from tests.sim.small_heap import _prelude, bare_heap_free, code_span, heapsize_kib, import_footprint  # noqa: E402
from bench.bench_media import reference_figures  # noqa: E402

IDLE_S = 8.0
CALL_S = 15.0
WAIT_S = 60.0
# In-call ticks timed per heap: 10,000 (200 s of call each);
# HUSHPHONE_BENCH_HANDSET_S shortens it while developing.
TICKS_S = float(os.environ.get("HUSHPHONE_BENCH_HANDSET_S", "204"))
_TICK = os.sysconf("SC_CLK_TCK")

# The app's own sim entry (hushphone.app.phone.main) with the tick wrapped
# to sample the live heap once a second (50 ticks). The simulated display
# keeps 2 screens of history (display_history: kept for tests, a handset
# keeps none), as in tests/sim/test_call_memory.py.
_SAMPLED = """
import gc, sys
import hushphone.app.phone as app
peak = [0, 0]
_tick = app.Phone._tick
def sampled_tick(self, now):
    _tick(self, now)
    peak[1] += 1
    if peak[1] % 50 == 0:
        gc.collect()
        peak[0] = max(peak[0], gc.mem_alloc())
app.Phone._tick = sampled_tick
app.main(["phone", sys.argv[-1]])
"""


# The same app in a small-heap handset (tests/sim/small_heap.py: the code
# laid out below exactly `phone_heap` free bytes, as if frozen in flash),
# its 20 ms tick timed while in an established call: every tick (the
# steady state, collections that fall in it included), the worst tick,
# and the idle collector's work in the ticks' spare time.
_TIMED = """
import gc, sys, time
import hushphone.app.phone as app
from hushphone.app import callcontrol as cc
from hushphone.app import idlegc
T = [0, 0, 0, None, 0, 0]  # ticks, total us, worst us, best round of 50, worst refresh us, worst tick without one
_acc = [0]
_drew = [False]
_tick = app.Phone._tick
_refresh = app.Phone.refresh
def timed_refresh(self, *args, **kwargs):
    t0 = time.ticks_us()
    _refresh(self, *args, **kwargs)
    d = time.ticks_diff(time.ticks_us(), t0)
    _drew[0] = True
    if d > T[4]:
        T[4] = d
def timed_tick(self, now):
    _drew[0] = False
    t0 = time.ticks_us()
    _tick(self, now)
    d = time.ticks_diff(time.ticks_us(), t0)
    line = self.calls.current
    if line is not None and line.state == cc.IN_CALL and line.ref is not None:
        s = line.ref[1].session
        if s is not None and s.stats.received > 100:
            T[0] += 1
            T[1] += d
            if d > T[2]:
                T[2] = d
            if not _drew[0] and d > T[5]:
                T[5] = d
            _acc[0] += d
            if T[0] % 50 == 0:
                if T[3] is None or _acc[0] < T[3]:
                    T[3] = _acc[0]
                _acc[0] = 0
app.Phone._tick = timed_tick
app.Phone.refresh = timed_refresh
app.main(["phone", sys.argv[-1]])
c = idlegc._collector
print("TICKSTATS", T[0], T[1], T[2], T[3], c.collections if c else 0, c.worst_us if c else 0, T[4], T[5])
"""


def _fifo_tree(pid):
    """SCHED_FIFO for a handset's processes (it sleeps most of each tick)."""
    try:
        kids = Path("/proc/%d/task/%d/children" % (pid, pid)).read_text().split()
    except OSError:
        kids = []
    for p in [pid] + [int(k) for k in kids]:
        try:
            os.sched_setscheduler(p, os.SCHED_FIFO, os.sched_param(1))
        except (AttributeError, PermissionError, OSError):
            return False
    return True


def tick_latency(tmp, mpy, proxy, pki, users, heap_label, phone_heap):
    """One call from a small-heap handset; its in-call tick statistics."""
    span = code_span(mpy)
    heap_kib = heapsize_kib(span, phone_heap)
    root = Path(tmp) / ("ticks-" + heap_label)
    root.mkdir()
    configs = {u: handset_config(str(root), u, users[u], proxy, pki.ca.cert_der, tone_hz=1000,
                                 display_history=2) for u in users}
    alice = start_handset(configs["alice"], heapsize="%dK" % heap_kib, module_path=mpy,
                          entry=("-c", _prelude(phone_heap) + _TIMED))
    bob = start_handset(configs["bob"], module_path=mpy)
    try:
        alice.wait_event("registered", WAIT_S)
        bob.wait_event("registered", WAIT_S)
        fifo = _fifo_tree(alice.proc.pid)
        alice.send_line("dial bob")
        bob.wait_event("incoming", WAIT_S)
        bob.send_line("answer")
        in_call = alice.wait_event("in_call", WAIT_S)
        if in_call["security"] == "zrtp":
            alice.wait_event("secure", WAIT_S)
        time.sleep(TICKS_S)
        alice.send_line("hangup")
        alice.wait_event("ended", WAIT_S)
        alice.send_line("quit")
        deadline = time.monotonic() + WAIT_S
        found = None
        while found is None and time.monotonic() < deadline:
            found = re.search(r"TICKSTATS (\d+) (\d+) (\d+) (\d+|None) (\d+) (\d+) (\d+) (\d+)", alice.text())
            time.sleep(0.1)
    finally:
        alice.close()
        bob.quit()
    if not found:
        raise SystemExit("the timed handset did not report its ticks:\n" + alice.text()[-2000:])
    n, total, worst, best, collections, collect_worst, refresh, plain = (
        int(x) if x != "None" else 0 for x in found.groups())
    return {"ticks": n, "steady": total / max(n, 1), "best": best / 50.0, "worst": worst,
            "refresh_worst": refresh, "worst_no_refresh": plain,
            "collections": collections, "collect_worst": collect_worst, "fifo": fifo, "security": in_call["security"]}


def cpu_seconds(pid):
    """CPU time of a (single-threaded) process in seconds: the scheduler's
    nanosecond count (/proc/PID/schedstat) where there is one, else utime +
    stime in clock ticks (/proc/PID/stat)."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK


def cpu_rate(pid, seconds):
    """CPU seconds per wall second over `seconds`."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


def main():
    with tempfile.TemporaryDirectory(prefix="bench-handset-") as tmp:
        mpy = compile_firmware(Path(tmp) / "mpy")
        footprint = import_footprint(mpy)
        pki = TestPki(Path(tmp) / "pki")
        users = {"alice": os.urandom(8).hex(), "bob": os.urandom(8).hex()}
        with Kamailio(Path(tmp) / "kamailio", pki, users) as proxy:
            configs = {u: handset_config(tmp, u, users[u], proxy, pki.ca.cert_der, tone_hz=1000,
                                         display_history=2) for u in users}
            alice = start_handset(configs["alice"], module_path=mpy, entry=("-c", _SAMPLED), interactive=True)
            bob = start_handset(configs["bob"], module_path=mpy)
            try:
                alice.wait_event("registered", WAIT_S)
                bob.wait_event("registered", WAIT_S)
                time.sleep(1.0)
                idle = cpu_rate(alice.proc.pid, IDLE_S)
                alice.send_line("dial bob")
                bob.wait_event("incoming", WAIT_S)
                bob.send_line("answer")
                in_call = alice.wait_event("in_call", WAIT_S)
                if in_call["security"] == "zrtp":
                    alice.wait_event("secure", WAIT_S)
                time.sleep(1.0)
                busy = cpu_rate(alice.proc.pid, CALL_S)
                media = alice.stats()["lines"][0]["media"]
                alice.send_line("hangup")
                alice.wait_event("ended", WAIT_S)
                alice.send_line("quit")
                alice.wait_event("stopped", WAIT_S)
                time.sleep(0.5)
                alice.send_line("gc.collect(); print('PEAK' + 'HEAP', peak[0], gc.mem_alloc())")
                deadline = time.monotonic() + WAIT_S
                found = None
                while found is None and time.monotonic() < deadline:
                    found = re.search(r"PEAKHEAP (\d+) (\d+)", alice.text())
                    time.sleep(0.1)
            finally:
                alice.close()
                bob.quit()
            ticks = {}
            for label, heap in (("128K", "128K"), ("4M", "4M")):
                ticks[label] = tick_latency(tmp, mpy, proxy, pki, users, label, bare_heap_free(heap))
    ref = reference_figures()
    per_frame_ms = (busy - idle) * 1000.0 / 50.0
    print("one handset (phone app, .mpy) in a %s call through Kamailio/TLS, MicroPython unix port" % in_call["security"])
    print("%-58s %10s" % ("", "value"))
    print("%-58s %8.3f ms" % ("the call's CPU per 20 ms frame (in call - idle)", per_frame_ms))
    print("%-58s %9.1f%%" % ("... as a share of the 20 ms frame period", per_frame_ms / 20.0 * 100))
    print("%-58s %10d" % ("packets sent / received in the measured call", media["sent"]) + " / %d" % media["received"])
    print("%-58s %7d KiB" % ("heap: the app's code once imported (incl. ZRTP)", footprint // 1024))
    if found:
        peak, after = int(found.group(1)), int(found.group(2))
        print("%-58s %7d KiB" % ("heap: most live heap, sampled once a second", peak // 1024))
        print("%-58s %7d KiB" % ("heap: ... beyond the code (what the running phone holds)", (peak - footprint) // 1024))
        print("%-58s %7d KiB" % ("heap: held after the call and quit", after // 1024))
    else:
        print("heap: the handset's REPL did not answer")
    print()
    print("the handset's 20 ms tick in an established %s call, small-heap handset (the phone's heap as a bare"
          % ticks["128K"]["security"])
    print("-X heapsize gives, code below it as if frozen): steady = all in-call ticks incl. collections,")
    print("best = fastest 50 ticks, worst = slowest tick; x C ref = steady / the media work in C (libsrtp +")
    print("audioop from CPython, bench_media's reference: %.1f us); %s"
          % (ref[0], "handset under SCHED_FIFO" if ticks["4M"]["fifo"] else "wall clock under load"))
    head = "%-34s %7s %10s %8s %9s %8s %14s" % ("", "ticks", "steady us", "best us", "worst us", "x C ref",
                                              "idle GCs (max)")
    print(head)
    print("-" * len(head))
    for label, name in (("128K", "128 KiB heap"), ("4M", "4 MiB heap")):
        t = ticks[label]
        print("%-34s %7d %10.1f %8.1f %9d %8.1f %8d (%d us)" % ("handset, " + name, t["ticks"], t["steady"],
              t["best"], t["worst"], t["steady"] / ref[0], t["collections"], t["collect_worst"]))
    for label, name in (("128K", "128 KiB"), ("4M", "4 MiB")):
        t = ticks[label]
        print("%s: worst tick without a screen refresh %d us; the slowest screen refresh (Phone.refresh) %d us"
              % (name, t["worst_no_refresh"], t["refresh_worst"]))
    print("(the media path alone: bench/bench_media.py; setup times, CPU idle/in call: bench/bench_phone.py;")
    print(" a whole call with a 128 KiB heap, the code kept out of it: tests/sim/test_call_memory.py)")


if __name__ == "__main__":
    main()
