"""The firmware's SIP user agent and TLS driver (on CPython) against a real
Kamailio: digest registration, refused credentials and certificates, and
calls between two registered phones (INVITE/200/ACK/BYE with a 407
challenge, CANCEL of a ringing call, re-INVITE hold/resume, busy)."""
import asyncio

import pytest

from tests.sim.conftest import USERS
from tests.sim.kamailio import Kamailio
from tests.sim.sipphone import Phone, agent_args, event_lines, simple_sdp
from tests.support.runtimes import run_micropython

from hushphone.sip import events  # noqa: E402  (sipphone put firmware/lib on sys.path)
from hushphone.sip.transport import CertificateError


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


def test_register_with_digest_auth(kamailio, pki):
    async def scenario():
        async with Phone(kamailio, pki, "alice", USERS["alice"]) as alice:
            ev = await alice.register()
            assert isinstance(ev, events.Registered), ev
            assert ev.expires == 300
            alice.act("unregister")
            await alice.expect(events.Unregistered)

    before = len(kamailio.received())
    run(scenario())
    seen = kamailio.received()[before:]
    registers = [m for m in seen if m.startswith(b"REGISTER ")]
    # challenged once, then authorised; the same twice for the removal
    assert len(registers) == 4
    assert b"Authorization: Digest " not in registers[0]
    assert b"Authorization: Digest " in registers[1] and b"qop=auth" in registers[1]
    assert b"Expires: 0" in registers[3]


def test_wrong_password_fails_clearly(kamailio, pki):
    async def scenario():
        async with Phone(kamailio, pki, "alice", "not-the-password") as alice:
            ev = await alice.register()
            assert isinstance(ev, events.RegistrationFailed), ev
            assert ev.status == 401
            assert "wrong user name or password" in ev.reason
            assert ev.retry_in is None  # no hammering with bad credentials
            await asyncio.sleep(0.5)
            assert not any(isinstance(e, events.Registered) for e in alice.events)

    run(scenario())


@pytest.mark.parametrize("case", ["other_ca", "expired", "wrong_name_cert", "wrong_hostname"])
def test_bad_server_certificate_is_refused(tmp_path, pki, case):
    keys = {"other_ca": pki.server_other_ca, "expired": pki.server_expired,
            "wrong_name_cert": pki.server_wrong_name}.get(case, pki.server)
    expected = {"other_ca": "untrusted", "expired": "expired", "wrong_name_cert": "hostname",
                "wrong_hostname": "hostname"}[case]

    async def scenario(k):
        name = "sip.example.net" if case == "wrong_hostname" else None
        async with Phone(k, pki, "alice", USERS["alice"], server_hostname=name) as alice:
            ev = await alice.register()
            assert isinstance(ev, events.RegistrationFailed), ev
            err = alice.transport.last_error
            assert isinstance(err, CertificateError), err
            assert err.kind == expected, err
            assert "certificate refused (%s)" % expected in ev.reason
            assert ev.retry_in is not None  # the proxy may be fixed: retried with backoff

    with Kamailio(tmp_path, pki, USERS, server_keys=keys) as k:
        run(scenario(k))
        assert k.received() == []  # not one SIP byte went to an unverified server


async def _two_phones(kamailio, pki):
    alice = Phone(kamailio, pki, "alice", USERS["alice"])
    bob = Phone(kamailio, pki, "bob", USERS["bob"])
    await alice.__aenter__()
    await bob.__aenter__()
    for phone in (alice, bob):
        ev = await phone.register()
        assert isinstance(ev, events.Registered), ev
    return alice, bob


def test_call_answer_hold_resume_and_bye(kamailio, pki):
    async def scenario():
        alice, bob = await _two_phones(kamailio, pki)
        try:
            call = alice.act("call", "bob", simple_sdp(40000))
            incoming = await bob.expect(events.IncomingCall)
            assert b"m=audio 40000 " in incoming.body
            bob.act("ringing", incoming.call)
            progress = await alice.expect(events.CallProgress)
            assert progress.status == 180
            bob.act("answer", incoming.call, simple_sdp(50000))
            answered = await alice.expect(events.CallAnswered)
            assert b"m=audio 50000 " in answered.body
            await bob.expect(events.CallConfirmed)  # our ACK crossed Kamailio

            # hold (a=sendonly offered, a=recvonly answered), then resume
            for offer, answer in (("sendonly", "recvonly"), ("sendrecv", "sendrecv")):
                alice.act("reinvite", call, simple_sdp(40000, offer))
                update = await bob.expect(events.UpdateRequested)
                assert ("a=%s" % offer).encode() in update.body
                bob.act("accept_update", incoming.call, simple_sdp(50000, answer))
                updated = await alice.expect(events.CallUpdated)
                assert ("a=%s" % answer).encode() in updated.body

            bob.act("hangup", incoming.call)
            assert (await bob.expect(events.CallEnded)).how == "local"
            assert (await alice.expect(events.CallEnded)).how == "remote"
        finally:
            await alice.__aexit__()
            await bob.__aexit__()

    before = len(kamailio.received())
    run(scenario())
    seen = kamailio.received()[before:]
    invites = [m for m in seen if m.startswith(b"INVITE sip:bob@")]
    # the first INVITE is challenged (407), the second carries credentials
    assert len(invites) == 2 and b"Proxy-Authorization: Digest " in invites[1]
    assert any(m.startswith(b"ACK ") for m in seen)
    assert any(m.startswith(b"BYE ") for m in seen)
    assert not any(b"User-Agent:" in m for m in seen)


