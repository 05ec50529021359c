"""`hushctl sim run`: one simulated handset in a terminal. Its display and
events are printed; keys come from --keys, from stdin control lines and
from a Unix control socket; a bad config is one clear error line. These
handsets have no reachable proxy (a closed loopback port): the phone shows
that, and everything else works without a network."""
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from hushctl.lab import LabPki, free_tcp_port
from hushctl.sim import write_config
from tests.sim.sim_run import TIMEOUT_S, Running, events_of
from tests.support.runtimes import REPO

SECRET = "pw-never-printed-4711"


def hushctl(*args, stdin=None, timeout=TIMEOUT_S):
    return subprocess.run([sys.executable, "-m", "hushctl", *map(str, args)], cwd=str(REPO), input=stdin,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    d = tmp_path_factory.mktemp("simrun")
    pki = LabPki(d / "pki")
    return write_config(d / "phone.json", {
        "name": "desk", "root": str(d / "desk"),
        "account": {"registrar": "sip:localhost", "user": "desk", "password": SECRET, "display": "Desk"},
        "proxy_host": "127.0.0.1", "proxy_port": free_tcp_port(), "server_hostname": "localhost",
        "ca_der": [str(pki.ca_der)], "display_width": 24, "display_height": 8,
    })


def test_keys_and_stdin_control(config):
    run = Running("--config", config, "--keys", "1,2,3,BACK")
    try:
        started = run.wait(lambda e: e["event"] == "started", "start")
        assert started["aor"] == "sip:desk@localhost"
        stats = run.stats_until(lambda s: s["screen"][1:3] == ["Dial:", "12"], "the scripted keys")
        assert stats["state"] == "dialing" and stats["registration"] in ("offline", "registering")
        run.send("key 9\nbogus\n")
        run.wait(lambda e: e == {"event": "error", "text": "unknown command 'bogus'"}, "the error")
        run.stats_until(lambda s: s["screen"][2] == "129", "a key from stdin")
        run.send("key MENU\nkey DOWN\nkey OK\n")
        stats = run.stats_until(lambda s: s["screen"][1] == "Call log", "the call log page")
        assert stats["screen"][2] == "(empty)" and stats["screen"][-1].split() == ["Select", "Back"]
        run.send("quit\n")
        assert run.proc.wait(TIMEOUT_S) == 0
    finally:
        run.close()
    out = "\n".join(run.lines)
    assert run.events()[-1]["event"] == "stopped"
    # The display is printed as framed screens, the password never.
    assert "|Dial:" in out and "|129" in out
    assert SECRET not in out + run.proc.stderr.read()


def test_control_socket(config, tmp_path):
    path = tmp_path / "ctl.sock"
    proc = subprocess.Popen([sys.executable, "-m", "hushctl", "sim", "run", "--config", str(config),
                             "--control-socket", str(path)], cwd=str(REPO), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not path.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no control socket"
            time.sleep(0.05)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(path))
            s.settimeout(TIMEOUT_S)
            s.sendall(b"key 4\nkey 2\nstats\n")
            got = b""
            while b'"event": "stats"' not in got:
                chunk = s.recv(4096)
                assert chunk, got
                got += chunk
            stats = [e for e in events_of(got.decode()) if e["event"] == "stats"][0]
            assert stats["state"] == "dialing" and "42" in stats["screen"]
            s.sendall(b"quit\n")
        assert proc.wait(TIMEOUT_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not path.exists()


def test_bad_key_script_is_one_line(config):
    proc = hushctl("sim", "run", "--config", config, "--keys", "1,2,FROB")
    assert proc.returncode != 0
    assert proc.stderr.strip() == "hushctl: error: --keys: unknown key 'FROB'", proc.stderr
    assert "@event" not in proc.stdout  # refused before any handset started


@pytest.mark.parametrize("content, message", [
    (None, "cannot read"),
    ("{not json", "is not JSON"),
    ("[]", "must be a JSON object"),
    ('{"root": "x"}', "missing 'account'"),
    ('{"root": "x", "account": {"user": "a"}, "ca_der": ["nope.der"]}', "does not exist"),
    ('{"root": "x", "account": {"user": "a"}, "tls_cert_der": "me.der", "tls_key_der": "me.key"}',
     "tls_cert_der"),
])
def test_bad_config_is_one_line(tmp_path, content, message):
    path = tmp_path / "phone.json"
    if content is not None:
        path.write_text(content)
    proc = hushctl("sim", "run", "--config", path)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hushctl: error: ") and message in lines[0], proc.stderr


def test_without_a_ca_the_phone_stays_off_the_network(tmp_path):
    config = write_config(tmp_path / "phone.json", {"root": str(tmp_path / "p"), "account": {"user": "desk"}})
    proc = hushctl("sim", "run", "--config", config, stdin="dial bob\nstats\nquit\n")
    assert proc.returncode == 0, proc.stderr + proc.stdout[-2000:]
    evs = events_of(proc.stdout)
    assert {"event": "not_provisioned", "reason": "no CA certificate"} in evs
    assert {"event": "error", "text": "cannot call: no CA certificate"} in evs
    stats = [e for e in evs if e["event"] == "stats"][0]
    assert stats["registration"] == "unprovisioned" and stats["screen"][0] == "No account"
    assert stats["lines"] == []


def test_withhold_caller_id_and_the_transparency_screen(config):
    proc = hushctl("sim", "run", "--config", config, stdin="\n".join([
        "key MENU", "key DOWN", "key DOWN", "key OK", "key OK",  # Settings > Withhold caller ID
        "key BACK", "key DOWN", "key OK", "stats",  # back to the menu, About
        "key DOWN", "key DOWN", "key DOWN", "key DOWN", "key DOWN", "stats",  # scroll to the caller ID line
        "key BACK", "key BACK", "dial bob", "quit", ""]))
    assert proc.returncode == 0, proc.stderr + proc.stdout[-2000:]
    evs = events_of(proc.stdout)
    assert {"event": "setting", "name": "withhold_caller_id", "value": True} in evs
    about = [e for e in evs if e["event"] == "stats"][0]["screen"]
    assert about[1] == "About" and about[2].startswith("> Hushphone ")
    assert about[3:7] == ["  SIP: TLS, cert checked", "  ZRTP keys preferred", "  SRTP required",
                          "  SDES only over TLS"]
    assert "> Caller ID withheld" in [e for e in evs if e["event"] == "stats"][1]["screen"]
    calling = [e for e in evs if e["event"] == "calling"][0]
    assert calling == {"event": "calling", "peer": "bob", "anonymous": True}
    # The setting is kept in NVS (hush_cfg) for the next start.
    proc = hushctl("sim", "run", "--config", config, stdin="dial bob\nquit\n")
    assert {"event": "calling", "peer": "bob", "anonymous": True} in events_of(proc.stdout)


def test_export_from_the_handset(tmp_path, config):
    import hushphone.vcard as vcard

    root = json.loads(config.read_text())["root"]
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "contacts.vcf"), "w", encoding="utf-8") as f:
        f.write("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:J\u00f6rg\\, Jr.\r\nTEL:joerg\r\nEND:VCARD\r\n")
    proc = hushctl("sim", "run", "--config", config, stdin="export\nquit\n")
    assert proc.returncode == 0, proc.stderr
    export = [e for e in events_of(proc.stdout) if e["event"] == "export"][0]
    assert export["settings"]["format"] == "hushphone-settings"
    assert export["settings"]["account"]["user"] == "desk" and "password" not in export["settings"]["account"]
    assert vcard.parse(export["contacts_vcf"]) == [{"fn": "J\u00f6rg, Jr.", "tel": [{"value": "joerg"}]}]
    assert SECRET not in proc.stdout


