"""ZRTP costs: X25519 and DH-3072 key generation and agreement (the pure
Python code the handset runs), and a whole two-engine handshake over the
fake link (Hello to Conf2ACK, both sides' work), with ephemeral keys taken
from a pre-filled key pool and made on demand.

Measured in this run: the MicroPython unix port and CPython, and as the
reference the same key agreements in OpenSSL through pyca/cryptography.
An ESP32 at 240 MHz is expected one to two orders of magnitude slower than
the unix port on big-integer work (see FIELD-NOTES), which is why the pool
is filled while the phone is idle.

Run: .venv/bin/python bench/bench_zrtp.py   (or `make bench`)"""
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.runtimes import CORE_TESTS, FIRMWARE_LIB, run_micropython  # noqa: E402

sys.path.insert(0, str(FIRMWARE_LIB))
sys.path.insert(0, str(CORE_TESTS))

# The same script on both runtimes; `clock()` returns microseconds.
SCRIPT = """
from hushphone.crypto.random import random_bytes
from hushphone.zrtp import dh
from hushphone.zrtp.engine import ZrtpConfig
from hushphone.zrtp.keypool import KeyPool
from zrtp_fakelink import FakeLink, Party

def best(func, loops):
    best_us = None
    for _ in range(3):
        t0 = clock()
        for _ in range(loops):
            func()
        us = (clock() - t0) / loops
        if best_us is None or us < best_us:
            best_us = us
    return best_us

peer = {}
for ka in (dh.KA_X255, dh.KA_DH3K):
    peer[ka] = dh.generate(ka, random_bytes)
    loops = 10 if ka == dh.KA_X255 else 3
    report(ka + "_keygen", best(lambda: dh.generate(ka, random_bytes), loops))
    mine = dh.generate(ka, random_bytes)
    report(ka + "_agree", best(lambda: mine.shared(peer[ka].public), loops))

def handshake(ka, pooled):
    alice, bob = Party("alice"), Party("bob")
    config = ZrtpConfig(agreements=(ka,))
    pools = []
    for p in (alice, bob):
        pool = KeyPool(random_bytes, {ka: 1})
        if pooled:
            pool.fill()
        pools.append(pool)
    a = alice.engine(config, keypool=pools[0])
    b = bob.engine(config, keypool=pools[1])
    t0 = clock()
    link = FakeLink(a, b)
    link.start()
    link.run()
    us = clock() - t0
    assert a.state == "secure" and b.state == "secure", (a.state, b.state)
    return us

for ka in (dh.KA_X255, dh.KA_DH3K):
    for pooled in (True, False):
        report("%s_handshake_%s" % (ka, "pooled" if pooled else "ondemand"), min(handshake(ka, pooled) for _ in range(3)))
"""

MPY_PRELUDE = """
import time
def clock():
    return time.ticks_us()
def report(name, us):
    print(name, us)
"""


def mpy_figures():
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "zrtp_bench.py"
        script.write_text(MPY_PRELUDE + SCRIPT)
        r = run_micropython([str(script)], timeout=600)
        if r.returncode:
            raise SystemExit("MicroPython ZRTP bench failed:\n" + r.stdout + r.stderr)
        return dict((line.split()[0], float(line.split()[1])) for line in r.stdout.splitlines())


def cpython_figures():
    figures = {}
    env = {"clock": lambda: time.perf_counter_ns() / 1000.0, "report": lambda name, us: figures.__setitem__(name, us)}
    exec(SCRIPT, env)
    return figures


def openssl_figures():
    from cryptography.hazmat.primitives.asymmetric import dh as ossl_dh
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from hushphone.zrtp import dh

    def best(func, loops):
        out = None
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(loops):
                func()
            us = (time.perf_counter() - t0) / loops * 1e6
            out = us if out is None or us < out else out
        return out

    figures = {}
    peer = X25519PrivateKey.generate().public_key()
    mine = X25519PrivateKey.generate()
    figures["X255_keygen"] = best(lambda: X25519PrivateKey.generate().public_key(), 200)
    figures["X255_agree"] = best(lambda: mine.exchange(peer), 200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        params = ossl_dh.DHParameterNumbers(dh.DH3K_P, dh.DH3K_G).parameters()
        # OpenSSL picks its own exponent size for a bare p, g group.
        figures["DH3k_keygen"] = best(lambda: params.generate_private_key().public_key(), 5)
        a, b = params.generate_private_key(), params.generate_private_key()
        figures["DH3k_agree"] = best(lambda: a.exchange(b.public_key()), 5)
    return figures


def main():
    mpy = mpy_figures()
    cpy = cpython_figures()
    ref = openssl_figures()
    print("ZRTP key agreement, best of 3 batches, milliseconds")
    print("%-34s %12s %12s %12s" % ("", "MicroPython", "CPython", "OpenSSL ref"))
    for name, label in (
        ("X255_keygen", "X25519 key pair"),
        ("X255_agree", "X25519 agreement"),
        ("DH3k_keygen", "DH-3072 key pair (256-bit exp.)"),
        ("DH3k_agree", "DH-3072 agreement"),
    ):
        print("%-34s %12.2f %12.2f %12.2f" % (label, mpy[name] / 1000, cpy[name] / 1000, ref[name] / 1000))
    print()
    print("full handshake, both engines, fake link (no network time), milliseconds")
    print("%-34s %12s %12s" % ("", "MicroPython", "CPython"))
    for ka, label in (("X255", "X25519"), ("DH3k", "DH-3072")):
        for mode in ("pooled", "ondemand"):
            name = "%s_handshake_%s" % (ka, mode)
            text = "%s, keys %s" % (label, "from the pool" if mode == "pooled" else "made during the call")
            print("%-34s %12.1f %12.1f" % (text, mpy[name] / 1000, cpy[name] / 1000))
    ratio = mpy["DH3k_agree"] / ref["DH3k_agree"]
    print()
    print("MicroPython DH-3072 agreement is %.0fx OpenSSL's on this machine" % ratio)


if __name__ == "__main__":
    main()
