"""firmware/main.py's handset path (not the simulation) on the MicroPython
unix port, over an `esp32` stand-in backed by the simulated flash and NVS:
after an update it reads the otadata state it booted in (rollback or stock
bootloader), confirms, and sets up the update agent from NVS (device
certificate, the fleet CA from the last CA slot, all interfaces, port 8470,
the handset's clock: unknown until the network tells it)."""
import json

import pytest

from tests.support.runtimes import CORE_TESTS, REPO, run_micropython


@pytest.mark.parametrize("rollback", [True, False])
def test_main_on_a_handset_reports_rollback_and_sets_up_the_agent(rollback):
    result = run_micropython([str(REPO / "tests" / "host" / "main_esp32_probe.py"), "1" if rollback else "0"],
                             extra_paths=[CORE_TESTS], timeout=120)
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE ")]
    assert result.returncode == 0 and lines, result.stdout + result.stderr
    out = json.loads(lines[0][6:])
    state = "PENDING_VERIFY" if rollback else "UNDEFINED"
    assert out["boot"] == {"state": state, "rollback": "yes" if rollback else "no", "rolled_back": False,
                           "confirmed": True, "self_test": "passed"}
    assert (out["status"]["version"], out["status"]["slot"], out["status"]["board"]) == ("1.1.0", "ota_1", "lyrat-v4.3")
    assert out["setup"] == ["0.0.0.0", 8470, None, "device-cert", "device-key", "fleet-ca"]
    assert out["clock"] is None  # a handset's clock is unknown until NTP/SIP tell it: updates wait for it
    if not rollback:
        assert "this bootloader would not have rolled it back" in result.stdout
