"""The technician's side of `hushctl fleet push`: addresses, CSV and JSON
inventories (tolerant of extra columns, strict about missing hosts), a
handset that answers nonsense, and one-line errors from the CLI."""
import asyncio
import json
import socket
import ssl
import subprocess
import sys

import pytest

from hushctl import fleet
from hushctl.errors import HushctlError
from hushphone.ota.agent import DEFAULT_PORT
from tests.sim.pki import TestPki
from tests.support.runtimes import REPO


def test_parse_target():
    assert (fleet.parse_target("10.0.0.5").host, fleet.parse_target("10.0.0.5").port) == ("10.0.0.5", DEFAULT_PORT)
    t = fleet.parse_target("phone-3.site:9000")
    assert (t.host, t.port, t.address) == ("phone-3.site", 9000, "phone-3.site:9000")
    t = fleet.parse_target("[::1]:9001")
    assert (t.host, t.port, t.address) == ("::1", 9001, "[::1]:9001")
    for bad in ("host:notaport", "host:0", ":80", "host:70000"):
        with pytest.raises(HushctlError):
            fleet.parse_target(bad)


def test_csv_inventory_as_exported_plus_host_columns(tmp_path):
    path = tmp_path / "inv.csv"
    path.write_text("serial,board,chip,cert_serial,host,port,status\n"
                    "HP-1,lyrat-v4.3,esp32,01,10.0.0.1,,provisioned\n"
                    "HP-2,lyrat-v4.3,esp32,02,10.0.0.2,9100,reprovisioned\n"
                    "HP-3,lyrat-v4.3,esp32,03,10.0.0.3,9100,revoked\n")
    targets = fleet.read_inventory(str(path))
    assert [(t.name, t.host, t.port) for t in targets] == [("HP-1", "10.0.0.1", DEFAULT_PORT),
                                                           ("HP-2", "10.0.0.2", 9100)]


def test_json_inventory(tmp_path):
    path = tmp_path / "inv.json"
    path.write_text('{"handsets": [{"serial": "A", "host": "::1", "port": 9200}, {"host": "b.local"}]}')
    targets = fleet.read_inventory(str(path))
    assert [(t.name, t.address) for t in targets] == [("A", "[::1]:9200"), ("b.local:%d" % DEFAULT_PORT,) * 2]


@pytest.mark.parametrize("text,message", [
    ("serial,board\nHP-1,x\n", "no 'host' column"),
    ("serial,host\nHP-1,\n", "entry 1 (HP-1) has no host"),
    ("host,port\nh,abc\n", "bad port"),
    ("[1, 2]", "expected a list of handset objects"),
    ("{broken", "not valid JSON"),
    ("host\n", "lists no handsets"),
])
def test_bad_inventories(tmp_path, text, message):
    path = tmp_path / "inv"
    path.write_text(text)
    with pytest.raises(HushctlError) as e:
        fleet.read_inventory(str(path))
    assert message in str(e.value)


