"""`hushctl fleet push` to many handsets at once: the wall time of a push
to N simulated handsets (MicroPython unix-port processes running the
firmware's update agent over mutual TLS on loopback, each with its own
flash) as a ratio to a push to one handset, measured in the same run.
Per-handset results are counted, and the slowest handset is shown next to
the median (the worst case, not only the typical one).

On a small machine the simulated handsets share its cores with each other
and with the pushing tool: their own work (TLS handshake, signature checks,
flash writes) adds up N times, which no real fleet does (each handset has
its own CPU). So the CPU seconds are shown apart: the pushing tool's own
(what a technician's laptop spends, the part that must scale) and the
handsets' (all their processes, start-up included), each against one
handset.

    .venv/bin/python bench/bench_fleet_push.py [N]     (default 100)"""
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hushctl import fleet  # noqa: E402
from tests.sim.fleet_sim import start_agent  # noqa: E402
from tests.sim.ota_sim import Signer, copy_handset, make_handset, run_handset  # noqa: E402
from tests.sim.pki import TestPki  # noqa: E402

PAYLOAD = 64 * 1024


def _children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def push(bundle, roots, pki, parallel):
    """(wall seconds, pushing tool's CPU seconds, handsets' CPU seconds, results)"""
    handsets_before = _children_cpu()
    with ThreadPoolExecutor(16) as pool:
        agents = list(pool.map(lambda r: start_agent(r, pki), roots))
    try:
        tech = pki.client("technician")
        ctx = fleet.client_context(str(tech.cert_pem), str(tech.key_pem), str(pki.ca.cert_pem))
        targets = [fleet.parse_target(a.address) for a in agents]
        started, cpu = time.perf_counter(), time.process_time()
        results = fleet.push(str(bundle), targets, ctx, parallel=parallel, timeout=300)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        for a in agents:  # updated handsets end their process ("reboot")
            a.wait_exit(120)
    finally:
        for a in agents:
            a.stop()
    return wall, cpu, _children_cpu() - handsets_before, results


def main(n):
    tmp = Path(tempfile.mkdtemp(prefix="hush-bench-fleet-"))
    try:
        run(tmp, n)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp, n):
    pki = TestPki(tmp / "pki")
    signer = Signer(tmp / "keys")
    bundle = signer.bundle("v2.hushota", "1.1.0", 2, PAYLOAD)
    base = make_handset(tmp / "base", signer, signer.signed_image("1.0.0", 1, 8 * 1024))
    run_handset(base, "boot")
    print("bundle %d KiB; handsets: MicroPython unix-port agents on loopback" % (bundle.stat().st_size // 1024))

    one_wall, one_cpu, one_handsets, one = push(bundle, [copy_handset(base, tmp / "one")], pki, 1)
    roots = [copy_handset(base, tmp / ("h%03d" % i)) for i in range(n)]
    many_wall, many_cpu, many_handsets, many = push(bundle, roots, pki, n)

    counts = {}
    for r in many:
        counts[r.status] = counts.get(r.status, 0) + 1
    seconds = sorted(r.seconds for r in many)
    print("push to 1 handset:     %6.2f s wall (%s)" % (one_wall, one[0].status))
    print("push to %3d handsets:  %6.2f s wall, --parallel %d" % (n, many_wall, n))
    print("ratio %d/1:            %6.2fx   (the issue's target: within 3x)" % (n, many_wall / one_wall))
    print("pushing tool CPU:      %6.2f s for 1, %6.2f s for %d (%.1fx; %.1f ms per handset)"
          % (one_cpu, many_cpu, n, many_cpu / max(one_cpu, 1e-6), 1000 * many_cpu / n))
    print("handsets' CPU:         %6.2f s for 1, %6.2f s for %d (%.1fx), on %d shared core(s)"
          % (one_handsets, many_handsets, n, many_handsets / max(one_handsets, 1e-6), os.cpu_count()))
    print("per handset: %s" % ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    print("per-handset time: median %.2f s, slowest %.2f s, fastest %.2f s"
          % (statistics.median(seconds), seconds[-1], seconds[0]))
    failed = [r for r in many if not r.ok]
    for r in failed[:5]:
        print("  %s: %s %s %s" % (r.target.name, r.status, r.reason, r.message))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
