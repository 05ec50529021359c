"""The SIP user-agent core per operation, the same code on the MicroPython
unix port and on CPython in this run:
  - a digest response (MD5, SHA-256); reference: the same three hashes
    written directly with CPython's hashlib (C) in this run;
  - one whole call between two UAs over the fake link (REGISTER with 401,
    INVITE with 407, 180, 200, ACK, BYE; the count printed is what the two
    UAs sent, the fake registrar/proxy's answers come on top) and on the
    unix port the octets allocated for it with GC off (test doubles
    included: the fake registrar parses and hashes too);
  - registration over real TLS to a real Kamailio (handshake + 401 + 200),
    CPython driver and MicroPython agent, wall time.

Run: .venv/bin/python bench/bench_sip_ua.py   (or `make bench`)"""
import asyncio
import hashlib
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "tests" / "core", ROOT / "firmware" / "lib"):
    sys.path.insert(0, str(p))

from tests.support.runtimes import REPO, run_micropython  # noqa: E402

SHARED = """
from hushphone.sip.digest import compute_response
from hushphone.sip.useragent import UaConfig, UserAgent
from sip_fakelink import Counter, FakeLink, FakeRegistrar, events_of

def one_call():
    reg = FakeRegistrar({"alice": "pa", "bob": "pb"})
    a = UserAgent(UaConfig("sip:alice@example.test", "alice", "pa"), Counter(b"a"))
    b = UserAgent(UaConfig("sip:bob@example.test", "bob", "pb"), Counter(b"b"))
    link = FakeLink(a, b, reg, proxy_auth=True)
    a.register(0)
    link.pump()
    call = a.call("bob", b"v=0\\r\\n", 0)
    link.pump()
    incoming = events_of(b)[0].call
    b.ringing(incoming, 0)
    b.answer(incoming, b"v=0\\r\\n", 0)
    link.pump()
    a.hangup(call, 0)
    link.pump()
    return len(link.log)

CASES = (
    ("digest MD5", lambda: compute_response("MD5", "alice", "example.test", "secret", "REGISTER",
                                              "sip:example.test", "abcdef0123", "00000001", "c0ffee", "auth")),
    ("digest SHA-256", lambda: compute_response("SHA-256", "alice", "example.test", "secret", "REGISTER",
                                                  "sip:example.test", "abcdef0123", "00000001", "c0ffee", "auth")),
    ("call over fake link", one_call),
)
"""

MPY = SHARED + """
import gc, time
def best(fn, loops):
    best_us = None
    for _ in range(3):
        t0 = time.ticks_us()
        for _ in range(loops):
            fn()
        us = time.ticks_diff(time.ticks_us(), t0) / loops
        best_us = us if best_us is None or us < best_us else best_us
    return best_us
for name, fn in CASES:
    loops = 20 if "call" in name else 2000
    gc.collect(); gc.disable()
    before = gc.mem_free()
    fn()
    used = before - gc.mem_free()
    gc.enable()
    print("%s|%.1f|%d" % (name, best(fn, loops), used))
"""


def cpython_rows():
    scope = {}
    exec(SHARED, scope)
    rows = {}
    for name, fn in scope["CASES"]:
        loops = 50 if "call" in name else 20000
        rows[name] = min(timeit.repeat(fn, number=loops, repeat=3)) / loops * 1e6
    return rows, scope["one_call"]()


def hashlib_reference(name):
    h = hashlib.md5 if name == "MD5" else hashlib.sha256

    def run():
        ha1 = h(b"alice:example.test:secret").hexdigest()
        ha2 = h(b"REGISTER:sip:example.test").hexdigest()
        return h(("%s:abcdef0123:00000001:c0ffee:auth:%s" % (ha1, ha2)).encode()).hexdigest()

    return min(timeit.repeat(run, number=20000, repeat=3)) / 20000 * 1e6


def tls_registration_times():
    from tests.sim.conftest import USERS
    from tests.sim.kamailio import Kamailio
    from tests.sim.pki import TestPki
    from tests.sim.sipphone import Phone

    with tempfile.TemporaryDirectory() as tmp:
        pki = TestPki(Path(tmp) / "pki")
        with Kamailio(Path(tmp) / "k", pki, USERS) as k:

            async def cpython_once():
                async with Phone(k, pki, "alice", USERS["alice"]) as alice:
                    t0 = time.perf_counter()
                    await alice.register()
                    return (time.perf_counter() - t0) * 1000

            cp = min(asyncio.run(cpython_once()) for _ in range(3))
            agent = str(REPO / "tests" / "sim" / "mpy_sip_agent.py")
            args = [agent, str(pki.ca.cert_der), str(k.port), "carol", USERS["carol"], "register"]
            mp = []
            for _ in range(3):
                t0 = time.perf_counter()
                result = run_micropython(args, timeout=120)
                mp.append((time.perf_counter() - t0) * 1000)
                assert "EVENT Registered" in result.stdout, result.stdout + result.stderr
            # the agent run = interpreter start + TLS + register + unregister
            start = []
            for _ in range(3):
                t0 = time.perf_counter()
                run_micropython(["-c", "pass"], timeout=60)
                start.append((time.perf_counter() - t0) * 1000)
            return cp, min(mp), min(start)


def main():
    result = run_micropython(["-c", MPY], timeout=600)
    if result.returncode != 0:
        raise SystemExit("MicroPython run failed:\n" + result.stdout + result.stderr)
    mpy = {}
    for line in result.stdout.strip().splitlines():
        name, us, used = line.split("|")
        mpy[name] = (float(us), int(used))
    cp, messages = cpython_rows()
    print("%-22s %12s %12s %12s %14s" % ("operation", "unix port", "CPython", "hashlib ref", "alloc (port)"))
    for name in ("digest MD5", "digest SHA-256", "call over fake link"):
        ref = hashlib_reference(name.split()[1]) if name.startswith("digest") else None
        print("%-22s %10.1f us %10.1f us %12s %12d B" % (
            name, mpy[name][0], cp[name], "%.2f us" % ref if ref else "-", mpy[name][1]))
    print("one call = %d messages sent by the UAs; port/CPython ratio for the call: %.1fx" % (
        messages, mpy["call over fake link"][0] / cp["call over fake link"]))
    try:
        reg_cp, reg_mp, mp_start = tls_registration_times()
    except (OSError, subprocess.SubprocessError, AssertionError, RuntimeError) as e:
        print("TLS registration against Kamailio: not measured (%s)" % e)
        return
    print("REGISTER over TLS to Kamailio (handshake, 401, 200): CPython driver %.1f ms" % reg_cp)
    print("MicroPython agent run (start + TLS + register + unregister): %.1f ms; bare interpreter start %.1f ms"
          % (reg_mp, mp_start))


if __name__ == "__main__":
    main()
