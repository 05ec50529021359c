"""The media path of one 20 ms frame, end to end without a network:
G.711 encode + RTP + SRTP protect, then SRTP unprotect + RTP + jitter buffer
+ G.711 decode (MediaSession.send_frame -> receive_packet -> play_frame).

Measured in this run: our code on the MicroPython unix port and on CPython,
and as the reference the same work done by C libraries from CPython
(libsrtp through pylibsrtp, audioop for G.711; no jitter buffer). Also the
share of the 20 ms frame period, allocation per frame, the heap a call
holds, and the smallest MicroPython heap a call runs in (the peak heap).

Run: .venv/bin/python bench/bench_media.py   (or `make bench`)"""
import os
import struct
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.runtimes import FIRMWARE_LIB, run_micropython  # noqa: E402

sys.path.insert(0, str(FIRMWARE_LIB))

SUITE = "AES_CM_128_HMAC_SHA1_80"

# Shared by both runtimes: a caller and a callee joined back to back.
SETUP = """
import gc
from hushphone.app.media import MediaSession, srtp_pair
from hushphone.audio.tone import ToneGenerator
from hushphone.crypto.random import random_bytes
gc.collect()
base = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
ka, sa, kb, sb = random_bytes(16), random_bytes(14), random_bytes(16), random_bytes(14)
a_tx, a_rx = srtp_pair("%s", ka, sa, kb, sb)
b_tx, b_rx = srtp_pair("%s", kb, sb, ka, sa)
gc.collect()
srtp_held = (gc.mem_alloc() - base) / 2 if hasattr(gc, "mem_alloc") else 0
alice = MediaSession("PCMU", a_tx, a_rx, random_bytes)
bob = MediaSession("PCMU", b_tx, b_rx, random_bytes)
frame = ToneGenerator(1000, 0.5).frame()
clock = [0]
def one_frame():
    now = clock[0]
    bob.receive_packet(alice.send_frame(frame), now)
    bob.play_frame(now)
    clock[0] = now + 20
def send_only():
    alice.send_frame(frame)
for _ in range(50):
    one_frame()
gc.collect()
held = (gc.mem_alloc() - base) if hasattr(gc, "mem_alloc") else 0
""" % (SUITE, SUITE)

MPY_TIMING = SETUP + """
import time
ticks_us = time.ticks_us
diff = time.ticks_diff
def batch(loops):
    # Each stage timed on its own, frame after frame as in a call.
    gc.collect()
    gc.disable()  # time the work, not when a collection happens to fall
    send = recv = play = 0
    now = clock[0]
    i = 0
    while i < loops:
        t0 = ticks_us()
        packet = alice.send_frame(frame)
        t1 = ticks_us()
        bob.receive_packet(packet, now)
        t2 = ticks_us()
        bob.play_frame(now)
        t3 = ticks_us()
        send += diff(t1, t0)
        recv += diff(t2, t1)
        play += diff(t3, t2)
        now += 20
        i += 1
    clock[0] = now
    gc.enable()
    return send / loops, recv / loops, play / loops
runs = [batch(500) for _ in range(5)]
send = min(r[0] for r in runs)
recv = min(r[1] for r in runs)
play = min(r[2] for r in runs)
def alloc_per_call(func, loops=100):
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    i = 0
    while i < loops:
        func()
        i += 1
    used = (gc.mem_alloc() - before) / loops
    gc.enable()
    return used
frame_alloc = alloc_per_call(one_frame)
# What SRTP alone allocates for the same two operations, for comparison.
probe = bytearray(172)
probe[0] = 0x80
seq = [0]
def srtp_only():
    seq[0] += 1
    probe[2] = (seq[0] >> 8) & 0xFF
    probe[3] = seq[0] & 0xFF
    a_rx.unprotect(b_tx.protect(probe))
srtp_alloc = alloc_per_call(srtp_only)
assert bob.stats.dropped_auth == 0 and bob.stats.received > 2500 and bob.stats.lost == 0
print("full", send + recv + play)
print("send", send)
print("recv", recv)
print("play", play)
print("alloc", frame_alloc)
print("srtp_alloc", srtp_alloc)
print("held", held)
print("srtp_held", srtp_held)
"""

