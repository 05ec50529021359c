"""Media security policy end to end: a caller that offers only plain RTP
(RTP/AVP, no ZRTP) is refused with 488 by a handset in its default
configuration, without ringing; a handset configured with
allow_insecure_media takes the call and shows it as NOT ENCRYPTED. The
caller is the firmware's SIP user agent on CPython (tests/sim/sipphone.py)."""
import asyncio
import os

import pytest

from hushphone.sip import events
from tests.sim.phone_lab import WAIT_S
from tests.sim.sipphone import Phone, simple_sdp

pytestmark = pytest.mark.slow


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


BAD_OFFERS = [
    b"",  # no offer at all (we do not do late offers)
    b"this is not SDP",
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 40000 RTP/SAVP 0\r\na=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:"
    + b"A" * 60 + b"\r\n",  # a suite we do not accept
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=video 40000 RTP/SAVP 96\r\n",  # no audio
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 40000 RTP/AVP 0\r\na=zrtp-hash:1.10 nothex\r\n",  # a broken zrtp-hash
]


def test_unusable_offers_refused_and_downgrade_refused_mid_call(lab):
    from hushphone import sdp

    bob = lab.handset("bob")

    async def scenario():
        async with caller(lab) as dave:
            assert isinstance(await dave.register(), events.Registered)
            statuses = []
            for body in BAD_OFFERS:
                dave.act("call", "bob", body)
                failed = await dave.expect((events.CallFailed, events.CallAnswered))
                statuses.append(getattr(failed, "status", None))
            # A good SDES offer, answered; then a re-INVITE that tries plain RTP.
            offer = sdp.build_offer("127.0.0.1", 40002, ["PCMU"], ["AES_CM_128_HMAC_SHA1_80"], os.urandom)
            call = dave.act("call", "bob", offer.to_bytes())
            await asyncio.to_thread(bob.wait_event, "incoming", WAIT_S)
            bob.key("SOFT1")
            answered = await dave.expect((events.CallFailed, events.CallAnswered))
            dave.act("reinvite", call, simple_sdp(40002))
            downgrade = await dave.expect((events.UpdateFailed, events.CallUpdated))
            stats = await asyncio.to_thread(bob.stats)
            dave.act("hangup", call)
            await dave.expect(events.CallEnded)
            return statuses, answered, downgrade, stats

    statuses, answered, downgrade, stats = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert statuses == [488] * len(BAD_OFFERS), statuses
    assert len(bob.find_events("refused")) == len(BAD_OFFERS) + 1  # the downgrade too
    assert isinstance(answered, events.CallAnswered) and b"a=crypto:1 AES_CM_128_HMAC_SHA1_80" in answered.body
    assert isinstance(downgrade, events.UpdateFailed) and downgrade.status == 488, downgrade
    line = stats["lines"][0]
    assert line["state"] == "in_call" and line["security"] == "SRTP (provider can decrypt)"  # unchanged
    assert bob.wait_event("ended", WAIT_S)["reason"] == "ended by peer"
