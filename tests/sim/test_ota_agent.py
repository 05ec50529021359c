"""The handset's update agent on CPython (the same module the MicroPython
handsets run in tests/sim/test_fleet.py), driven over real mutual TLS on
loopback: status, progress, every refusal, and bad requests answered with
a reason instead of a crash."""
import asyncio
import hashlib
import json
import ssl

import pytest

from hushctl import fleet
from hushphone.hal.unix.partition import Partition
from hushphone.ota.agent import UpdateAgent
from ota_sim_support import SimHandset, fixture, fixture_path
from tests.sim.pki import TestPki


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return TestPki(tmp_path_factory.mktemp("agent-pki"))


@pytest.fixture()
def handset():
    h = SimHandset()
    h.boot()
    yield h
    h.remove()


def server_context(pki):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki.server.cert_pem), str(pki.server.key_pem))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(pki.ca.cert_pem))
    return ctx


def with_agent(h, pki, client, **agent_kw):
    """Run `client(port)` against an agent serving handset `h`; returns
    (client's result, messages passed to on_updated)."""
    updated = []
    agent = UpdateAgent(h.service(), on_updated=updated.append, **agent_kw)

    async def main():
        server = await agent.start("127.0.0.1", 0, server_context(pki))
        try:
            return await client(server.sockets[0].getsockname()[1])
        finally:
            server.close()
            await server.wait_closed()

    return asyncio.run(asyncio.wait_for(main(), 60)), updated


def tech_context(pki):
    tech = pki.client("agent-tech")
    return fleet.client_context(str(tech.cert_pem), str(tech.key_pem), str(pki.ca.cert_pem))


def raw_exchange(pki, payload):
    async def client(port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tech_context(pki))
        writer.write(payload)
        await writer.drain()
        lines = []
        while True:
            line = await asyncio.wait_for(reader.readline(), 30)
            if not line:
                break
            lines.append(json.loads(line))
        writer.close()
        return lines

    return client


def test_status(handset, pki):
    (reply,), _ = with_agent(handset, pki, raw_exchange(pki, b'{"op": "status"}\n'))
    assert (reply["event"], reply["version"], reply["slot"], reply["board"]) == ("status", "1.0.0", "ota_0", "lyrat-v4.3")


@pytest.mark.parametrize("payload,reason", [
    (b"this is not json\n", "malformed"),
    (b'{"no": "op"}\n', "malformed"),
    (b'{"op": "format-flash"}\n', "malformed"),
    (b'{"op": "push", "size": -5}\n', "oversized"),
    (b'{"op": "push", "size": "lots"}\n', "oversized"),
    (b'{"op": "push", "size": 99999999}\n', "oversized"),
])
def test_bad_requests_get_a_reason(handset, pki, payload, reason):
    lines, updated = with_agent(handset, pki, raw_exchange(pki, payload))
    assert [(m["status"], m["reason"]) for m in lines] == [("refused", reason)]
    assert updated == []


def push(handset, pki, bundle_name, **agent_kw):
    progress = []

    async def client(port):
        path = fixture_path(bundle_name)
        return await fleet.push_one(fleet.parse_target("127.0.0.1:%d" % port), path, len(fixture(bundle_name)),
                                    tech_context(pki), lambda t, w, n: progress.append((w, n)), timeout=30)

    result, updated = with_agent(handset, pki, client, **agent_kw)
    return result, updated, progress


def test_push_installs_with_progress(handset, pki):
    result, updated, progress = push(handset, pki, "v2.hushota", progress_every=4096)
    assert (result.status, result.version) == ("updated", "1.1.0")
    assert updated and updated[0]["status"] == "updated"
    written = [w for w, _ in progress]
    assert len(written) >= 3 and written == sorted(written) and progress[-1] == (16384, 16384), progress
    assert handset.boot().label == "ota_1"


@pytest.mark.parametrize("bundle,reason", [
    ("v2_wrong_board.hushota", "board"),
    ("v2_wrong_key.hushota", "untrusted-key"),
    ("v0_downgrade.hushota", "downgrade"),
    ("v2_expired.hushota", "expired"),
])
def test_refusals_change_nothing(handset, pki, bundle, reason):
    before = open(handset.root + "/flash/otadata.bin", "rb").read()
    result, updated, _ = push(handset, pki, bundle)
    assert (result.status, result.reason) == ("refused", reason)
    assert updated == [] and open(handset.root + "/flash/otadata.bin", "rb").read() == before
    assert Partition(Partition.RUNNING).info()[4] == "ota_0"


def test_push_of_running_version_is_already_current(handset, pki):
    push(handset, pki, "v2.hushota")
    handset.boot()
    result, updated, _ = push(handset, pki, "v2.hushota")
    assert (result.status, result.version, updated) == ("already-current", "1.1.0", [])
    assert handset.service().progress.load() is None  # nothing was started for it


