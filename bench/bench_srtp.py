"""SRTP protect/unprotect of one 172-byte RTP packet (12-byte header + 160
bytes of G.711, AES_CM_128_HMAC_SHA1_80), measured in this run for:
  (a) hushphone.srtp on the MicroPython unix port, with a 128 KiB heap
      (about what an ESP32 without PSRAM has) and with the port's default
      heap (2 MiB), each with a new bytes object per packet (as the phone
      builds its packets) and with one bytearray rewritten in place,
  (b) hushphone.srtp on CPython,
  (c) libsrtp 2 through pylibsrtp (C, the reference),
and the ratios to libsrtp. Times are the best of several batches, in
microseconds per packet.

Why several MicroPython rows: the per-packet allocations (HMAC's two hash
objects and digests, the returned packet) cost what MicroPython's allocator
makes them cost. It searches for a free run from the first free block it
knows of, and only a one-block allocation moves that mark forward; with
nothing else allocating between packets (in-place input) every search
walks over all the garbage since the last collection, so the cost grows
with the heap. The protocol code itself allocates nothing else (see
tests/test_srtp_memory.py).

Run: .venv/bin/python bench/bench_srtp.py   (or `make bench`)"""
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pylibsrtp import Policy, Session  # noqa: E402

from hushphone.srtp import SrtpContext  # noqa: E402
from tests.support.runtimes import run_micropython  # noqa: E402

SUITE = "AES_CM_128_HMAC_SHA1_80"
BATCH = 16  # packets protected, then unprotected, per batch
BATCHES = 1800

# The same loop on both runtimes: protect a batch (timed), unprotect it
# (timed); the minimum over short rounds of the per-packet mean (short, so
# that some rounds run undisturbed on a busy machine).
LOOP = """
def measure(tx, rx, ticks, diff, inplace=False, rounds=90):
    # inplace: protect one bytearray rewritten per packet (no allocation
    # between packets); otherwise each packet is a new bytes object, built
    # outside the timed loop, as an application builds its packets.
    rtp = bytearray(b"\\x80\\x00\\x00\\x00\\x00\\x00\\x00\\xa0\\x12\\x34\\x56\\x78" + bytes(range(160)))
    plain = [None] * BATCH
    ring = [None] * BATCH
    seq = 0
    best_p = best_u = None
    for _ in range(rounds):
        tp = tu = 0
        for _ in range(BATCHES // rounds):
            if inplace:
                t0 = ticks()
                for i in range(BATCH):
                    rtp[2] = (seq >> 8) & 0xFF
                    rtp[3] = seq & 0xFF
                    seq += 1
                    ring[i] = tx.protect(rtp)
            else:
                for i in range(BATCH):
                    rtp[2] = (seq >> 8) & 0xFF
                    rtp[3] = seq & 0xFF
                    seq += 1
                    plain[i] = bytes(rtp)
                t0 = ticks()
                for i in range(BATCH):
                    ring[i] = tx.protect(plain[i])
            t1 = ticks()
            for i in range(BATCH):
                rx.unprotect(ring[i])
            t2 = ticks()
            tp += diff(t1, t0)
            tu += diff(t2, t1)
        n = BATCH * (BATCHES // rounds)
        p, u = tp / n, tu / n
        best_p = p if best_p is None or p < best_p else best_p
        best_u = u if best_u is None or u < best_u else best_u
    return best_p, best_u
"""

MPY_SCRIPT = (
    "BATCH = %d\nBATCHES = %d\n" % (BATCH, BATCHES)
    + LOOP
    + """
import time
from hushphone.srtp import SrtpContext
key = bytes(range(16))
salt = bytes(range(100, 114))
tx = SrtpContext("%s", key, salt)
rx = SrtpContext("%s", key, salt)
p, u = measure(tx, rx, time.ticks_us, time.ticks_diff, INPLACE)
print("RESULT", p, u)
"""
    % (SUITE, SUITE)
)


def measure_micropython(heapsize, inplace=False):
    result = run_micropython(["-c", "INPLACE = %r\n" % inplace + MPY_SCRIPT], heapsize=heapsize, timeout=600)
    for line in result.stdout.splitlines():
        if line.startswith("RESULT"):
            _, p, u = line.split()
            return float(p), float(u)
    raise RuntimeError("MicroPython bench failed: %s%s" % (result.stdout, result.stderr))


def measure_cpython(tx, rx):
    namespace = {"BATCH": BATCH, "BATCHES": BATCHES}
    exec(LOOP, namespace)
    ticks = time.perf_counter_ns
    return namespace["measure"](tx, rx, ticks, lambda a, b: (a - b) / 1000)


def main():
    key, salt = os.urandom(16), os.urandom(14)
    rows = []
    for label, heap, inplace in (
        ("MicroPython, 128K heap", "128K", False),
        ("MicroPython, default heap", None, False),
        ("MicroPython, 128K heap, in-place input", "128K", True),
        ("MicroPython, default heap, in-place input", None, True),
    ):
        rows.append(("hushphone.srtp, " + label, measure_micropython(heap, inplace)))
    rows.append(("hushphone.srtp, CPython", measure_cpython(SrtpContext(SUITE, key, salt), SrtpContext(SUITE, key, salt))))
    lib = measure_cpython(
        Session(Policy(key=key + salt, ssrc_type=Policy.SSRC_ANY_OUTBOUND)),
        Session(Policy(key=key + salt, ssrc_type=Policy.SSRC_ANY_INBOUND)),
    )
    rows.append(("libsrtp 2 (pylibsrtp), CPython", lib))
    print("SRTP %s, 172-byte RTP packet, microseconds per packet (best of 90 rounds of 320 packets)" % SUITE)
    print("%-58s %9s %9s %9s %9s" % ("", "protect", "unprotect", "x libsrtp", "x libsrtp"))
    for name, (p, u) in rows:
        print("%-58s %9.2f %9.2f %9.1f %9.1f" % (name, p, u, p / lib[0], u / lib[1]))
    print("target: MicroPython within 3x of libsrtp for protect and for unprotect")


if __name__ == "__main__":
    main()
