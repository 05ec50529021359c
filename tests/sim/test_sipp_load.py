"""Load with a standard tool: SIPp (Debian sip-tester) registers the load
user 5 times (digest auth) and makes 16 calls at 2 calls/s through
Kamailio over TLS to three simulated handsets, which answer each call
(SIPp: INVITE, 407, authenticated INVITE, 180, 200, ACK, 1 s of call,
BYE). SIPp's own counts must show every registration and call
successful; the handsets' descriptors and heap (after a collection) must
come back to their level before the load once the SIP transaction timers
of RFC 3261 have run out (32 s: each call's transactions are kept that
long), with no fault or restart. The harness is tests/sim/sipp_load.py;
`make soak` runs it for 30 minutes."""
import time

import pytest

from tests.sim.sipp_load import SippLab, sipp_exe, socat_exe

pytestmark = pytest.mark.slow

CALLS = 16
RATE = 2.0  # calls per second
HEAP_SLACK = 1024  # allocator bookkeeping; measured 0-200 bytes here
SETTLE_S = 45  # Timer L/M/H (32 s) and the 1 s ticks of the handset's loop


def test_sipp_drives_registrations_and_calls_through_kamailio_to_handsets(tmp_path):
    assert sipp_exe() and socat_exe(), "sipp and socat are needed: make system-packages (sip-tester, socat)"
    with SippLab(tmp_path, handsets=3) as lab:
        reg = lab.register(count=5, rate=5)
        assert reg.code == 0 and reg.successful == 5 and reg.failed == 0, reg
        warm = lab.calls(count=3, rate=3.0, hold_ms=200)  # each handset's first call: imports, key pool
        assert warm.successful == 3, (warm, warm.output[-2000:])
        time.sleep(1)
        before = lab.sample()
        run = lab.calls(count=CALLS, rate=RATE, hold_ms=1000)
        assert run.code == 0 and run.created == CALLS and run.successful == CALLS and run.failed == 0, (
            run, run.output[-2000:])
        deadline = time.monotonic() + SETTLE_S
        while True:
            after = lab.sample()
            flat = all(after[n][0] <= before[n][0] + HEAP_SLACK and after[n][1] == before[n][1] for n in before)
            if flat or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert flat, (before, after)
        assert lab.faults() == []
        print("SIPp:", run, "| heap/fds before", before, "after", after)