def test_cli_errors_are_one_line(tmp_path):
    bundle = tmp_path / "not-a-bundle.hushota"
    bundle.write_bytes(b"GIF89a" + bytes(100))
    pem = tmp_path / "x.pem"
    pem.write_text("")
    base = [sys.executable, "-m", "hushctl", "fleet", "push"]
    creds = ["--cert", str(pem), "--key", str(pem), "--ca", str(pem)]
    for args, expected in (
        ([str(bundle)] + creds, "give handsets with --to"),
        ([str(bundle), "--to", "127.0.0.1:1"] + creds, "%s: not a Hushphone update bundle" % bundle),
        ([str(tmp_path / "missing.hushota"), "--to", "127.0.0.1:1"] + creds, "cannot read bundle"),
        ([str(REPO / "tests/core/data/ota_install/v2.hushota"), "--to", "127.0.0.1:1"] + creds,
         "cannot load TLS certificate, key or CA"),
    ):
        proc = subprocess.run(base + args, cwd=str(REPO), capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0
        assert proc.stderr.startswith("hushctl: error: " + expected), proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("answer,reason", [
    (b"<html>hello</html>\n", "protocol"),
    (b"[1, 2, 3]\n", "protocol"),
    (b'{"event": "result", "status": "exploded"}\n', "protocol"),
    (b"x" * 70000 + b"\n", "protocol"),
    (b"", "connection"),
])
def test_a_handset_answering_nonsense_is_a_failure_not_a_crash(tmp_path, answer, reason):
    pki = TestPki(tmp_path / "pki")
    tech = pki.client("tech")
    bundle = REPO / "tests/core/data/ota_install/v2.hushota"

    async def fake_handset(reader, writer):
        await reader.readline()
        writer.write(answer)
        await writer.drain()
        writer.close()

    async def main():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(pki.server.cert_pem), str(pki.server.key_pem))
        server = await asyncio.start_server(fake_handset, "127.0.0.1", 0, ssl=ctx)
        target = fleet.parse_target("127.0.0.1:%d" % server.sockets[0].getsockname()[1])
        client = fleet.client_context(str(tech.cert_pem), str(tech.key_pem), str(pki.ca.cert_pem))
        try:
            return await fleet.push_all(str(bundle), [target], client, timeout=20)
        finally:
            server.close()
            await server.wait_closed()

    (r,) = asyncio.run(asyncio.wait_for(main(), 60))
    assert (r.status, r.reason, r.ok) == ("failed", reason, False), r.as_dict()


def test_encrypted_technician_key_is_decrypted_in_memory(tmp_path):
    """The key file `keys technician issue` writes (PKCS#8, encrypted) works
    as it is, with the passphrase convention of every hushctl command."""
    from hushctl import pki as hush_pki
    from tests.host.provision_helpers import PASSPHRASE, hushctl, passphrase_file

    test_pki = TestPki(tmp_path / "pki")
    tech = test_pki.client("technician")
    key = tmp_path / "technician.key.pem"
    key.write_bytes(hush_pki.private_key_pem(tech.key, PASSPHRASE))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    args = ["fleet", "push", REPO / "tests/core/data/ota_install/v2.hushota", "--cert", tech.cert_pem, "--key", key,
            "--ca", test_pki.ca.cert_pem, "--json", "--to", "127.0.0.1:%d" % listener.getsockname()[1]]
    (tmp_path / "wrong").mkdir()
    wrong, right = passphrase_file(tmp_path / "wrong", "not the passphrase"), passphrase_file(tmp_path)
    files = sorted(tmp_path.rglob("*"))
    try:
        for extra, env, expected in (
            ([], {}, "technician key %s is encrypted: give --passphrase-file or set HUSHCTL_PASSPHRASE" % key),
            (["--passphrase-file", wrong], {}, "wrong passphrase"),
            ([], {"HUSHCTL_PASSPHRASE": PASSPHRASE}, "1 of 1 handsets were not updated"),
            (["--passphrase-file", right], {}, "1 of 1 handsets were not updated"),
        ):
            proc = hushctl(*(args + extra), env=env)
            assert proc.returncode == 1 and proc.stderr.startswith("hushctl: error: "), proc.stderr
            assert expected in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
            assert PASSPHRASE not in proc.stdout + proc.stderr
            if "handsets were not updated" in expected:  # the key loaded; the handset was unreachable
                assert json.loads(proc.stdout)[0]["status"] == "unreachable"
    finally:
        listener.close()
    assert sorted(tmp_path.rglob("*")) == files  # no decrypted key written anywhere


class FakeService:
    """What UpdateAgent asks an OtaService for, without flash behind it."""

    def __init__(self, version="1.1.0"):
        self.version = version

    def revoked_technicians(self):
        return []

    def updater(self):
        raise AssertionError("this handset must not start an update")

    def status(self):
        return {"version": self.version, "secure_version": 2, "board": "b", "chip": "esp32", "slot": "ota_1"}


