"""The maker's chain end to end on a simulated handset: `hushctl keys init`,
`hushctl provision --sim`, `hushctl keys technician issue`, `hushctl ota
sign`, then `hushctl fleet push` over mutual TLS to the handset's update
agent (MicroPython unix port). The handset boots its factory image and the
update only because they are signed with the key whose digest was
provisioned, serves pushes with its provisioned certificate, and accepts the
technician because the provisioned fleet CA signed it; a technician from
another maker's fleet CA, or one revoked before the handset was provisioned
(NVS tech_revoked), gets nothing installed. Technicians push with their
encrypted key files as `keys technician issue` wrote them."""
import json
import shutil
import subprocess
import sys
import types

import pytest

from hushctl import ota_sign
from hushctl.appimage import build_app_image
from hushphone.hal.unix import bootloader
from tests.host.provision_helpers import PASSPHRASE, hushctl, ok, passphrase_file, sim_namespace
from tests.sim.fleet_sim import start_agent
from tests.sim.ota_sim import BOARD, CHIP, EXPIRES, RELEASED, run_handset
from tests.support.runtimes import REPO


def _push(bundle, tech_cert, tech_key, ca, agent, passphrase_file):
    cmd = [sys.executable, "-m", "hushctl", "fleet", "push", str(bundle), "--wait-boot", "0", "--cert", str(tech_cert), "--key",
           str(tech_key), "--passphrase-file", str(passphrase_file), "--ca", str(ca), "--json", "--to", agent.address]
    return subprocess.run(cmd, cwd=str(REPO), capture_output=True, text=True, timeout=300)


def _technician(base, maker, name):
    """Issue a technician certificate; returns (certificate, encrypted key) paths."""
    ok(hushctl("keys", "technician", "issue", name, "--keys", base / maker, "--passphrase-file",
               base / "passphrase.txt"))
    tech_dir = base / maker / "technicians"
    key = tech_dir / (name + ".key.pem")
    assert b"ENCRYPTED PRIVATE KEY" in key.read_bytes()
    return tech_dir / (name + ".pem"), key


def _refused(pushed):
    assert pushed.returncode != 0
    return json.loads(pushed.stdout)[0]


@pytest.fixture
def makers(tmp_path):
    pw = passphrase_file(tmp_path)
    ok(hushctl("keys", "init", tmp_path / "maker", "--passphrase-file", pw))
    ok(hushctl("keys", "init", tmp_path / "stranger", "--passphrase-file", pw, "--ota-scheme", "ecdsa256"))
    return tmp_path


def test_provisioned_handset_takes_a_fleet_push_from_the_makers_technician(makers, tmp_path):
    maker = makers / "maker"
    release_key = str(maker / "ota-signing-0.pem")
    secret = PASSPHRASE.encode()
    factory = ota_sign.sign_image(build_app_image(CHIP, "1.0.0", 1, "hushphone", 8 * 1024), [release_key], secret)
    bundle = tmp_path / "v2.hushota"
    bundle.write_bytes(ota_sign.build_bundle(build_app_image(CHIP, "1.1.0", 2, "hushphone", 32 * 1024), [release_key],
                                             [BOARD], CHIP, released=RELEASED, expires=EXPIRES, passphrase=secret))

    # A technician revoked before this handset is provisioned: the handset
    # gets the revocation list; the technician still has the files.
    sam_cert, sam_key = _technician(makers, "maker", "sam")
    kept = tmp_path / "sam-laptop"
    kept.mkdir()
    sam_cert, sam_key = shutil.copy(sam_cert, kept), shutil.copy(sam_key, kept)
    ok(hushctl("keys", "technician", "revoke", "sam", "--keys", maker, "--passphrase-file",
               makers / "passphrase.txt"))

    # The factory: flash the signed firmware, then provision identity and trust.
    root = tmp_path / "handset"
    bootloader.create_flash(str(root), 256 * 1024)
    bootloader.flash_app(str(root), 0, factory)
    (root / "config.json").write_text(json.dumps({"board": BOARD, "chip": CHIP, "now": RELEASED + 86400,
                                                  "save_every": 4}))
    ok(hushctl("provision", "--keys", maker, "--passphrase-file", makers / "passphrase.txt", "--board", "sim",
               "--sim", root))
    _, events = run_handset(root, "boot")
    assert events[-1]["event"] == "boot" and events[-1]["version"] == "1.0.0" and events[-1]["confirmed"]

    # The agent serves with the provisioned identity and trusts the provisioned fleet CA (the last CA slot).
    ident, trust = sim_namespace(root, "hush_id"), sim_namespace(root, "hush_trust")
    fleet_slot = max(k for k in trust if k.startswith("ca"))
    files = {"cert.der": ident["dev_cert"], "key.der": ident["dev_key"], "fleet.der": trust[fleet_slot]}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        (tmp_path / name).chmod(0o600)
    identity = types.SimpleNamespace(server=types.SimpleNamespace(cert_der=tmp_path / "cert.der",
                                                                  key_der=tmp_path / "key.der"),
                                     ca=types.SimpleNamespace(cert_der=tmp_path / "fleet.der"))
    # Technicians check the handset against the maker's root and issuing CA.
    handset_cas = tmp_path / "handset-cas.pem"
    handset_cas.write_bytes((maker / "root-ca.pem").read_bytes() + (maker / "issuing-ca.pem").read_bytes())

    pw = makers / "passphrase.txt"
    agent = start_agent(root, identity)
    try:
        stranger_cert, stranger_key = _technician(makers, "stranger", "eve")
        r = _refused(_push(bundle, stranger_cert, stranger_key, handset_cas, agent, pw))
        assert (r["status"], r["reason"]) in (("failed", "tls"), ("failed", "connection")), r
        assert agent.proc.poll() is None  # still serving, nothing installed

        r = _refused(_push(bundle, sam_cert, sam_key, handset_cas, agent, pw))
        assert (r["status"], r["reason"]) == ("refused", "revoked-technician"), r
        assert "is revoked on this handset" in r["message"], r
        assert agent.proc.poll() is None
        update_slot = (root / "flash" / "ota_1.bin").read_bytes()
        assert update_slot == b"\xff" * len(update_slot)  # not one byte of the bundle written
        assert not (root / "ota_progress.json").exists()

        tech_cert, tech_key = _technician(makers, "maker", "dana")
        pushed = _push(bundle, tech_cert, tech_key, handset_cas, agent, pw)
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        result = json.loads(pushed.stdout)[0]
        assert (result["status"], result["version"]) == ("updated", "1.1.0"), result
        assert agent.wait_exit(timeout=120) == 3  # the handset reboots into the update
    finally:
        agent.stop()
    _, events = run_handset(root, "boot")
    assert (events[-1]["version"], events[-1]["slot"], events[-1]["confirmed"]) == ("1.1.0", "ota_1", True), events
