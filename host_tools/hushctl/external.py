"""Running the ecosystem's command-line tools (esptool, espefuse,
esp-idf-nvs-partition-gen): bounded in time, and a failure becomes one line
of the caller's error type, taken from the tool's own message."""
import subprocess
import sys
from pathlib import Path


def exe(name):
    """A tool installed next to this Python (the venv), else from PATH."""
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else name


def run(cmd, what, error_cls, timeout=600):
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise error_cls("%s did not finish within %d s" % (what, timeout))
    if result.returncode != 0:
        lines = [l.strip() for l in (result.stdout + result.stderr).splitlines() if l.strip()]
        errors = [l for l in lines if "error" in l.lower() or "fatal" in l.lower()]
        raise error_cls("%s failed: %s" % (what, " ".join((errors or lines or ["no output"])[-2:])))
    return result.stdout
