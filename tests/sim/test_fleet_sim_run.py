"""`hushctl fleet push` against five `hushctl sim run` handsets booted by
the real firmware/main.py (simulated flash, bootloader and NVS; the update
agent started by main.py beside the phone on one asyncio loop, mutual TLS
with the handset's certificate and the fleet CA). One handset is in a call
through Kamailio when the push arrives: it answers busy, the call carries
on (audio keeps flowing both ways), and the push tries it again until the
call has ended. Every handset then resets into the new firmware through the
simulated bootloader, passes its self-test and confirms; the push follows
each through its reboot and reports whether its bootloader could have
rolled the update back: one handset has a stock bootloader (built without
CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE) and is reported as such."""
import json
import subprocess
import sys
import threading
import time

from hushctl.lab import PROXY_HOST, free_tcp_port
from hushctl.sim import write_config
from tests.sim.ota_sim import BOARD, CHIP, Signer, make_handset
from tests.sim.pki import TestPki
from tests.sim.sim_run import Running
from tests.support.runtimes import REPO

NAMES = ("alice", "carol", "dave", "erin", "frank")  # alice calls bob (not pushed)
STOCK = "erin"  # her bootloader has no app rollback
WAIT_S = 30


def handset_config(lab, fleet, name, root, registered):
    """A phone.json for `hushctl sim run`: the lab's Kamailio account (or no
    reachable proxy), the handset's certificate and the fleet CA."""
    config = {
        "name": name, "root": str(root), "ca_der": [str(lab.pki.ca_der)], "tone_hz": 1000,
        "proxy_host": "127.0.0.1", "server_hostname": PROXY_HOST,
        "tls_cert_der": str(fleet.server.cert_der), "tls_key_der": str(fleet.server.key_der),
        "fleet_ca_der": str(fleet.ca.cert_der), "ota_port": free_tcp_port(), "ota_board": BOARD, "chip": CHIP,
    }
    if registered:
        config.update(account={"registrar": "sip:" + PROXY_HOST, "user": name, "password": lab.passwords[name]},
                      proxy_port=lab.proxy.port)
    else:
        config.update(account={"registrar": "sip:" + PROXY_HOST, "user": name, "password": "x"},
                      proxy_port=free_tcp_port())  # nothing listens there
    return write_config(lab.dir / ("%s.json" % name), config), config["ota_port"]


def media_of(run):
    """alice's call as her stats show it (None when no call is up)."""
    run.send("stats\n")
    n = len(run.events("stats"))
    run.wait(lambda e: len(run.events("stats")) > n, "stats")
    lines = run.events("stats")[-1]["lines"]
    return lines[0] if lines else None


def test_push_to_five_sim_run_handsets_one_in_a_call(lab, tmp_path):
    started = time.monotonic()
    fleet = TestPki(tmp_path / "fleet-pki")
    signer = Signer(tmp_path / "keys")
    factory = signer.signed_image("1.0.0", 1, 8 * 1024)
    bundle = signer.bundle("v2.hushota", "1.1.0", 2, 32 * 1024)
    bob = lab.handset("bob", tone_hz=1500)
    runs, ports = {}, {}
    try:
        for name in NAMES:
            root = lab.dir / name
            make_handset(root, signer, factory, app_rollback=name != STOCK)
            path, ports[name] = handset_config(lab, fleet, name, root, registered=name in ("alice", "carol", "dave"))
            runs[name] = Running("--config", path)
        for name, run in runs.items():
            boot = run.wait(lambda e: e["event"] == "boot", "boot")
            assert (boot["version"], boot["confirmed"]) == ("1.0.0", True), boot
            agent = run.wait(lambda e: e["event"] == "ota_agent", "the update agent")
            assert agent == {"event": "ota_agent", "listening": True, "port": ports[name]}, agent
        alice = runs["alice"]
        alice.wait(lambda e: e["event"] == "registered", "registration")
        alice.send("dial bob\n")
        bob.wait_event("incoming", WAIT_S)
        bob.send("answer")
        alice.wait(lambda e: e["event"] == "in_call", "the call")
        bob.wait_event("in_call", WAIT_S)

        tech = fleet.client("technician")
        cmd = [sys.executable, "-m", "hushctl", "fleet", "push", str(bundle), "--cert", str(tech.cert_pem),
               "--key", str(tech.key_pem), "--ca", str(fleet.ca.cert_pem), "--json", "--busy-wait", "60",
               "--wait-boot", "60"]
        for name in NAMES:
            cmd += ["--to", "127.0.0.1:%d" % ports[name]]
        push = subprocess.Popen(cmd, cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out = {}
        reader = threading.Thread(target=lambda: out.update(zip(("stdout", "stderr"), push.communicate())))
        reader.start()
        try:
            # alice answers busy; her call is not cut: media keeps flowing both ways.
            assert alice.wait(lambda e: e["event"] == "ota_busy", "a busy answer") == {"event": "ota_busy",
                                                                                      "reason": "in-call"}
            before = media_of(alice)["media"]
            bob_before = bob.stats()["lines"][0]["media"]
            time.sleep(1.5)
            line = media_of(alice)
            assert line is not None and line["state"] == "in_call", line
            after, bob_after = line["media"], bob.stats()["lines"][0]["media"]
            for a, b in ((before, after), (bob_before, bob_after)):
                assert b["sent"] > a["sent"] + 25 and b["received"] > a["received"] + 25, (a, b)
            assert not alice.events("ended") and not alice.events("ota_installed")
            # The others updated meanwhile (they reset into 1.1.0 while alice talks).
            for name in NAMES:
                if name != "alice":
                    runs[name].wait(lambda e: e["event"] == "boot" and e["version"] == "1.1.0", "the new firmware")
            alice.send("hangup\n")
            alice.wait(lambda e: e["event"] == "ended", "the end of the call")
            reader.join(120)
        finally:
            if push.poll() is None:
                push.kill()
            reader.join(10)
        assert push.returncode == 0, out
        results = {r["port"]: r for r in json.loads(out["stdout"])}
        for name in NAMES:
            r = results[ports[name]]
            assert (r["status"], r["version"], r["confirmed"]) == ("updated", "1.1.0", True), r
            assert r["rollback"] == ("no" if name == STOCK else "yes"), r
            assert r["boot"]["state"] == ("UNDEFINED" if name == STOCK else "PENDING_VERIFY"), r
            assert (r["busy"] > 0) == (name == "alice"), r
        for name, run in runs.items():
            boots = run.events("boot")
            assert [b["version"] for b in boots] == ["1.0.0", "1.1.0"], (name, boots)
            assert boots[-1]["confirmed"] and boots[-1]["self_test"] == "passed" and boots[-1]["slot"] == "ota_1"
            assert run.events("ota_reset"), name
        # alice's call ended when she hung up, not before; bob saw a normal hang-up.
        assert bob.wait_event("ended", WAIT_S)["reason"] == "ended by peer"
        assert "hushphone: ota: self-test passed, firmware confirmed (booted in state UNDEFINED: this bootloader " \
               "would not have rolled it back)" in "\n".join(runs[STOCK].lines)
    finally:
        for run in runs.values():
            run.send("quit\n") if run.proc.poll() is None else None
        for run in runs.values():
            try:
                run.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
            run.close()
    print("five handsets updated in %.1f s" % (time.monotonic() - started))
