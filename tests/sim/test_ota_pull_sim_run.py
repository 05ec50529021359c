"""The real firmware/main.py pulls an update: a `hushctl sim run` handset
(simulated flash, bootloader and NVS; the phone app, the update agent and
the pull client on one asyncio loop) configured with a channel on nginx
checks it, downloads and installs the release published there, resets
into it through the agent's reset path, passes its self-test and confirms;
then it finds the channel current and stays, and `hushctl fleet status`
(through the agent) reports the new version in ota_1 and its last update
confirmed."""
import json
import subprocess
import sys
import time

from hushctl.lab import PROXY_HOST, free_tcp_port
from hushctl.sim import write_config
from tests.host.provision_helpers import hushctl, ok
from tests.sim.nginx import Nginx
from tests.sim.ota_sim import BOARD, CHIP, Signer, make_handset
from tests.sim.pki import TestPki
from tests.sim.sim_run import Running
from tests.support.runtimes import REPO


def test_main_py_pulls_installs_resets_and_confirms(tmp_path):
    pki = TestPki(tmp_path / "pki")
    signer = Signer(tmp_path / "keys")
    bundle = signer.bundle("v2.hushota", "1.1.0", 2, 32 * 1024)
    root = make_handset(tmp_path / "handset", signer, signer.signed_image("1.0.0", 1, 8 * 1024))
    www = tmp_path / "www"
    ok(hushctl("ota", "publish", bundle, "--to", www / "ota", "--key", signer.key_path))  # now, as the handset's clock
    server = Nginx(www, pki.server.cert_pem, pki.server.key_pem, tmp_path / "nginx").start()
    config = {
        "name": "pat", "root": str(root), "ca_der": [str(pki.ca.cert_der)], "tone_hz": 1000,
        "proxy_host": "127.0.0.1", "server_hostname": PROXY_HOST, "proxy_port": free_tcp_port(),
        "account": {"registrar": "sip:" + PROXY_HOST, "user": "pat", "password": "x"},  # no registrar there
        "tls_cert_der": str(pki.server.cert_der), "tls_key_der": str(pki.server.key_der),
        "fleet_ca_der": str(pki.ca.cert_der), "ota_port": free_tcp_port(), "ota_board": BOARD, "chip": CHIP,
        "ota_pull": {"url": server.url + "/ota/stable.channel", "interval": 60, "jitter": 0,
                     "ca_der": str(pki.ca.cert_der)},
    }
    run = Running("--config", write_config(tmp_path / "pat.json", config))
    try:
        boot = run.wait(lambda e: e["event"] == "boot", "boot")
        assert (boot["version"], boot["confirmed"]) == ("1.0.0", True), boot
        run.wait(lambda e: e["event"] == "ota_installed", "the pulled install")
        run.wait(lambda e: e["event"] == "ota_reset", "the reset")
        boot = run.wait(lambda e: e["event"] == "boot" and e["version"] == "1.1.0", "the new firmware")
        assert (boot["slot"], boot["confirmed"]) == ("ota_1", True), boot
        deadline = time.monotonic() + 30  # after its reset the handset checks at once (jitter 0)
        while not any("ota pull: current 1.1.0" in line for line in run.lines):
            assert time.monotonic() < deadline and run.proc.poll() is None, "\n".join(run.lines[-20:])
            time.sleep(0.2)
        tech = pki.client("technician")
        status = subprocess.run([sys.executable, "-m", "hushctl", "fleet", "status", "--to",
                                 "127.0.0.1:%d" % config["ota_port"], "--cert", str(tech.cert_pem), "--key",
                                 str(tech.key_pem), "--ca", str(pki.ca.cert_pem), "--json"],
                                cwd=str(REPO), capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        (answer,) = json.loads(status.stdout)
        assert (answer["version"], answer["slot"], answer["last_result"]) == ("1.1.0", "ota_1", "confirmed 1.1.0"), \
            (status.stdout, run.lines[-40:])
    finally:
        run.close()
        server.stop()
    requests = [e["request"] for e in server.access_log()]
    assert requests[0] == requests[2] == "GET /ota/stable.channel HTTP/1.1", requests
    assert requests[1].startswith("GET /ota/bundles/1.1.0-") and len(requests) == 3, requests
