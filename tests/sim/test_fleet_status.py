"""`hushctl fleet status` against simulated handsets running the firmware's
update agent (MicroPython unix port), each with its own certificate (the
serial as its CN): one still on its factory firmware, one updated to 1.1.0,
one address where nothing answers. The table and --json show version and
slot per handset; the versions land in the inventory (handset_status, by
the serial the handset's certificate proves), with the address, so a second
run needs only --inventory; a handset the inventory does not know is
reported but not recorded."""
import datetime
import json
import os
import subprocess
import sys

import pytest

from hushctl import inventory as inv_lib
from hushctl.lab import free_tcp_port
from tests.sim.fleet_sim import start_agent
from tests.sim.ota_sim import Signer, copy_handset, make_handset, run_handset
from tests.sim.pki import TestPki, _issue
from tests.support.runtimes import REPO

KNOWN, STRANGER = "hp-status-0001", "hp-status-0002"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("status")
    pki = TestPki(tmp / "pki")
    signer = Signer(tmp / "keys")
    base = make_handset(tmp / "base", signer, signer.signed_image("1.0.0", 1, 8 * 1024))
    run_handset(base, "boot")
    old, new = copy_handset(base, tmp / "old"), copy_handset(base, tmp / "new")
    _, events = run_handset(new, "install", signer.bundle("v2.hushota", "1.1.0", 2, 16 * 1024))
    assert events[-1]["status"] == "updated" and events[-1]["confirmed"], events
    now = datetime.datetime.now(datetime.timezone.utc)
    agents = [start_agent(root, pki, identity=_issue(tmp / "pki", pki.ca, serial, now))
              for root, serial in ((old, KNOWN), (new, STRANGER))]
    db = tmp / "inventory.sqlite"
    inv = inv_lib.Inventory(db)
    with inv.transaction():
        inv.add({"serial": KNOWN, "board": "lyrat-v4.3", "chip": "esp32", "cert_serial": "1", "cert_fingerprint": "f",
                 "key_digests": "", "efuses_burned": 0, "firmware_version": "1.0.0",
                 "provisioned_at": "2026-01-01T00:00:00+00:00", "status": "provisioned", "revoked_at": None})
    inv.close()
    try:
        yield pki, agents, db
    finally:
        for a in agents:
            a.stop()


def status(pki, *args):
    tech = pki.client("technician")
    cmd = [sys.executable, "-m", "hushctl", "fleet", "status", "--cert", str(tech.cert_pem), "--key",
           str(tech.key_pem), "--ca", str(pki.ca.cert_pem)] + [str(a) for a in args]
    env = dict(os.environ, COLUMNS="200")  # rich fits the table to the terminal's width
    return subprocess.run(cmd, cwd=str(REPO), capture_output=True, text=True, timeout=120, env=env)


def test_status_table_json_and_inventory(lab):
    pki, (old, new), db = lab
    nobody = "127.0.0.1:%d" % free_tcp_port()
    proc = status(pki, "--to", old.address, "--to", new.address, "--to", nobody, "--inventory", db, "--json")
    assert proc.returncode == 1 and proc.stderr.strip() == "hushctl: error: 1 of 3 handsets did not answer", proc.stderr
    results = json.loads(proc.stdout)
    got = [(r["status"], r["serial"], r["version"], r["secure_version"], r["slot"]) for r in results]
    assert got == [("ok", KNOWN, "1.0.0", 1, "ota_0"), ("ok", STRANGER, "1.1.0", 2, "ota_1"),
                   ("unreachable", None, None, None, None)], results
    assert results[1]["note"] == "not in the inventory" and results[0]["note"] is None

    inv = inv_lib.Inventory(db)
    try:
        recorded = inv.statuses()
    finally:
        inv.close()
    assert [(s["serial"], s["version"], s["secure_version"], s["slot"], s["address"]) for s in recorded] == \
        [(KNOWN, "1.0.0", 1, "ota_0", old.address)]

    shown = hushctl_show(db, KNOWN)
    assert "seen version      1.0.0" in shown and "seen slot         ota_0" in shown, shown

    # the inventory alone: the addresses it recorded
    proc = status(pki, "--inventory", db)
    assert proc.returncode == 0, proc.stderr
    assert KNOWN in proc.stdout and "1.0.0" in proc.stdout and "ota_0" in proc.stdout
    assert "1 handset(s) recorded in the inventory" in proc.stdout


def hushctl_show(db, serial):
    proc = subprocess.run([sys.executable, "-m", "hushctl", "inventory", "show", serial, "--inventory", str(db)],
                          cwd=str(REPO), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_status_needs_handsets(lab, tmp_path):
    pki, _agents, _db = lab
    empty = tmp_path / "empty.sqlite"
    inv_lib.Inventory(empty).close()
    proc = status(pki, "--inventory", empty)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1 and "--to" in proc.stderr