def test_cancel_ringing_call_and_busy(kamailio, pki):
    async def scenario():
        alice, bob = await _two_phones(kamailio, pki)
        try:
            call = alice.act("call", "bob", simple_sdp(40002))
            incoming = await bob.expect(events.IncomingCall)
            bob.act("ringing", incoming.call)
            await alice.expect(events.CallProgress)
            alice.act("hangup", call)
            assert (await bob.expect(events.CallEnded)).how == "cancelled"
            assert (await alice.expect(events.CallEnded)).how == "cancelled"
            assert call.status == 487

            call = alice.act("call", "bob", simple_sdp(40004))
            incoming = await bob.expect(events.IncomingCall)
            bob.act("reject", incoming.call, status=486)
            failed = await alice.expect(events.CallFailed)
            assert failed.status == 486
        finally:
            await alice.__aexit__()
            await bob.__aexit__()

    run(scenario())


def test_mutual_tls_client_certificate(tmp_path, pki):
    """A Kamailio that requires client certificates from the test CA: a phone
    with its certificate registers, one without is refused."""
    client = pki.client("handset-0001")

    async def scenario(k):
        async with Phone(k, pki, "alice", USERS["alice"], client_keys=client) as alice:
            assert isinstance(await alice.register(), events.Registered)
        async with Phone(k, pki, "bob", USERS["bob"]) as bob:
            ev = await bob.register()
            assert isinstance(ev, events.RegistrationFailed), ev
            assert ev.retry_in is not None
            assert getattr(bob.transport.last_error, "kind", None) == "client", bob.transport.last_error
            return ev.reason

    with Kamailio(tmp_path, pki, USERS, require_client_cert=True, client_cas=[pki.ca]) as k:
        reason = run(scenario(k))
        assert len([m for m in k.received() if m.startswith(b"REGISTER ")]) == 2  # alice's only
    assert "client certificate refused by the proxy" in reason, reason


def test_refresh_keepalive_pings_and_reconnect_after_a_lost_connection(kamailio, pki):
    async def scenario():
        async with Phone(kamailio, pki, "carol", USERS["carol"], keepalive_interval=200, expires=10) as carol:
            assert (await carol.register()).expires == 10
            first_call_id = carol.ua.registration._call_id
            # refreshed before expiry (a 10 s grant: after expires/4 = 2.5 s), re-challenged, same Call-ID
            assert (await carol.expect(events.Registered, timeout=30)).expires == 10
            assert carol.ua.registration._call_id == first_call_id
            for _ in range(150):  # Kamailio answers our CRLF pings (bounded wait, no timing assert)
                if carol.ua._keepalive.pongs >= 3:
                    break
                await asyncio.sleep(0.1)
            assert carol.ua._keepalive.pongs >= 3
            assert carol.transport.connected
            # the flow dies under us: the UA re-registers on a new connection
            carol.transport._writer.transport.abort()
            lost = await carol.expect(events.RegistrationFailed)
            assert 250 <= lost.retry_in <= 500, lost
            assert isinstance(await carol.expect(events.Registered), events.Registered)
            assert carol.ua.registration._call_id != first_call_id
            assert carol.transport.connected

    run(scenario())


def test_sha256_digest_and_preloaded_outbound_proxy_route(tmp_path, pki):
    """Kamailio challenging with algorithm=SHA-256 (RFC 8760) verifies our
    responses, on CPython and on the MicroPython agent; the CPython phone
    also preloads the outbound proxy as a Route."""
    async def scenario(k):
        route = "<sip:%s:%d;transport=tls;lr>" % (k.host, k.port)
        async with Phone(k, pki, "alice", USERS["alice"], route_set=[route]) as alice, \
                Phone(k, pki, "bob", USERS["bob"]) as bob:
            assert isinstance(await alice.register(), events.Registered)
            assert isinstance(await bob.register(), events.Registered)
            call = alice.act("call", "bob", simple_sdp(40020))
            incoming = await bob.expect(events.IncomingCall)
            bob.act("answer", incoming.call, simple_sdp(50020))
            await alice.expect(events.CallAnswered)
            alice.act("hangup", call)
            await bob.expect(events.CallEnded)

    with Kamailio(tmp_path, pki, USERS, algorithm="SHA-256") as k:
        run(scenario(k))
        mpy = run_micropython(agent_args(pki, k, "carol", USERS["carol"], "register"), timeout=120)
        seen = k.received()
    assert event_lines(mpy.stdout)[0] == ["Registered", "expires=300"], mpy.stdout + mpy.stderr
    authorized = [m for m in seen if b"Authorization: Digest " in m]
    assert len(authorized) >= 4
    assert all(b"algorithm=SHA-256" in m for m in authorized)
    invite = [m for m in seen if m.startswith(b"INVITE sip:bob@")][0]
    assert b"\r\nRoute: <sip:localhost:%d;transport=tls;lr>\r\n" % k.port in invite
