"""A whole call on a handset with a small heap: the phone app on the
MicroPython unix port registers over TLS, calls, carries 60 s of audio
both ways (ZRTP or SDES keys, SRTP, jitter buffer, G.711), hangs up and
unregisters, without a MemoryError and without a fault, in its code plus
160 KiB of heap (CI's budget; code + 128 KiB passes most runs, see below).
The other handset has the default heap.

Why 160 and not 128 in CI: code + 128 KiB passed 4 of 5 runs on a loaded
machine, and the fifth hit heap fragmentation (MemoryError on every tick,
SIP re-initialised three times, crash loop). A test that fails one run in
five is not a proof, so CI runs with a margin; QA_CALL_HEAP_KIB=128 runs
the tighter check.

Why a budget beyond its code: a handset runs the firmware frozen into flash, so its
bytecode takes no heap; the unix port cannot freeze modules without being
rebuilt, and `-X heapsize=128K` alone already fails while *importing* the
app (compiling source needs more; loading precompiled .mpy puts ~360 KiB of
bytecode and function objects of this 64-bit port in the heap). So the
small handset runs precompiled .mpy files, and its heap is the measured
import footprint plus a budget for the call itself. Both figures are
printed, and the live heap beyond the code mid-call (~83 KiB of the 128,
~39 KiB free after a collection).

What made 128 KiB fit (it used to fail every time: the TLS read buffer and
then the SRTP contexts could not be allocated, and the uncaught
MemoryError ended the app): a call's media polls before it reads and
asks for what the phase needs (recv allocates its full size before the
datagram shrinks it: it asked for 2 KiB on every read, found or not, ~5
KiB of garbage per 20 ms tick; now 272 bytes once media flows); TLS reads
go into one buffer; SRTP contexts are sized for 20 ms G.711 (max_packet 256,
SRTCP keys only on first use); an ended call releases its media at once;
the phone collects at phase boundaries (registered, in call, ZRTP secure,
ended). And the simulator's display keeps 2 screens of history here, not
64 (one screen a second in a call: ~38 KiB that grew through the minute,
which a handset's display does not hold). The garbage made per second in
a call fell from ~250 KiB to ~140 KiB (most of the rest is SRTP's output
bytes and hashlib objects per packet).

What remains in the ~83 KiB: per call two ZRTP-keyed media sessions' worth
of state (SRTP contexts ~3 KiB each, jitter buffer 4 KiB, session buffers
~2 KiB, the ZRTP engine after secure ~7 KiB), the SIP user agent and its
dialog, TLS context and connection (~4 KiB in this heap; mbedTLS's record
buffers are not in it on this port), settings/NVS/ZID cache and call log,
asyncio tasks and the display model. On this 64-bit port objects are
about twice their ESP32 size, so a handset needs less. Under heavy load a
run can still hit fragmentation at this budget; since the app ends only
the affected call on a MemoryError (and re-initialises SIP if failures
repeat), that shows as a failed assertion here, never as a crash.
QA_CALL_HEAP_KIB=96 (or any budget) re-runs the check with another budget."""
import os
import subprocess
import time

import pytest

from hushctl.sim import SimHandset, micropython_exe
from tests.hil.simdut import compile_firmware, handset_config, read_pcm, start_handset, tone_seconds
from tests.sim.conftest import USERS

pytestmark = pytest.mark.slow

CALL_HEAP_KIB = int(os.environ.get("QA_CALL_HEAP_KIB", "160"))
CALL_S = 60
WAIT_S = 60.0  # registration and key agreement are slower in a small heap on a loaded machine

# The app's own sim entry, with the simulated display's screen history
# (kept for tests, one screen a second in a call: ~38 KiB at its 64
# screens) cut to 2: a handset's display keeps no history.
_SMALL_HANDSET = """
import sys
import hushphone.hal.unix.display as display
display._MAX_HISTORY = 2
import hushphone.app.phone as app
app.main(["phone", sys.argv[-1]])
"""

