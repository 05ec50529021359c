"""`hushctl fleet push` against 20 simulated handsets at once: MicroPython
unix-port processes running the firmware's update agent on loopback, each
with its own flash and NVS files. All of them update (and boot and confirm
the new firmware afterwards) except one built for another board, which
refuses without stopping the others. A technician certificate from another
CA gets nothing installed; a handset already on the version says so."""
import datetime
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from hushctl import fleet
from tests.sim.fleet_sim import start_agent
from tests.sim.ota_sim import Signer, copy_handset, free_port, make_handset, run_handset
from tests.sim.pki import TestPki, _issue
from tests.support.runtimes import REPO

FLEET_SIZE = 20
ODD_ONE = 7  # provisioned as another board


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fleet")
    pki = TestPki(tmp / "pki")
    signer = Signer(tmp / "keys")
    factory = signer.signed_image("1.0.0", 1, 8 * 1024)
    bundle = signer.bundle("v2.hushota", "1.1.0", 2, 64 * 1024)
    base = make_handset(tmp / "base", signer, factory)
    odd = make_handset(tmp / "base-odd", signer, factory, board="other-board")
    for root in (base, odd):
        run_handset(root, "boot")
    return tmp, pki, bundle, base, odd


def cli_push(bundle, pki, tech, *args):
    # (--wait-boot 0: these agents (tests/sim/ota_handset.py) exit at the
    # reset and the test boots them itself; test_fleet_sim_run follows
    # handsets that reset and come back.)
    cmd = [sys.executable, "-m", "hushctl", "fleet", "push", str(bundle), "--wait-boot", "0", "--cert", str(tech.cert_pem),
           "--key", str(tech.key_pem), "--ca", str(pki.ca.cert_pem)] + [str(a) for a in args]
    return subprocess.run(cmd, cwd=str(REPO), capture_output=True, text=True, timeout=300)


def test_push_to_twenty_handsets_at_once(env):
    tmp, pki, bundle, base, odd = env
    roots = [copy_handset(odd if i == ODD_ONE else base, tmp / ("h%02d" % i)) for i in range(FLEET_SIZE)]
    with ThreadPoolExecutor(8) as pool:
        agents = list(pool.map(lambda r: start_agent(r, pki), roots))
    try:
        tech = pki.client("technician")
        to = []
        for a in agents:
            to += ["--to", a.address]
        proc = cli_push(bundle, pki, tech, "--parallel", FLEET_SIZE, "--json", *to)
        assert proc.returncode == 1, proc.stderr
        results = json.loads(proc.stdout)
        assert proc.stderr.strip() == "hushctl: error: 1 of 20 handsets were not updated", [
            r for r in results if r["status"] != "updated"]
        assert [r["handset"] for r in results] == [a.address for a in agents]
        for i, r in enumerate(results):
            if i == ODD_ONE:
                assert (r["status"], r["reason"]) == ("refused", "board"), r
            else:
                assert (r["status"], r["version"]) == ("updated", "1.1.0"), r
        # Updated handsets reboot (the simulation ends the process with
        # status 3); the refused one keeps serving on its old firmware.
        for i, a in enumerate(agents):
            if i != ODD_ONE:
                assert a.wait_exit(60) == 3
        assert agents[ODD_ONE].proc.poll() is None

        def reboot(root):
            return run_handset(root, "boot")[1][-1]

        with ThreadPoolExecutor(8) as pool:
            boots = list(pool.map(reboot, roots))
        for i, b in enumerate(boots):
            expected = ("1.0.0", "ota_0") if i == ODD_ONE else ("1.1.0", "ota_1")
            assert (b["version"], b["slot"], b["confirmed"]) == expected + (True,), (i, b)
    finally:
        for a in agents:
            a.stop()


def test_technician_from_another_ca_is_refused_and_nothing_installs(env):
    tmp, pki, bundle, base, odd = env
    root = copy_handset(base, tmp / "rogue-target")
    agent = start_agent(root, pki)
    try:
        now = datetime.datetime.now(datetime.timezone.utc)
        rogue = _issue(pki.dir, pki.other_ca, "rogue-technician", now, client=True)
        ctx = fleet.client_context(str(rogue.cert_pem), str(rogue.key_pem), str(pki.ca.cert_pem))
        results = fleet.push(str(bundle), [fleet.parse_target(agent.address)], ctx, timeout=30)
        r = results[0]
        assert (r.status, r.reason) in (("failed", "tls"), ("failed", "connection")), r.as_dict()
        assert agent.proc.poll() is None  # still serving, not rebooting into anything
    finally:
        agent.stop()
    _, events = run_handset(root, "boot")
    assert (events[-1]["version"], events[-1]["slot"]) == ("1.0.0", "ota_0")


def test_inventory_push_and_already_current(env):
    tmp, pki, bundle, base, odd = env
    root = copy_handset(base, tmp / "inventory-target")
    tech = pki.client("technician-2")
    agent = start_agent(root, pki)
    inventory = tmp / "inventory.csv"
    inventory.write_text("serial,board,chip,host,port,status\nHP-0001,lyrat-v4.3,esp32,127.0.0.1,%d,provisioned\n"
                         % agent.port)
    try:
        proc = cli_push(bundle, pki, tech, "--inventory", inventory)
        assert proc.returncode == 0, proc.stderr
        assert "HP-0001" in proc.stdout and "updated" in proc.stdout  # the rich result table
        assert agent.wait_exit(60) == 3
    finally:
        agent.stop()
    agent = start_agent(root, pki)  # after the reboot: the new firmware's agent
    try:
        ctx = fleet.client_context(str(tech.cert_pem), str(tech.key_pem), str(pki.ca.cert_pem))
        results = fleet.push(str(bundle), [fleet.parse_target(agent.address)], ctx, timeout=30)
        assert (results[0].status, results[0].version) == ("already-current", "1.1.0")
        assert agent.proc.poll() is None
    finally:
        agent.stop()


def test_unreachable_handset_is_reported(env):
    tmp, pki, bundle, base, odd = env
    tech = pki.client("technician-3")
    ctx = fleet.client_context(str(tech.cert_pem), str(tech.key_pem), str(pki.ca.cert_pem))
    nobody = fleet.parse_target("127.0.0.1:%d" % free_port())  # nothing listens there
    (r,) = fleet.push(str(bundle), [nobody], ctx, timeout=10)
    assert (r.status, r.reason, r.ok) == ("unreachable", "connect", False)
