"""Paths and launchers shared by the CPython-side tests and benchmarks."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIRMWARE_LIB = REPO / "firmware" / "lib"
CORE_TESTS = REPO / "tests" / "core"
MPY_SUPPORT = REPO / "tests" / "support" / "mpy"
SHARED = REPO.parent / "shared"
BIN = Path(sys.executable).parent


def micropython_exe():
    exe = BIN / "micropython"
    if not exe.exists():
        raise RuntimeError("MicroPython unix port not installed: run `make venv`")
    return str(exe)


def micropython_env(*extra_paths):
    """Environment for the unix port: firmware/lib and the test support
    modules on MICROPYPATH (the port's equivalent of PYTHONPATH)."""
    paths = [str(p) for p in extra_paths] + [str(CORE_TESTS), str(MPY_SUPPORT), str(FIRMWARE_LIB), ".frozen"]
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join(paths)
    return env


def run_micropython(args, heapsize=None, timeout=600, extra_paths=(), **kwargs):
    cmd = [micropython_exe()]
    if heapsize:
        cmd += ["-X", "heapsize=%s" % heapsize]
    cmd += list(args)
    return subprocess.run(
        cmd,
        env=micropython_env(*extra_paths),
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )
