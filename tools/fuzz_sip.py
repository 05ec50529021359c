"""`make fuzz`: the SIP/SDP/user-agent mutation fuzzers of CI
(tests/core/test_sip_fuzz_*.py), with many more inputs, on CPython and on
the MicroPython unix port, two processes at a time. One seed for the whole
run (printed, with the command that repeats it); a failure prints the
module, the seed and the input.

    .venv/bin/python tools/fuzz_sip.py [--inputs N] [--seed S] [--runtime cpython|micropython|both]

N is the number of inputs per runtime (default 1,000,000), shared by the
modules as in CI (fuzz_budget.py)."""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.runtimes import micropython_env, micropython_exe  # noqa: E402

MODULES = ("test_sip_fuzz_ua", "test_sip_fuzz_parsers_a", "test_sip_fuzz_parsers_b")


def commands(runtime):
    core = REPO / "tests" / "core"
    for module in MODULES:
        if runtime == "cpython":
            yield module, [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                           str(core / (module + ".py"))], None
        else:
            runner = REPO / "tests" / "support" / "mpy" / "mpy_runner.py"
            yield module, [micropython_exe(), str(runner), module], micropython_env()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1000000, help="inputs per runtime")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 1000000007)
    parser.add_argument("--runtime", choices=("cpython", "micropython", "both"), default="both")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    runtimes = ("cpython", "micropython") if args.runtime == "both" else (args.runtime,)
    print("SIP fuzzing: %d inputs per runtime, seed %d (again: %s tools/fuzz_sip.py --inputs %d --seed %d)"
          % (args.inputs, args.seed, Path(sys.executable).name, args.inputs, args.seed), flush=True)
    queue = [(rt, m, cmd, env) for rt in runtimes for m, cmd, env in commands(rt)]
    running = []
    failed = []
    start = time.monotonic()
    while queue or running:
        while queue and len(running) < args.jobs:
            rt, module, cmd, env = queue.pop(0)
            env = dict(env or os.environ)
            env["HUSHPHONE_FUZZ_INPUTS"] = str(args.inputs)
            env["HUSHPHONE_FUZZ_SEED"] = str(args.seed)
            proc = subprocess.Popen(cmd, cwd=str(REPO), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True)
            running.append((rt, module, proc, time.monotonic()))
        time.sleep(0.5)
        for item in list(running):
            rt, module, proc, t0 = item
            if proc.poll() is None:
                continue
            running.remove(item)
            output = proc.stdout.read()
            ok = proc.returncode == 0
            print("%-12s %-26s %s in %.0f s" % (rt, module, "passed" if ok else "FAILED", time.monotonic() - t0),
                  flush=True)
            if not ok:
                failed.append(module)
                lines = [ln for ln in output.splitlines() if "Failure" in ln or "seed" in ln or "Error" in ln]
                print("\n".join(ln[:1500] for ln in lines[:12]), flush=True)
                print(output[-3000:], flush=True)
    print("done in %.0f s: %s" % (time.monotonic() - start, "all passed" if not failed else "FAILED: " + ", ".join(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