def test_connection_dropped_mid_bundle_installs_nothing(handset, pki):
    data = fixture("v2.hushota")

    async def client(port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tech_context(pki))
        writer.write(b'{"op": "push", "size": %d}\n' % len(data) + data[: len(data) // 2])
        await writer.drain()
        writer.close()
        await asyncio.sleep(0.5)  # let the agent notice before the server stops

    _, updated = with_agent(handset, pki, client)
    assert updated == []
    assert handset.boot().label == "ota_0"


def revoke_on_handset(handset, *technicians):
    """What `hushctl provision` writes after `keys technician revoke`: the
    SHA-256 fingerprints of the revoked certificates' DER."""
    nvs = handset.nvs()
    nvs.set_blob("tech_revoked", b"".join(hashlib.sha256(t.cert_der.read_bytes()).digest() for t in technicians))
    nvs.commit()


def test_revoked_technician_is_refused_before_any_bundle_byte(handset, pki):
    revoked = pki.client("agent-revoked-tech")
    revoke_on_handset(handset, revoked)
    before = open(handset.root + "/flash/ota_1.bin", "rb").read(), open(handset.root + "/flash/otadata.bin", "rb").read()
    ctx = fleet.client_context(str(revoked.cert_pem), str(revoked.key_pem), str(pki.ca.cert_pem))

    async def client(port):
        target = fleet.parse_target("127.0.0.1:%d" % port)
        pushed = await fleet.push_one(target, fixture_path("v2.hushota"), len(fixture("v2.hushota")), ctx, timeout=30)
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
        writer.write(b'{"op": "status"}\n')
        await writer.drain()
        status = json.loads(await asyncio.wait_for(reader.readline(), 30))
        writer.close()
        return pushed, status

    (pushed, status), updated = with_agent(handset, pki, client)
    assert (pushed.status, pushed.reason) == ("refused", "revoked-technician"), pushed.as_dict()
    assert "is revoked on this handset" in pushed.message
    assert (status["status"], status["reason"]) == ("refused", "revoked-technician")  # not even the status
    assert updated == [] and handset.service().progress.load() is None
    assert (open(handset.root + "/flash/ota_1.bin", "rb").read(),
            open(handset.root + "/flash/otadata.bin", "rb").read()) == before  # not one byte written


def test_technician_not_on_the_list_still_pushes(handset, pki):
    revoke_on_handset(handset, pki.client("agent-someone-else"))
    result, updated, _ = push(handset, pki, "v2.hushota")
    assert (result.status, result.version) == ("updated", "1.1.0")
    assert handset.boot().label == "ota_1"


def test_unknown_peer_is_refused_while_the_list_is_not_empty(handset, pki):
    """Fail closed: a server context that lets a client in without a
    certificate (a misconfigured board) cannot check the list, so nothing
    is accepted while the handset holds one."""
    revoke_on_handset(handset, pki.client("agent-listed"))
    agent = UpdateAgent(handset.service())
    ctx = server_context(pki)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    anonymous = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anonymous.load_verify_locations(cafile=str(pki.ca.cert_pem))

    async def main():
        server = await agent.start("127.0.0.1", 0, ctx)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1],
                                                           ssl=anonymous, server_hostname="localhost")
            writer.write(b'{"op": "status"}\n')
            await writer.drain()
            reply = json.loads(await asyncio.wait_for(reader.readline(), 30))
            writer.close()
            return reply
        finally:
            server.close()
            await server.wait_closed()

    reply = asyncio.run(asyncio.wait_for(main(), 60))
    assert (reply["status"], reply["reason"]) == ("refused", "revoked-technician")
    assert "cannot be checked" in reply["message"]


def test_a_filesystem_bundle_is_refused_by_an_app_slot_handset(handset, pki, tmp_path):
    """Signed by a key this handset trusts, but of kind "fs": a handset that
    runs its firmware from an app slot says so, and nothing is written."""
    from hushctl import fsimage, ota_sign
    from tests.sim.ota_sim import EXPIRES, RELEASED, Signer, provision_trust
    from ota_sim_support import BOARD, CHIP

    signer = Signer(tmp_path / "keys")
    provision_trust(handset.root, signer)
    image, _ = fsimage.pack({"main.py": b"print('hi')\n"}, 16 * 1024)
    path = tmp_path / "fs.hushota"
    path.write_bytes(ota_sign.build_fs_bundle(image, [str(signer.key_path)], [BOARD], CHIP, "2.0.0", 2,
                                              released=RELEASED, expires=EXPIRES))
    before = [open(handset.root + "/flash/%s.bin" % n, "rb").read() for n in ("otadata", "ota_1")]

    async def client(port):
        return await fleet.push_one(fleet.parse_target("127.0.0.1:%d" % port), path, path.stat().st_size,
                                    tech_context(pki), timeout=30)

    result, updated = with_agent(handset, pki, client)
    assert (result.status, result.reason) == ("refused", "kind"), result.as_dict()
    assert result.message == "update is a fs image, this handset installs app images"
    assert updated == [] and [open(handset.root + "/flash/%s.bin" % n, "rb").read()
                              for n in ("otadata", "ota_1")] == before
