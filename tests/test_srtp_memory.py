"""SRTP on a small heap: the MicroPython unix port with a 64 KiB heap
protects and unprotects 10,000 RTP packets (and SRTCP packets) round trip,
and the memory in use after a collection does not grow from warm-up to the
end: per-packet work leaves nothing behind."""
import re

from tests.support.runtimes import run_micropython

SCRIPT = """
import gc
from hushphone.srtp import SrtpContext

gc.collect()  # as the app does after start-up: drop the compiler's garbage
key = bytes(range(16))
salt = bytes(range(100, 114))
# sized as a call's contexts are (app.media.MAX_MEDIA_PACKET)
# sized as a call's contexts are (app.media.MAX_MEDIA_PACKET): with 1500
# the import of the SRTP code from source leaves no 1.5 KB hole in 64 KiB
tx = SrtpContext("AES_CM_128_HMAC_SHA1_80", key, salt, max_packet=256)
rx = SrtpContext("AES_CM_128_HMAC_SHA1_80", key, salt, max_packet=256)
rtp = bytearray(b"\\x80\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x12\\x34\\x56\\x78" + bytes(160))
rtcp = bytearray(b"\\x80\\xc8\\x00\\x06\\x12\\x34\\x56\\x78" + bytes(20))
WARM_UP = 200
TOTAL = 10000
samples = [0] * 11  # heap in use after a collection: after warm-up, every 1000 packets, at the end
taken = 0
bad = 0
for i in range(TOTAL):
    seq = (65000 + i) & 0xFFFF  # wraps: ROC 1 after 536 packets
    rtp[2] = seq >> 8
    rtp[3] = seq & 0xFF
    rtp[12 + i % 160] = i & 0xFF
    if rx.unprotect(tx.protect(rtp)) != rtp:
        bad += 1
    if i % 50 == 0:
        rtcp[8 + i % 20] = i & 0xFF
        if rx.unprotect_rtcp(tx.protect_rtcp(rtcp)) != rtcp:
            bad += 1
    if (i >= WARM_UP and i % 1000 == WARM_UP) or i == TOTAL - 1:
        gc.collect()
        samples[taken] = gc.mem_alloc()
        taken += 1
print("samples", " ".join(str(s) for s in samples), "bad", bad)
"""


def test_no_heap_growth_over_10000_packets_in_64k():
    result = run_micropython(["-c", SCRIPT], heapsize="64K", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    m = re.search(r"samples ([\d ]+) bad (\d+)", result.stdout)
    assert m, result.stdout + result.stderr
    samples = [int(s) for s in m.group(1).split()]
    assert int(m.group(2)) == 0, "round trips failed"
    assert len(samples) == 11
    # The GC scans the C stack conservatively, so one dead object (a hash
    # object: 128 bytes) may survive a collection. Any per-packet leak, even
    # one 16-byte block, would add 156 KB over these 9,800 packets: more
    # than the heap.
    baseline = samples[0]
    assert max(samples) - baseline <= _SLACK, "heap grew: %s" % samples


_SLACK = 256


ALLOCATION_SCRIPT = """
import gc
from hushphone.srtp import SrtpContext

key = bytes(range(16))
salt = bytes(range(100, 114))
tx = SrtpContext("AES_CM_128_HMAC_SHA1_80", key, salt)
rx = SrtpContext("AES_CM_128_HMAC_SHA1_80", key, salt)
packets = [b"\\x80\\x00\\x00" + bytes((i,)) + bytes(4) + b"\\x12\\x34\\x56\\x78" + bytes(160) for i in range(6)]
rx.unprotect(tx.protect(packets[0]))  # warm-up: first-use views and stream state

def allocated(func, a, b=None):
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    if b is None:
        func(a)
    else:
        func(a, b)
    after = gc.mem_alloc()
    gc.enable()
    return after - before

srtp = tx.protect(packets[1])
protect = allocated(tx.protect, packets[2])
unprotect = allocated(rx.unprotect, srtp)
wire = bytearray(200)
plain = bytearray(200)
n = tx.protect_into(packets[3], wire)
protect_into = allocated(tx.protect_into, packets[4], wire)
unprotect_into = allocated(rx.unprotect_into, memoryview(wire)[:n], plain)
# a header-only packet (nothing to encrypt), and a late one (the slow path)
short = [b"\\x80\\x00\\x00" + bytes((i,)) + bytes(4) + b"\\x12\\x34\\x56\\x78" for i in range(5, 7)]
n = tx.protect_into(short[0], wire)
rx.unprotect_into(memoryview(wire)[:n], plain)
short_into = allocated(tx.protect_into, short[1], wire)
short_into += allocated(rx.unprotect_into, memoryview(wire)[:n], plain)
early, late = (tx.protect(b"\\x80\\x00\\x00" + bytes((i,)) + bytes(4) + b"\\x12\\x34\\x56\\x78" + bytes(160)) for i in (9, 8))
rx.unprotect(early)
late_into = allocated(rx.unprotect_into, late, plain)
buf = bytearray(182)
out_182 = allocated(bytes, buf)
out_172 = allocated(bytes, memoryview(buf)[:172])
print("protect", protect, "unprotect", unprotect, "into", protect_into, unprotect_into, "out182", out_182, "out172", out_172,
      "short", short_into, "late", late_into)
"""


def test_per_packet_allocation_is_only_the_returned_packet():
    result = run_micropython(["-c", ALLOCATION_SCRIPT], timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    m = re.search(r"protect (\d+) unprotect (\d+) into (\d+) (\d+) out182 (\d+) out172 (\d+) short (\d+) late (\d+)",
                  result.stdout)
    assert m, result.stdout + result.stderr
    protect, unprotect, protect_into, unprotect_into, out_182, out_172, short, late = (int(g) for g in m.groups())
    assert out_172 > 0
    # the _into forms allocate nothing (also for a header-only packet, and
    # for a late packet, which takes the slow path); the others only the
    # bytes they return
    assert (protect_into, unprotect_into, short, late) == (0, 0, 0, 0), result.stdout
    assert protect == out_182, result.stdout
    assert unprotect == out_172, result.stdout