_FOOTPRINT = """
import gc
gc.collect()
before = gc.mem_alloc()
import hushphone.app.phone
import hushphone.hal.unix.board
import hushphone.zrtp.engine, hushphone.zrtp.session, hushphone.zrtp.cache, hushphone.zrtp.keypool
gc.collect()
print("FOOTPRINT", gc.mem_alloc() - before)
"""


def import_footprint(mpy_dir):
    """Heap bytes the app's code takes once imported (in a large heap),
    with the modules a call imports when it starts (ZRTP)."""
    out = subprocess.run([micropython_exe(), "-X", "heapsize=4M", "-c", _FOOTPRINT], capture_output=True, text=True,
                         env={"MICROPYPATH": "%s:.frozen" % mpy_dir}, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return int(out.stdout.split("FOOTPRINT")[1].split()[0])


def test_a_sixty_second_call_in_a_small_heap(tmp_path, kamailio, pki):
    mpy = compile_firmware(tmp_path / "mpy")
    footprint = import_footprint(mpy)
    heap_kib = (footprint + 1023) // 1024 + CALL_HEAP_KIB
    print("app code in the heap: %d KiB; the small handset runs with -X heapsize=%dK" % (footprint // 1024, heap_kib))
    small = handset_config(tmp_path, "alice", USERS["alice"], kamailio, pki.ca.cert_der, tone_hz=1000)
    other = handset_config(tmp_path, "bob", USERS["bob"], kamailio, pki.ca.cert_der, tone_hz=1500)
    alice = start_handset(small, heapsize="%dK" % heap_kib, module_path=mpy, entry=("-c", _SMALL_HANDSET))
    bob = SimHandset(other)
    try:
        alice.wait_event("registered", WAIT_S)
        bob.wait_event("registered", WAIT_S)
        alice.send_line("dial bob")
        bob.wait_event("incoming", WAIT_S)
        bob.send("answer")
        in_call = alice.wait_event("in_call", WAIT_S)
        bob.wait_event("in_call", WAIT_S)
        time.sleep(CALL_S)
        mid_stats = alice.stats()
        mid = mid_stats["lines"]
        heap = mid_stats["heap"]
        print("live heap beyond the code mid-call: %d KiB (free %d KiB)" % ((heap["alloc"] - footprint) // 1024,
                                                                             heap["free"] // 1024))
        assert len(mid) == 1 and mid[0]["state"] == "in_call", (mid, [e for e in alice.events()
                                                                       if e.get("event") not in ("stats",)][-8:])
        alice.send_line("hangup")
        ended = alice.wait_event("ended", WAIT_S)
        bob.wait_event("ended", WAIT_S)
        assert alice.quit() == 0, alice.text()[-3000:]
    finally:
        alice.close()
        bob.stop()
    output = alice.text()
    assert "MemoryError" not in output and "Traceback" not in output, output[-3000:]
    faults = [e for e in alice.events() if e.get("event") == "fault"]
    assert not faults, faults  # the phone survives faults, but none may happen in this call
    assert alice.events()[-1]["event"] == "stopped", "the small-heap handset did not shut down cleanly"
    stats = ended["stats"]
    assert stats["sent"] >= 50 * (CALL_S - 5) and stats["received"] >= 50 * (CALL_S - 5), stats
    assert stats["dropped_auth"] == 0 and stats["dropped_malformed"] == 0, stats
    # Both directions over the minute: the tone in every second, clean
    # (>= 30 dB) in nearly all. A collection in a small heap can stall a
    # 20 ms tick now and then: a concealed frame, a weaker second.
    for name, wav, freq in (("bob", bob.config["speaker_wav"], 1000), ("alice", alice.config["speaker_wav"], 1500)):
        rate, heard = read_pcm(wav)
        seconds = tone_seconds(heard, freq, rate, skip_s=1.0)
        assert len(seconds) >= CALL_S - 5, (name, len(seconds))
        assert all(r.present(min_snr_db=10.0) for r in seconds), (name, [round(r.snr_db, 1) for r in seconds])
        weak = [round(r.snr_db, 1) for r in seconds if r.snr_db < 30.0]
        assert len(weak) <= len(seconds) // 10, (name, in_call["security"], weak)
        if weak:
            print("%s: seconds below 30 dB: %s" % (name, weak))