MPY_HEAP_PROBE = SETUP + """
for _ in range(500):
    one_frame()
assert bob.stats.received >= 500
print("OK")
"""


def mpy_figures():
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "media_timing.py"
        script.write_text(MPY_TIMING)
        r = run_micropython([str(script)], timeout=300)
        if r.returncode:
            raise SystemExit("MicroPython timing failed:\n" + r.stdout + r.stderr)
        figures = {}
        for line in r.stdout.splitlines():
            name, value = line.split()
            figures[name] = float(value)
        return figures


def mpy_peak_heap():
    """Smallest -X heapsize (KiB) in which a call runs 500 frames: the
    call's peak heap, including the interpreter's own and garbage that
    collection must be able to reclaim in time."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "media_heap.py"
        script.write_text(MPY_HEAP_PROBE)

        def runs(kib):
            r = run_micropython([str(script)], heapsize="%dK" % kib, timeout=120)
            return r.returncode == 0 and r.stdout.strip().endswith("OK")

        lo, hi = 8, 512
        if not runs(hi):
            return None
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if runs(mid):
                hi = mid
            else:
                lo = mid
        return hi


def best_us(func, loops, repeat=5):
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(loops):
            func()
        us = (time.perf_counter() - t0) / loops * 1e6
        best = us if best is None or us < best else best
    return best


def cpython_figures():
    env = {}
    exec(SETUP, env)
    return best_us(env["one_frame"], 2000), best_us(env["send_only"], 2000)


def reference_figures():
    """The same per-frame work with C libraries: audioop + libsrtp."""
    import pylibsrtp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop

    key = os.urandom(30)
    tx = pylibsrtp.Session(policy=pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
    rx = pylibsrtp.Session(policy=pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND))
    pcm = bytes(320)
    state = {"seq": 0}

    def one_frame():
        seq = state["seq"]
        state["seq"] = (seq + 1) & 0xFFFF
        header = struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 0x12345678)
        packet = tx.protect(header + audioop.lin2ulaw(pcm, 2))
        plain = rx.unprotect(packet)
        audioop.ulaw2lin(plain[12:], 2)

    return best_us(one_frame, 5000)


def main():
    mpy = mpy_figures()
    peak = mpy_peak_heap()
    cpy_full, cpy_send = cpython_figures()
    ref = reference_figures()
    print("media path per 20 ms frame (send + receive + play); MicroPython: best of 5 batches")
    print("of 500 frames per stage, GC paused while timing")
    print("%-52s %10s %10s" % ("", "us/frame", "x C ref"))
    rows = (
        ("MicroPython unix port, this project", mpy["full"]),
        ("  send: G.711 encode, RTP, SRTP protect", mpy["send"]),
        ("  receive: SRTP unprotect, RTP, jitter put", mpy["recv"]),
        ("  play: jitter pop, G.711 decode", mpy["play"]),
        ("CPython, this project", cpy_full),
        ("  of which send", cpy_send),
        ("CPython + C libraries (libsrtp, audioop): reference", ref),
    )
    for name, us in rows:
        print("%-52s %10.1f %10.1f" % (name, us, us / ref))
    print()
    print("share of the 20 ms frame period on the unix port: %.2f %%" % (mpy["full"] / 200.0))
    print(
        "heap allocated per frame on MicroPython: %.0f bytes; SRTP protect+unprotect alone: %.0f bytes"
        % (mpy["alloc"], mpy["srtp_alloc"])
    )
    per_handset = mpy["held"] / 2.0
    print(
        "heap one handset holds for a call: %.1f KiB (its two SRTP contexts %.1f KiB, the rest media session)"
        % (per_handset / 1024.0, mpy["srtp_held"] / 1024.0)
    )
    if peak is None:
        print("peak heap: the probe failed even with a 512 KiB heap")
    else:
        print("peak heap: a call runs 500 frames in a %d KiB MicroPython heap (-X heapsize), interpreter included" % peak)


if __name__ == "__main__":
    main()