def test_console_export_imports_into_another_handset(tmp_path):
    """One export format: the `export` event a running handset prints on its
    console is what `hushctl handset import` takes; the other handset then
    has the same settings and contacts, and keeps its own password."""
    from hushphone import vcard
    from hushphone.app.settings import Settings
    from hushphone.hal.esp32.nvs_store import NvsStore
    from hushphone.hal.unix.nvs import Nvs

    def settings_of(root):
        return Settings(NvsStore(Nvs(str(root), "hush_cfg")), NvsStore(Nvs(str(root), "hush_sip"))).load()

    def console_export(config):
        proc = hushctl("sim", "run", "--config", config, stdin="export\nquit\n")
        assert proc.returncode == 0, proc.stderr
        assert SECRET not in proc.stdout + proc.stderr
        lines = [l for l in proc.stdout.splitlines() if l.startswith("@event ") and '"export"' in l]
        return lines[-1], events_of(lines[-1])[0]

    pki = LabPki(tmp_path / "pki")
    configs = {name: write_config(tmp_path / (name + ".json"), {
        "name": name, "root": str(tmp_path / name), "ca_der": [str(pki.ca_der)],
        "account": {"registrar": "sip:localhost", "user": name, "password": SECRET + name, "display": name.title()},
        "proxy_host": "127.0.0.1", "proxy_port": free_tcp_port(), "server_hostname": "localhost",
    }) for name in ("front", "back")}
    front = settings_of(tmp_path / "front")
    for key, value in {"ring_vol": 2, "hide_callid": 1, "log_days": 9, "lang": "de", "turn_uri": "turn:t.example"}.items():
        front.set(key, value)
    front.save()
    (tmp_path / "front" / "contacts.vcf").write_bytes(
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ånne\r\nTEL;PREF=1:sip:anne\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bo\r\nTEL:200\r\nEMAIL:bo@example.org\r\nEND:VCARD\r\n".encode("utf-8"))
    line, exported = console_export(configs["front"])
    assert exported["settings"]["settings"] == front.values and "password" not in exported["settings"]["account"]
    (tmp_path / "front-export.txt").write_text(line + "\n", encoding="utf-8")

    assert hushctl("sim", "run", "--config", configs["back"], stdin="quit\n").returncode == 0  # its first start
    proc = hushctl("handset", "import", "--sim", tmp_path / "back", "--in", tmp_path / "front-export.txt")
    assert proc.returncode == 0, proc.stderr
    back = settings_of(tmp_path / "back")
    assert back.values == front.values
    assert exported["settings"]["account"]["user"] == "front"
    assert back.account == dict(exported["settings"]["account"], password=SECRET + "back")
    # (back's config writes its own account again when it starts)
    _, again = console_export(configs["back"])
    assert again["settings"]["settings"] == exported["settings"]["settings"]
    assert again["contacts_vcf"] == exported["contacts_vcf"]
    assert vcard.parse(again["contacts_vcf"]) == [
        {"fn": "Bo", "tel": [{"value": "200"}], "email": [{"value": "bo@example.org"}]},
        {"fn": "Ånne", "tel": [{"value": "sip:anne", "pref": 1}]}]
