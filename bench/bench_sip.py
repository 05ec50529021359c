"""SIP message and SDP handling per message: parse_message (with the header
validation it does), to_bytes, StreamParser framing, SDP parse + answer.
The same code timed on the MicroPython unix port and on CPython in this run;
CPython's email header parser (C-accelerated stdlib, the same RFC 822 header
syntax without SIP's checks) on the same bytes as the reference. On the
unix port also the octets allocated while parsing (GC off), which is what
the handset's heap has to absorb.

Run: .venv/bin/python bench/bench_sip.py   (or `make bench`)"""
import email.parser
import email.policy
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "core"))
sys.path.insert(0, str(ROOT / "firmware" / "lib"))

from tests.support.runtimes import run_micropython  # noqa: E402

# Both runtimes run this; CASES are built the same way on each.
SHARED = """
import gc
from hushphone import sdp
from hushphone.sip.message import StreamParser, parse_message
import test_sip_message_fuzz as fuzz
import test_sdp
from coretest import read_data
INVITE, REGISTER, CHALLENGE, OK200 = fuzz.generated_seeds()
CASES = (
    ("parse INVITE+SDP", lambda: parse_message(INVITE)),
    ("parse 401 challenge", lambda: parse_message(CHALLENGE)),
    ("parse RFC 4475 wsinv", lambda: parse_message(WSINV)),
    ("parse RFC 4475 longreq", lambda: parse_message(LONGREQ)),
    ("to_bytes INVITE+SDP", lambda: MSG.to_bytes()),
    ("stream INVITE in 100-B reads", lambda: stream(INVITE)),
    ("SDP parse+answer linphone", lambda: sdp.answer(test_sdp.LINPHONE_OFFER, "192.0.2.1", 4000, ["PCMU", "PCMA"],
                                                      sdp.DEFAULT_SUITES, bytes, zrtp_hash=test_sdp.ZRTP_HASH)),
)
WSINV = read_data("sip-torture", "rfc4475", "wsinv.dat")
LONGREQ = read_data("sip-torture", "rfc4475", "longreq.dat")
MSG = parse_message(INVITE)
def stream(data):
    p = StreamParser()
    for i in range(0, len(data), 100):
        p.feed(data[i:i + 100])
        while p.next_event() is not None:
            pass
"""

MPY_SCRIPT = SHARED + """
import time
def best(func, loops):
    best_us = None
    for _ in range(5):
        t0 = time.ticks_us()
        for _ in range(loops):
            func()
        us = time.ticks_diff(time.ticks_us(), t0) / loops
        if best_us is None or us < best_us:
            best_us = us
    return best_us
for name, func in CASES:
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    func()
    allocated = gc.mem_alloc() - before
    gc.enable()
    print("ROW", name, "|", best(func, 50), "|", allocated)
"""


def cpython_rows():
    scope = {}
    exec(SHARED, scope)
    rows = {}
    for name, func in scope["CASES"]:
        rows[name] = min(timeit.repeat(func, number=200, repeat=5)) / 200 * 1e6
    return rows, scope


def micropython_rows():
    result = run_micropython(["-c", MPY_SCRIPT], timeout=600)
    if result.returncode != 0:
        raise SystemExit("MicroPython benchmark failed:\n" + result.stdout + result.stderr)
    rows = {}
    for line in result.stdout.splitlines():
        if line.startswith("ROW "):
            name, us, alloc = [x.strip() for x in line[4:].split("|")]
            rows[name] = (float(us), int(alloc))
    return rows


def main():
    cp, scope = cpython_rows()
    mp = micropython_rows()
    header_parser = email.parser.BytesHeaderParser(policy=email.policy.HTTP)
    invite = scope["INVITE"]
    head = invite[invite.find(b"\r\n") + 2 :]
    ref = min(timeit.repeat(lambda: header_parser.parsebytes(head), number=200, repeat=5)) / 200 * 1e6
    print("SIP message/SDP handling, microseconds per call (best of 5), allocation on the unix port")
    print("%-32s %12s %12s %9s %14s" % ("operation", "MicroPython", "CPython", "MPY/CPy", "MPY alloc (B)"))
    for name in [n for n, _ in scope["CASES"]]:
        us, alloc = mp[name]
        print("%-32s %12.1f %12.1f %9.1f %14d" % (name, us, cp[name], us / cp[name], alloc))
    print()
    print("reference: CPython email header parser on the INVITE's headers: %.1f us" % ref)
    print("ratio parse INVITE+SDP (ours, CPython) / email parser: %.2f" % (cp["parse INVITE+SDP"] / ref))
    print("INVITE size %d B, its SDP %d B" % (len(invite), len(scope["MSG"].body)))


if __name__ == "__main__":
    main()
