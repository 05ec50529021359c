"""Interop with linphonec (Debian linphone-cli) through the same Kamailio:
linphone answers our SDES offer (RTP/SAVP + a=crypto), and our user agent
answers linphone's call. Signalling only: the SIP exchange and the SDP
negotiated on each side are checked, no media flows."""
import asyncio
import os
import shutil

import pytest

from tests.sim.conftest import USERS
from tests.sim.linphone import LINPHONEC, Linphone
from tests.sim.sipphone import Phone

from hushphone import sdp  # noqa: E402  (sipphone put firmware/lib on sys.path)
from hushphone.sip import events  # noqa: E402

SUITES = ("AES_CM_128_HMAC_SHA1_80", "AES_256_CM_HMAC_SHA1_80")


@pytest.fixture(scope="module")
def linphone(tmp_path_factory, kamailio, pki):
    assert shutil.which(LINPHONEC), "linphonec is not installed (see system-packages.txt)"
    lin = Linphone(tmp_path_factory.mktemp("linphone"), kamailio, pki, "lin", USERS["lin"])
    lin.start()
    try:
        lin.wait_registered(timeout=60)
        yield lin
    finally:
        lin.stop()


def test_linphone_answers_our_sdes_offer(kamailio, pki, linphone):
    offer = sdp.build_offer("127.0.0.1", 41000, ["PCMU", "PCMA"], SUITES, os.urandom)

    async def scenario():
        async with Phone(kamailio, pki, "alice", USERS["alice"]) as alice:
            assert isinstance(await alice.register(), events.Registered)
            call = alice.act("call", "lin", offer.to_bytes())
            answered = await alice.expect(events.CallAnswered, timeout=30)
            await asyncio.to_thread(linphone.wait_for, r"[Cc]all \d+ .*(connected|established|answered)")
            alice.act("hangup", call)
            assert (await alice.expect(events.CallEnded)).how == "local"
            await asyncio.to_thread(linphone.wait_for, r"[Cc]all \d+ .*ended")
            return answered.body

    body = asyncio.run(asyncio.wait_for(scenario(), 120))
    answer = sdp.SessionDescription.parse(body)
    media = answer.audio()
    assert media.proto == "RTP/SAVP"
    got = sdp.process_answer(offer, answer)
    assert got.encrypted_by == "sdes", got
    assert got.crypto_suite in SUITES
    assert got.codec in ("PCMU", "PCMA")
    assert len(got.remote_key) == sdp.SUITE_KEY_LENGTHS[got.crypto_suite]
    assert got.remote_key != got.local_key
    assert got.direction == "sendrecv"


def test_we_answer_a_call_from_linphone(kamailio, pki, linphone):
    async def scenario():
        async with Phone(kamailio, pki, "bob", USERS["bob"]) as bob:
            assert isinstance(await bob.register(), events.Registered)
            linphone.command("call sip:bob@%s" % kamailio.host)
            incoming = await bob.expect(events.IncomingCall, timeout=30)
            offer = sdp.SessionDescription.parse(incoming.body)
            answer, negotiated = sdp.answer(offer, "127.0.0.1", 42000, ["PCMU", "PCMA"], SUITES, os.urandom)
            assert not negotiated.rejected, negotiated
            bob.act("ringing", incoming.call)
            bob.act("answer", incoming.call, answer.to_bytes())
            await bob.expect(events.CallConfirmed, timeout=30)  # linphone's ACK
            await asyncio.to_thread(linphone.wait_for, r"[Cc]all \d+ .*(connected|established)")
            linphone.command("terminate")
            assert (await bob.expect(events.CallEnded, timeout=30)).how == "remote"
            return offer, negotiated

    offer, negotiated = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert offer.audio().proto == "RTP/SAVP"
    assert offer.audio().get_all("crypto"), "linphone offered no a=crypto"
    assert negotiated.encrypted_by == "sdes"
    assert negotiated.crypto_suite in SUITES
    assert negotiated.remote_port and negotiated.remote_addr
