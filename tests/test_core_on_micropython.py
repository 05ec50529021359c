"""Runs every tests/core module on the MicroPython unix port.

The same modules also run on CPython through normal pytest collection of
tests/core; this file is the MicroPython half, one pytest test per module,
so a failure names both the runtime and the module."""
import pytest

from tests.support.runtimes import CORE_TESTS, run_micropython

MODULES = sorted(p.stem for p in CORE_TESTS.glob("test_*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_core_module_on_micropython(module):
    result = run_micropython([str(CORE_TESTS.parent / "support" / "mpy" / "mpy_runner.py"), module])
    output = result.stdout + result.stderr
    last = output.strip().splitlines()[-1] if output.strip() else "(no output)"
    assert result.returncode == 0, "MicroPython runtime failed in tests/core/%s.py: %s\n%s" % (module, last, output)
    assert " passed, 0 failed" in last, output
