"""Factory provisioning: what one handset costs on the host, next to the
single step that dominates it (measured in the same run), and how fast the
simulated handset reads its provisioned identity from NVS at boot.

Run: .venv/bin/python bench/bench_provision.py   (or `make bench`)"""
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "host_tools"))
sys.path.insert(0, str(REPO / "firmware" / "lib"))

from hushctl import boards, efuses, keys, nvs_image, pki, provision  # noqa: E402
from tests.support.runtimes import run_micropython  # noqa: E402

PASSPHRASE = "bench passphrase 123"


def best_ms(func, repeat=3):
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        ms = (time.perf_counter() - t0) * 1000
        best = ms if best is None or ms < best else best
    return best


def row(name, ms, ref_name=None, ref_ms=None):
    ratio = "  (%.1fx %s)" % (ms / ref_ms, ref_name) if ref_ms else ""
    print("  %-52s %9.1f ms%s" % (name, ms, ratio))


with tempfile.TemporaryDirectory(prefix="bench-prov-") as tmp:
    tmp = Path(tmp)
    counter = iter(range(1000))

    print("host (CPython %d.%d), best of 3:" % sys.version_info[:2])
    rsa_ms = best_ms(lambda: pki.new_rsa_key(3072))
    row("RSA-3072 key generation (reference)", rsa_ms)
    kdf_ms = best_ms(lambda: hashlib.pbkdf2_hmac("sha256", PASSPHRASE.encode(), os.urandom(16), pki.PBKDF2_ROUNDS))
    row("hashlib PBKDF2-HMAC-SHA256, %d rounds (reference)" % pki.PBKDF2_ROUNDS, kdf_ms)
    row("keys init (3 CAs + RSA-3072 OTA key, 4 encrypted)",
        best_ms(lambda: keys.init_hierarchy(tmp / ("k%d" % next(counter)), PASSPHRASE)), "PBKDF2", kdf_ms)
    keys.init_hierarchy(tmp / "k", PASSPHRASE)

    def one_cert():
        issuing = keys.Hierarchy(tmp / "k")
        pki.make_client_cert("hp-x", pki.new_ec_key().public_key(), 30, issuing.cert(keys.ISSUING),
                             issuing.key(keys.ISSUING, PASSPHRASE))
    cert_ms = best_ms(one_cert)
    row("device key + certificate (incl. CA key decrypt)", cert_ms, "PBKDF2", kdf_ms)

    sims = []

    def sim_handset():
        sims.append(tmp / ("h%d" % next(counter)))
        opts = provision.Options(tmp / "k", PASSPHRASE, boards.get_board("sim"), sim_dir=sims[-1])
        provision.provision(opts, lambda text: None, lambda q: True)
    row("provision one simulated handset (--sim)", best_ms(sim_handset), "key+cert", cert_ms)

    contents = {"hush_id": {"dev_key": os.urandom(138), "dev_cert": os.urandom(600)},
                "hush_trust": {"ca0": os.urandom(700), "ota_dig0": os.urandom(32), "sec_ver": 1}}
    start_ms = best_ms(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
    row("python interpreter start (reference)", start_ms)
    row("NVS image 0x6000, plain (esp-idf-nvs-partition-gen)",
        best_ms(lambda: nvs_image.generate(contents, 0x6000)), "python start", start_ms)
    keys_blob = nvs_image.new_encryption_keys()
    row("NVS image 0x6000, NVS-encrypted",
        best_ms(lambda: nvs_image.generate(contents, 0x6000, keys_blob)), "python start", start_ms)

    target_file = tmp / "efuses.bin"
    summary_ms = best_ms(lambda: efuses.Target("esp32", virtual_file=target_file).read_summary())
    row("espefuse summary on virtual eFuses (reference)", summary_ms)

    def burn_esp32():
        f = tmp / ("e%d.bin" % next(counter))
        opts = provision.Options(tmp / "k", PASSPHRASE, boards.get_board("lyrat-v4.3"), virtual_efuses=f,
                                 burn_efuses=True, secure_version=1)
        provision.provision(opts, lambda text: None, lambda q: True)
    row("provision one ESP32 on virtual eFuses (burn)", best_ms(burn_esp32), "summary", summary_ms)

    # The handset side: read identity and trust at boot, MicroPython unix port.
    script = tmp / "boot_read.py"
    script.write_text("""
import time
from hushphone.hal.unix.nvs import Nvs
root = %r
buf = bytearray(4096)
best = None
for _ in range(5):
    t0 = time.ticks_us()
    for _ in range(20):
        Nvs(root, "hush_id").get_blob("dev_cert", buf)
        Nvs(root, "hush_id").get_blob("dev_key", buf)
        Nvs(root, "hush_trust").get_blob("ca0", buf)
    us = time.ticks_diff(time.ticks_us(), t0) / 20
    best = us if best is None or us < best else best
print("%%.0f" %% best)
""" % str(sims[0]))
    result = run_micropython([str(script)], timeout=120)
    print("MicroPython unix port:")
    print("  %-52s %9.0f us" % ("boot read of dev_cert + dev_key + ca0 (sim NVS)", float(result.stdout.strip())))