async def serve_agent(pki, agent, scenario):
    """Run `scenario(target, technician context)` against the firmware's
    UpdateAgent (here on CPython) on a loopback port."""
    from hushphone.sip.transport import make_tls_server_context

    server_ctx = make_tls_server_context([pki.ca.cert_der.read_bytes()], pki.server.cert_der.read_bytes(),
                                         pki.server.key_der.read_bytes())
    server = await agent.start("127.0.0.1", 0, server_ctx)
    tech = pki.client("technician")
    try:
        ctx = fleet.client_context(str(tech.cert_pem), str(tech.key_pem), str(pki.ca.cert_pem))
        return await scenario(fleet.Target("127.0.0.1", server.sockets[0].getsockname()[1]), ctx)
    finally:
        server.close()
        await server.wait_closed()


def test_busy_handset_is_retried_with_a_bounded_backoff(tmp_path):
    """A handset that stays in a call (the firmware's UpdateAgent, here on
    CPython, with a call that never ends) answers busy each time: the push
    tries again after 1 and 2 s, gives up within --busy-wait and reports it
    busy, not updated; nothing of the bundle is read by the handset."""
    from hushphone.ota.agent import UpdateAgent

    asked = []
    agent = UpdateAgent(FakeService(), in_call=lambda: asked.append(1) or True)
    bundle = REPO / "tests/core/data/ota_install/v2.hushota"

    async def scenario(target, ctx):
        started = asyncio.get_running_loop().time()
        (r,) = await fleet.push_all(str(bundle), [target], ctx, busy_wait=3.5, wait_boot=10)
        return r, asyncio.get_running_loop().time() - started

    r, seconds = asyncio.run(serve_agent(TestPki(tmp_path / "pki"), agent, scenario))
    assert (r.status, r.reason, r.busy, r.ok, r.boot) == ("busy", "in-call", 3, False, None), r.as_dict()
    assert len(asked) == 3 and 3.0 <= seconds < 10, seconds  # tries at 0, 1 and 3 s; the next (7 s) is past 3.5
    assert "takes updates when it has ended" in r.message


def test_after_the_reboot_the_push_reports_the_boot(tmp_path):
    """await_boot asks the rebooted handset for its status: a new firmware
    that failed its self-test on a bootloader without rollback is
    `unconfirmed` and says that nothing will roll it back; one that never
    comes back on the new version is `unconfirmed` (no-boot)."""
    from hushphone.ota.agent import UpdateAgent

    pki = TestPki(tmp_path / "pki")
    failed = {"state": "UNDEFINED", "rollback": "no", "confirmed": False, "self_test": "network: not connected"}

    async def after_update(target, ctx):
        r = fleet.PushResult(target, "updated", version="1.1.0")
        return await fleet.await_boot(r, ctx, 5)

    r = asyncio.run(serve_agent(pki, UpdateAgent(FakeService(), boot=failed), after_update))
    assert (r.status, r.reason, r.ok, r.confirmed, r.rollback) == ("unconfirmed", "self-test", False, False, "no")
    assert r.message == "network: not connected; its bootloader cannot roll back", r.message

    confirmed = dict(failed, state="PENDING_VERIFY", rollback="yes", confirmed=True, self_test="passed")
    r = asyncio.run(serve_agent(pki, UpdateAgent(FakeService(), boot=confirmed), after_update))
    assert (r.status, r.ok, r.confirmed, r.rollback) == ("updated", True, True, "yes"), r.as_dict()

    async def never_back(target, ctx):
        r = fleet.PushResult(target, "updated", version="1.1.0")
        return await fleet.await_boot(r, ctx, 2)

    r = asyncio.run(serve_agent(pki, UpdateAgent(FakeService("1.0.0"), boot=confirmed), never_back))
    assert (r.status, r.reason) == ("unconfirmed", "no-boot")
    assert r.message == "did not come back on 1.1.0 within 2 s (still answers on 1.0.0)"
