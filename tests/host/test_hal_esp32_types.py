"""hal/esp32 cannot run here, so it is type-checked against the MicroPython
ESP32 API: mypy over our modules with the PyPI micropython-esp32-stubs (and
their micropython-stdlib-stubs typeshed) instead of CPython's standard
library. A misuse of machine.I2S/I2C/Pin, esp32.NVS or framebuf (a wrong
keyword, a missing argument, a method the port lacks) is an error where the
object's type is known: where it is created (a driver handed a bus object
is checked through its caller, board.py)."""
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.support.runtimes import FIRMWARE_LIB

HAL_ESP32 = FIRMWARE_LIB / "hushphone" / "hal" / "esp32"
# Our modules (partition.py belongs to the OTA code and is checked by its owner).
MODULES = ["audio.py", "board.py", "es7210.py", "es8311.py", "es8388.py", "i2c_regs.py", "keypad.py", "nvs_store.py",
           "ssd1306.py", "st7789.py"]

# Defects inside the stub files themselves (not in our code) are not ours to report.
MYPY_INI = """\
[mypy]
check_untyped_defs = True
no_site_packages = True
warn_unused_configs = False
[mypy-machine,vfs,_mpy_shed,_mpy_shed.*]
ignore_errors = True
"""


def _stub_files(dist):
    d = metadata.distribution(dist)
    return [(Path(d.locate_file(f)), str(f)) for f in d.files if str(f).endswith((".pyi", "VERSIONS")) and not str(f).startswith("..")]


@pytest.fixture(scope="module")
def stub_env(tmp_path_factory):
    """The stubs laid out as mypy wants them: the stdlib stubs as a custom
    typeshed (stdlib/ plus the mypy_extensions stub), the port modules
    (machine, esp32, framebuf, ...) on MYPYPATH."""
    root = tmp_path_factory.mktemp("mpy-stubs")
    for dist in ("micropython-esp32-stubs", "micropython-stdlib-stubs"):
        for src, rel in _stub_files(dist):
            dst = root / ("typeshed" if rel.startswith(("stdlib/", "stubs/")) else "stubs") / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dst)
    ext = Path(metadata.distribution("mypy").locate_file("")) / "stubs" / "mypy-extensions"
    if not (root / "typeshed" / "stubs" / "mypy-extensions").exists():
        shutil.copytree(ext, root / "typeshed" / "stubs" / "mypy-extensions")
    (root / "mypy.ini").write_text(MYPY_INI)
    assert (root / "stubs" / "machine.pyi").is_file() and (root / "typeshed" / "stdlib" / "VERSIONS").is_file()
    return root


def run_mypy(stub_env, files):
    env = {"MYPYPATH": "%s:%s" % (stub_env / "stubs", FIRMWARE_LIB), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(stub_env / "mypy.ini"),
         "--custom-typeshed-dir", str(stub_env / "typeshed"), "--cache-dir", str(stub_env / "cache"),
         "--follow-imports=silent", "--show-error-codes", *map(str, files)],
        capture_output=True, text=True, timeout=300, env=env,
    )


def test_hal_esp32_has_no_type_errors(stub_env):
    result = run_mypy(stub_env, [HAL_ESP32 / m for m in MODULES])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in %d source files" % len(MODULES) in result.stdout


# Each misuse is one edit of a real module; mypy must name it.
MISUSES = [
    ("audio.py", "rate=bus_rate, ibuf=_IBUF", "rat=bus_rate, ibuf=_IBUF", 'Unexpected keyword argument "rat" for "I2S"'),
    ("audio.py", "self._tx.write(self._wide_view[self._tx_sent :])", "self._tx.send(self._wide_view[self._tx_sent :])", '"I2S" has no attribute "send"'),
    ("board.py", '(Pin(b["pin"], Pin.IN), b["press"]', '(Pin(b["pin"], Pin.INPUT), b["press"]', '"type[Pin]" has no attribute "INPUT"'),
    ("board.py", 'freq=bus.get("freq", 100000))', 'frequency=bus.get("freq", 100000))', 'Unexpected keyword argument "frequency"'),
    ("nvs_store.py", "return NvsStore(esp32.NVS(namespace))", "return NvsStore(esp32.NVS(namespace, 1))", '"NVS"'),
    ("ssd1306.py", "framebuf.MONO_VLSB)", "framebuf.MONO_VLSB_X)", "MONO_VLSB_X"),
]


@pytest.mark.parametrize("module,old,new,message", MISUSES, ids=[m[3][:40] for m in MISUSES])
def test_a_misuse_is_caught(stub_env, tmp_path, module, old, new, message):
    source = (HAL_ESP32 / module).read_text()
    assert source.count(old) == 1, "the misuse template no longer matches %s" % module
    bad = tmp_path / module
    bad.write_text(source.replace(old, new))
    result = run_mypy(stub_env, [bad])
    assert result.returncode == 1, result.stdout
    assert message in result.stdout, result.stdout
