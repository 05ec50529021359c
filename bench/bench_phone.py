"""The phone application as a whole: two simulated handsets (the firmware on
the MicroPython unix port, started as `hushctl sim run` starts them) call
each other through Kamailio over TLS on loopback.

Measured in this run: call setup time (dial to both "in call"; for ZRTP
also to "secure"), the CPU a handset process uses while idle (registered)
and during a call (per 20 ms tick and as a share of one core; the reference
is the same process idle), and the MicroPython heap the app holds idle and
in a call. SDES-SRTP and ZRTP calls.

Run: .venv/bin/python bench/bench_phone.py   (or `make bench`)"""
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host_tools"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "firmware" / "lib"))

from tests.sim.phone_lab import WAIT_S, PhoneLab  # noqa: E402

CALLS = 5
CALL_S = 3.0
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def cpu_over(handsets, seconds):
    before = [cpu_s(h.proc.pid) for h in handsets]
    t0 = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - t0
    return [(cpu_s(h.proc.pid) - b) / wall for h, b in zip(handsets, before)]


def run(zrtp):
    with tempfile.TemporaryDirectory(prefix="bench-phone-") as d:
        lab = PhoneLab(d)
        try:
            alice = lab.handset("alice", zrtp=zrtp)
            bob = lab.handset("bob", zrtp=zrtp)
            idle = cpu_over((alice, bob), 2.0)
            heap_idle = alice.stats()["heap"]
            setup, secure, busy, heap_call = [], [], [], None
            for n in range(1, CALLS + 1):
                t0 = time.monotonic()
                alice.send("dial bob")
                bob.wait_event("incoming", WAIT_S, count=n)
                bob.key("SOFT1")
                alice.wait_event("in_call", WAIT_S, count=n)
                bob.wait_event("in_call", WAIT_S, count=n)
                setup.append(time.monotonic() - t0)
                if zrtp:
                    alice.wait_event("secure", WAIT_S, count=n)
                    bob.wait_event("secure", WAIT_S, count=n)
                    secure.append(time.monotonic() - t0)
                if n == 1:
                    busy = cpu_over((alice, bob), CALL_S)
                    heap_call = alice.stats()["heap"]
                alice.key("ONHOOK")
                bob.wait_event("ended", WAIT_S, count=n)
            return idle, busy, setup, secure, heap_idle, heap_call
        finally:
            lab.close()


def main():
    print("Phone app: two sim handsets through Kamailio/TLS on loopback (%d calls each)" % CALLS)
    for name, zrtp in (("SDES-SRTP", False), ("ZRTP", True)):
        idle, busy, setup, secure, heap_idle, heap_call = run(zrtp)
        print("\n%s" % name)
        print("  call setup, dial to both in call: median %.0f ms (min %.0f, max %.0f)" % (
            1000 * statistics.median(setup), 1000 * min(setup), 1000 * max(setup)))
        if secure:
            print("  dial to both ZRTP-secure:          median %.0f ms (min %.0f, max %.0f)" % (
                1000 * statistics.median(secure), 1000 * min(secure), 1000 * max(secure)))
        for who, i, b in zip(("alice", "bob"), idle, busy):
            print("  %-5s CPU idle %.1f %% of a core, in a call %.1f %% (%.2f ms per 20 ms tick; %.1fx idle)" % (
                who, 100 * i, 100 * b, 20 * b, b / i if i else float("inf")))
        if heap_idle and heap_call:
            print("  MicroPython heap held by the app: idle %.0f KiB, in a call %.0f KiB" % (
                heap_idle["alloc"] / 1024, heap_call["alloc"] / 1024))


if __name__ == "__main__":
    main()
