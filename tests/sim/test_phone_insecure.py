"""Media security policy end to end: a caller that offers only plain RTP
(RTP/AVP, no ZRTP) is refused with 488 by a handset in its default
configuration, without ringing; a handset configured with
allow_insecure_media takes the call and shows it as NOT ENCRYPTED. The
caller is the firmware's SIP user agent on CPython (tests/sim/sipphone.py)."""
import asyncio

import pytest

from hushphone.sip import events
from tests.sim.phone_lab import WAIT_S, PhoneLab
from tests.sim.sipphone import Phone, simple_sdp

pytestmark = pytest.mark.slow


@pytest.fixture
def lab(tmp_path):
    lab = PhoneLab(tmp_path)
    yield lab
    lab.close()


def caller(lab):
    return Phone(lab.proxy, None, "dave", lab.passwords["dave"], ca_der=lab.pki.ca_der.read_bytes(),
                 server_hostname=lab.proxy.host)


def test_plain_rtp_offer_refused_by_default(lab):
    bob = lab.handset("bob")

    async def scenario():
        async with caller(lab) as dave:
            assert isinstance(await dave.register(), events.Registered)
            dave.act("call", "bob", simple_sdp(40000))
            return await dave.expect((events.CallFailed, events.CallAnswered))

    result = asyncio.run(asyncio.wait_for(scenario(), 90))
    assert isinstance(result, events.CallFailed) and result.status == 488, result
    refused = bob.wait_event("refused", WAIT_S)
    assert refused["peer"] == "dave" and refused["status"] == 488
    assert "unencrypted" in refused["reason"]
    assert bob.find_events("incoming") == []  # it never rang
    assert bob.stats()["lines"] == []


def test_plain_rtp_allowed_only_when_configured_and_shown(lab):
    carol = lab.handset("carol", allow_insecure_media=True)

    async def scenario():
        async with caller(lab) as dave:
            assert isinstance(await dave.register(), events.Registered)
            call = dave.act("call", "carol", simple_sdp(40000))
            await asyncio.to_thread(carol.wait_event, "incoming", WAIT_S)
            carol.key("SOFT1")
            answered = await dave.expect((events.CallFailed, events.CallAnswered))
            in_call = await asyncio.to_thread(carol.wait_event, "in_call", WAIT_S)
            screen = await asyncio.to_thread(carol.stats)
            dave.act("hangup", call)
            await dave.expect(events.CallEnded)
            return answered, in_call, screen["screen"]

    answered, in_call, screen = asyncio.run(asyncio.wait_for(scenario(), 90))
    assert isinstance(answered, events.CallAnswered), answered
    assert b"RTP/AVP" in answered.body and b"a=crypto" not in answered.body
    assert in_call["security"] == "none" and in_call["label"] == "NOT ENCRYPTED"
    assert screen[0] == "Ready | NOT ENCRYPTED"
    assert carol.wait_event("ended", WAIT_S)["reason"] == "ended by peer"
