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
from tests.sim.small_heap import import_footprint  # noqa: E402

IDLE_S = 8.0
CALL_S = 15.0
WAIT_S = 60.0
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
    print("(the media path alone: bench/bench_media.py; setup times, CPU idle/in call: bench/bench_phone.py;")
    print(" a whole call with a 128 KiB heap, the code kept out of it: tests/sim/test_call_memory.py)")


if __name__ == "__main__":
    main()
