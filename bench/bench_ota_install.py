"""OTA install on the MicroPython unix port: streaming verify-and-write
throughput (KiB/s) of a signed 512 KiB image into the simulated update
partition, next to two references measured in the same run (hashing the
bytes alone; erasing+writing the blocks alone), and the peak heap in use
during the update (gc.mem_alloc() sampled after every 4 KiB chunk, minus
the heap in use before it started). The same firmware code on CPython is
shown for comparison."""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.sim.ota_sim import Signer, make_handset  # noqa: E402
from tests.support.runtimes import REPO, micropython_env, micropython_exe  # noqa: E402

IMAGE_PAYLOAD = 512 * 1024

DEVICE_SCRIPT = r'''
import gc, json, sys, time
from hushphone.compat import IS_MICROPYTHON, ticks_us, ticks_diff
from hushphone.hal.unix import bootloader
from hushphone.hal.unix.nvs import Nvs
from hushphone.hal.unix.partition import Partition
from hushphone.hal.unix.secure_boot import SimSecureBoot
from hushphone.crypto.sha import new_sha256
from hushphone.ota.progress import ProgressStore
from hushphone.ota.service import OtaService
from hushphone.ota.updater import BundleWriter

root, bundle_path = sys.argv[1], sys.argv[2]
live = len(sys.argv) > 3  # collect before every sample: live heap instead of speed
cfg = json.load(open(root + "/config.json"))
nvs = Nvs(root, "hush_trust")
bootloader.boot(root, SimSecureBoot(nvs, cfg["chip"]))
service = OtaService(Partition, nvs, cfg["board"], cfg["chip"], lambda: cfg["now"], ProgressStore(root), 16)
buf = bytearray(4096)

def alloc():
    return gc.mem_alloc() if IS_MICROPYTHON else 0

# reference 1: SHA-256 of the bundle bytes alone
f = open(bundle_path, "rb")
h = new_sha256()
t0 = ticks_us()
total = 0
while True:
    n = f.readinto(buf)
    if not n:
        break
    h.update(memoryview(buf)[:n])
    total += n
h.digest()
t_hash = ticks_diff(ticks_us(), t0)
f.close()

# reference 2: erase + write the same number of blocks, no verification
target = Partition(Partition.RUNNING).get_next_update()
t0 = ticks_us()
for block in range(total // 4096):
    target.writeblocks(block, buf)
t_write = ticks_diff(ticks_us(), t0)

# the update itself: verify while writing, then set_boot
gc.collect()
base = alloc()
peak = 0
writer = BundleWriter(service.updater())
f = open(bundle_path, "rb")
t0 = ticks_us()
while True:
    n = f.readinto(buf)
    if not n:
        break
    writer.feed(memoryview(buf)[:n])
    if live:
        gc.collect()
    a = alloc() - base
    if a > peak:
        peak = a
result = writer.finish()
t_update = ticks_diff(ticks_us(), t0)
f.close()
print(json.dumps({"bytes": total, "t_update_us": t_update, "t_hash_us": t_hash, "t_write_us": t_write,
                  "peak_heap": peak, "base_heap": base, "version": result.version}))
'''


def run(exe_args, env, root, bundle, *extra):
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(DEVICE_SCRIPT)
        script = f.name
    out = subprocess.run(exe_args + [script, str(root), str(bundle)] + list(extra), env=env, cwd=str(REPO),
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(out.stdout + out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def kib_s(nbytes, us):
    return nbytes / 1024 / (us / 1e6)


def main():
    tmp = Path(tempfile.mkdtemp(prefix="bench-ota-"))
    signer = Signer(tmp / "keys")
    bundle = signer.bundle("v2.hushota", "1.1.0", 2, IMAGE_PAYLOAD)
    factory = signer.signed_image("1.0.0", 1, 8 * 1024)
    import os

    cpy_env = dict(os.environ)
    cpy_env["PYTHONPATH"] = os.pathsep.join([str(REPO / "firmware" / "lib"), cpy_env.get("PYTHONPATH", "")])
    rows = [("MicroPython unix port", [micropython_exe()], micropython_env()),
            ("CPython (same code)", [sys.executable], cpy_env)]
    print("signed bundle: %d KiB (image payload %d KiB, RSA-3072 SBV2 signatures)"
          % (bundle.stat().st_size // 1024, IMAGE_PAYLOAD // 1024))
    print("%-24s %12s %12s %12s %8s" % ("runtime", "update KiB/s", "hash KiB/s", "write KiB/s", "upd/w+h"))
    for name, exe, env in rows:
        root = make_handset(tmp / name.split()[0], signer, factory, slot_size=1024 * 1024)
        r = run(exe, env, root, bundle)
        assert r["version"] == "1.1.0"
        upd = kib_s(r["bytes"], r["t_update_us"])
        ref = r["t_update_us"] / (r["t_hash_us"] + r["t_write_us"])
        print("%-24s %12.0f %12.0f %12.0f %8.2f" % (name, upd, kib_s(r["bytes"], r["t_hash_us"]),
                                                 kib_s(r["bytes"], r["t_write_us"]), ref))
    print("upd/w+h: update time over (hash alone + write alone, both on the simulated flash files);")
    print("the rest is the verifier's second hash, CRC, progress saves, the signature checks and")
    print("set_boot()'s secure-boot re-check of the written slot (a full read and hash, as IDF does).")
    print()
    root = make_handset(tmp / "live", signer, factory, slot_size=1024 * 1024)
    r = run([micropython_exe()], micropython_env(), root, bundle, "live")
    print("MicroPython live heap during the update (gc.collect() + gc.mem_alloc() after every 4 KiB chunk):")
    print("  peak %d bytes above the %d bytes in use before it started" % (r["peak_heap"], r["base_heap"]))


if __name__ == "__main__":
    main()
