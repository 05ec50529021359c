"""The firmware's SIP user agent and TLS driver running on the MicroPython
unix port (tests/sim/mpy_sip_agent.py) against a real Kamailio: digest
registration, a wrong password, refused server certificates, and a call
from a CPython phone answered by the MicroPython one."""
import asyncio

import pytest

from tests.sim.conftest import USERS
from tests.sim.kamailio import Kamailio
from tests.sim.sipphone import Phone, agent_args, event_lines, simple_sdp
from tests.support.runtimes import REPO, micropython_env, micropython_exe, run_micropython

from hushphone.sip import events  # noqa: E402  (sipphone put firmware/lib on sys.path)


def test_register_and_unregister_on_micropython(kamailio, pki):
    before = len(kamailio.received())
    result = run_micropython(agent_args(pki, kamailio, "carol", USERS["carol"], "register"), timeout=120)
    assert result.returncode == 0, result.stderr
    lines = event_lines(result.stdout)
    assert lines[0] == ["Registered", "expires=300"], result.stdout
    assert lines[1][0] == "Unregistered", result.stdout
    registers = [m for m in kamailio.received()[before:] if m.startswith(b"REGISTER ")]
    assert len(registers) == 4 and b"Authorization: Digest username=\"carol\"" in registers[1]


def test_wrong_password_on_micropython(kamailio, pki):
    result = run_micropython(agent_args(pki, kamailio, "carol", "wrong", "register"), timeout=120)
    assert result.returncode == 0, result.stderr
    lines = event_lines(result.stdout)
    assert lines[0][:2] == ["RegistrationFailed", "status=401"], result.stdout
    assert "wrong_user_name_or_password" in lines[0][2]
    assert lines[0][3] == "retry_in=None"


@pytest.mark.parametrize("case,kind", [("other_ca", "untrusted"), ("expired", "expired"), ("wrong_name", "hostname")])
def test_bad_server_certificate_is_refused_on_micropython(tmp_path, pki, case, kind):
    keys = {"other_ca": pki.server_other_ca, "expired": pki.server_expired, "wrong_name": pki.server_wrong_name}[case]
    with Kamailio(tmp_path, pki, USERS, server_keys=keys) as k:
        # "answer" would wait for a call: "register" gives up after the first failure report
        result = run_micropython(agent_args(pki, k, "carol", USERS["carol"], "register"), timeout=120)
        assert k.received() == []
    lines = event_lines(result.stdout)
    assert lines and lines[0][0] == "RegistrationFailed", result.stdout + result.stderr
    assert "certificate_refused_(%s)" % kind in lines[0][2], lines[0]


def test_micropython_phone_answers_a_call(kamailio, pki):
    async def scenario():
        proc = await asyncio.create_subprocess_exec(
            micropython_exe(), *agent_args(pki, kamailio, "carol", USERS["carol"], "answer"),
            env=micropython_env(), cwd=str(REPO),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        output = []

        async def next_line():
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            output.append(line)
            return line

        try:
            assert (await next_line()).startswith("EVENT Registered"), output
            async with Phone(kamailio, pki, "alice", USERS["alice"]) as alice:
                assert isinstance(await alice.register(), events.Registered)
                call = alice.act("call", "carol", simple_sdp(40010))
                assert (await alice.expect(events.CallProgress)).status == 180
                answered = await alice.expect(events.CallAnswered)
                assert b"m=audio 49170 RTP/AVP 0" in answered.body
                assert (await next_line()).startswith("EVENT IncomingCall")
                assert (await next_line()).startswith("EVENT CallConfirmed")
                alice.act("hangup", call)
                assert (await alice.expect(events.CallEnded)).how == "local"
                assert (await next_line()).split()[:3] == ["EVENT", "CallEnded", "how=remote"], output
            rest = (await asyncio.wait_for(proc.communicate(), 60))[0].decode()
            assert "EVENT Unregistered" in rest and "DONE" in rest, rest
            assert proc.returncode == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    asyncio.run(asyncio.wait_for(scenario(), 120))


def test_mutual_tls_on_micropython(tmp_path, pki):
    client = pki.client("handset-mpy")
    with Kamailio(tmp_path, pki, USERS, require_client_cert=True) as k:
        args = agent_args(pki, k, "carol", USERS["carol"], "register")
        with_cert = run_micropython(args + [str(client.cert_der), str(client.key_der)], timeout=120)
        without = run_micropython(args, timeout=120)
    assert event_lines(with_cert.stdout)[0] == ["Registered", "expires=300"], with_cert.stdout + with_cert.stderr
    refused = event_lines(without.stdout)[0]
    assert refused[0] == "RegistrationFailed", without.stdout + without.stderr
    assert "retry_in=None" not in refused
    assert "client_certificate_refused_by_the_proxy" in refused[2], refused
