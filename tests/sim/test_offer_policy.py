"""The offer policy against every kind of peer, through Kamailio over TLS
(docs/handset.md, "Which mode a call gets"): our handset (the phone app on
the MicroPython unix port, default configuration) calls each peer and the
call must connect with the strongest mode both support, while Kamailio's
log of every SIP message it received (xlog of $mb, tests/sim/kamailio.py)
shows what a proxy on the path could read:

| peer                          | mode  | a=crypto in SIP          |
| linphone, ZRTP optional       | ZRTP  | never                    |
| linphone, ZRTP mandatory      | ZRTP  | never                    |
| another Hushphone             | ZRTP  | never                    |
| linphone, SDES optional       | ZRTP  | never (it runs ZRTP)     |
| linphone, SDES mandatory      | SDES  | only after its 488       |
| baresip (SDES mandatory)      | SDES  | only after its 488       |
| baresip (SDES optional)       | SDES  | only in the re-INVITE    |
|   (plain RTP answer, no ZRTP Hello within 3 s)                      |
| linphone SDES, fallback off   | none  | never (the call fails)   |

A ZRTP call must go secure (same SAS on both ends where the peer prints
it) and SDES calls must carry packets that authenticate."""
import os
import re
import time

import pytest

from hushctl.sim import SimHandset
from tests.hil.simdut import handset_config, write_tone_wav
from tests.sim.baresip import Baresip
from tests.sim.conftest import USERS
from tests.sim.linphone import LINPHONEC, Linphone

pytestmark = pytest.mark.slow

WAIT_S = 30.0
CALL_S = 1.5  # enough to see packets flow; the tones are checked by the interop tests


def handset(tmp_path, kamailio, pki, user, **extra):
    h = SimHandset(handset_config(tmp_path / "handsets", user, USERS[user], kamailio, pki.ca.cert_der, **extra))
    h.wait_event("registered", WAIT_S)
    return h


def sip_of_call(messages, callee):
    """Every SIP message Kamailio received about calls to `callee` (the
    INVITEs, their answers, ACK, BYE...), as text."""
    texts = [m.decode("utf-8", "replace") for m in messages]
    call_ids = set()
    for text in texts:
        first = text.split("\r\n", 1)[0]
        if first.startswith("INVITE sip:%s@" % callee):
            call_ids.add(re.search(r"(?im)^(?:Call-ID|i)\s*:\s*(\S+)", text).group(1))
    assert call_ids, "Kamailio saw no INVITE to %s" % callee
    return [t for t in texts if re.search(r"(?im)^(?:Call-ID|i)\s*:\s*(\S+)", t).group(1) in call_ids]


def invites(texts):
    return [t for t in texts if t.startswith("INVITE ")]


def call_and_hang_up(alice, callee, n=1):
    alice.send("dial %s" % callee)
    in_call = alice.wait_event("in_call", WAIT_S, count=n, fail_on=("refused",))
    secure = None
    if in_call["security"] == "zrtp":
        secure = alice.wait_event("secure", WAIT_S, count=n, fail_on=("refused", "ended"))
    time.sleep(CALL_S)
    alice.send("hangup")
    ended = alice.wait_event("ended", WAIT_S, count=n)
    return in_call, secure, ended


def check_packets(ended, unencrypted_start=False):
    """Packets flowed both ways and authenticated. unencrypted_start: a
    peer that sends plain RTP until the call is keyed (linphone with ZRTP
    optional, baresip with SDES optional): the few that arrive after our
    keys are in place fail authentication and are dropped (never played)."""
    stats = ended["stats"]
    assert stats["received"] >= 25 and stats["sent"] >= 25, stats
    assert stats["dropped_auth"] <= (3 if unencrypted_start else 0), stats


def start_linphone(tmp_path, kamailio, pki, encryption, mandatory):
    assert os.path.exists(LINPHONEC), "linphonec is not installed (Debian linphone-cli)"
    lin = Linphone(tmp_path / "linphone-home", kamailio, pki, "lin", USERS["lin"], media_encryption=encryption,
                   mandatory=mandatory)
    tone = tmp_path / "linphone-plays.wav"
    write_tone_wav(tone, 1000, 30)
    lin.start()
    lin.command("play %s" % tone)
    lin.wait_registered()
    return lin


@pytest.mark.parametrize("mandatory", [False, True], ids=["zrtp-optional", "zrtp-mandatory"])
def test_linphone_with_zrtp_gets_zrtp_and_no_keys_in_sip(tmp_path, kamailio, pki, mandatory):
    mark = len(kamailio.received())
    lin = start_linphone(tmp_path, kamailio, pki, "zrtp", mandatory)
    try:
        alice = handset(tmp_path, kamailio, pki, "alice", tone_hz=1500)
        try:
            in_call, secure, ended = call_and_hang_up(alice, "lin")
            their_sas = re.search(r"auth token is ([^\s.]+)", lin.wait_for(r"auth token is", WAIT_S)).group(1)
            again = alice.find_events("offer_again")
        finally:
            alice.stop()
    finally:
        lin.stop()
    assert in_call["security"] == "zrtp" and secure["sas"].lower() == their_sas.lower(), (secure, their_sas)
    assert again == []
    check_packets(ended, unencrypted_start=not mandatory)
    sip = sip_of_call(kamailio.received()[mark:], "lin")
    assert len(invites(sip)) >= 1
    assert not [t for t in sip if "a=crypto" in t], "SDES keys went through the proxy to a ZRTP peer"
    assert any("a=zrtp-hash:1.10 " in t for t in invites(sip))


def test_another_hushphone_gets_zrtp_and_no_keys_in_sip(tmp_path, kamailio, pki):
    mark = len(kamailio.received())
    bob = handset(tmp_path, kamailio, pki, "bob", tone_hz=1000)
    try:
        alice = handset(tmp_path, kamailio, pki, "alice", tone_hz=1500)
        try:
            alice.send("dial bob")
            bob.wait_event("incoming", WAIT_S)
            bob.send("answer")
            theirs = bob.wait_event("secure", WAIT_S, fail_on=("refused", "ended"))
            in_call, secure, ended = call_and_hang_up_answered(alice)
        finally:
            alice.stop()
    finally:
        bob.stop()
    assert in_call["security"] == "zrtp" and secure["sas"] == theirs["sas"], (secure, theirs)
    check_packets(ended)
    sip = sip_of_call(kamailio.received()[mark:], "bob")
    assert invites(sip) and not [t for t in sip if t.startswith("SIP/2.0 488")]  # (and its authenticated retry)
    assert not [t for t in sip if "a=crypto" in t], "SDES keys went through the proxy to a ZRTP peer"


def call_and_hang_up_answered(alice):
    in_call = alice.wait_event("in_call", WAIT_S, fail_on=("refused",))
    secure = alice.wait_event("secure", WAIT_S, fail_on=("refused", "ended"))
    time.sleep(CALL_S)
    alice.send("hangup")
    return in_call, secure, alice.wait_event("ended", WAIT_S)


def check_sdes_fallback(sip, alice, in_call, ended):
    """The first INVITE had no keys; the peer refused it with 488; only
    then did SDES keys go into SIP."""
    sent = invites(sip)
    assert "a=crypto" not in sent[0] and "RTP/AVP" in sent[0], sent[0]
    assert any(t.startswith("SIP/2.0 488") for t in sip), [t.split("\r\n", 1)[0] for t in sip]
    assert "a=crypto" in sent[-1]
    assert [(e["status"], e["offer"]) for e in alice.find_events("offer_again")] == [(488, "sdes")]
    assert in_call["security"] == "sdes" and in_call["label"] == "SRTP (provider can decrypt)", in_call
    check_packets(ended)


def test_linphone_with_sdes_mandatory_gets_sdes_after_refusing_zrtp(tmp_path, kamailio, pki):
    mark = len(kamailio.received())
    lin = start_linphone(tmp_path, kamailio, pki, "srtp", True)
    try:
        alice = handset(tmp_path, kamailio, pki, "alice", tone_hz=1500)
        try:
            in_call, _secure, ended = call_and_hang_up(alice, "lin")
        finally:
            alice.stop()
    finally:
        lin.stop()
    check_sdes_fallback(sip_of_call(kamailio.received()[mark:], "lin"), alice, in_call, ended)


def test_baresip_gets_sdes_after_refusing_zrtp(tmp_path, kamailio, pki):
    mark = len(kamailio.received())
    tone = tmp_path / "baresip-plays.wav"
    write_tone_wav(tone, 1000, 30)
    with Baresip(tmp_path / "baresip", kamailio, pki.ca.cert_pem, "carol", USERS["carol"], tone) as bar:
        bar.wait_registered()
        alice = handset(tmp_path, kamailio, pki, "alice", tone_hz=1500)
        try:
            in_call, _secure, ended = call_and_hang_up(alice, "carol")
        finally:
            alice.stop()
    check_sdes_fallback(sip_of_call(kamailio.received()[mark:], "carol"), alice, in_call, ended)


def test_without_the_fallback_an_sdes_only_peer_gets_no_call_and_no_keys(tmp_path, kamailio, pki):
    mark = len(kamailio.received())
    lin = start_linphone(tmp_path, kamailio, pki, "srtp", True)
    try:
        alice = handset(tmp_path, kamailio, pki, "alice", tone_hz=1500, sdes_fallback=False)
        try:
            alice.send("dial lin")
            ended = alice.wait_event("ended", WAIT_S)
            again = alice.find_events("offer_again")
        finally:
            alice.stop()
    finally:
        lin.stop()
    assert ended["kind"] == "failed" and ended["reason"] == "media refused", ended
    assert again == []
    sip = sip_of_call(kamailio.received()[mark:], "lin")
    assert invites(sip) and any(t.startswith("SIP/2.0 488") for t in sip)
    assert not [t for t in sip if "a=crypto" in t]


def test_linphone_with_sdes_optional_still_gets_zrtp(tmp_path, kamailio, pki):
    # linphone with SDES optional answers our keyless offer without a
    # usable a=zrtp-hash (an empty one) but runs ZRTP in the media: the
    # handset waits for its Hello (silent) and the call is ZRTP.
    mark = len(kamailio.received())
    lin = start_linphone(tmp_path, kamailio, pki, "srtp", False)
    try:
        alice = handset(tmp_path, kamailio, pki, "alice", tone_hz=1500)
        try:
            in_call, secure, ended = call_and_hang_up(alice, "lin")
            their_sas = re.search(r"auth token is ([^\s.]+)", lin.wait_for(r"auth token is", WAIT_S)).group(1)
            again = alice.find_events("offer_again")
        finally:
            alice.stop()
    finally:
        lin.stop()
    assert in_call["security"] == "zrtp" and secure["sas"].lower() == their_sas.lower(), (secure, their_sas)
    assert again == []
    check_packets(ended, unencrypted_start=True)
    sip = sip_of_call(kamailio.received()[mark:], "lin")
    assert not [t for t in sip if "a=crypto" in t], "SDES keys went through the proxy to a ZRTP peer"


def test_a_peer_that_takes_the_offer_as_plain_rtp_gets_sdes_by_re_invite(tmp_path, kamailio, pki):
    # baresip with SDES optional (no ZRTP at all) answers our keyless offer
    # as plain RTP and sends no ZRTP: after HELLO_WAIT_MS the handset
    # re-INVITEs with SDES keys. Nothing is sent or played meanwhile.
    mark = len(kamailio.received())
    tone = tmp_path / "baresip-plays.wav"
    write_tone_wav(tone, 1000, 30)
    with Baresip(tmp_path / "baresip", kamailio, pki.ca.cert_pem, "carol", USERS["carol"], tone,
                 mediaenc="srtp") as bar:
        bar.wait_registered()
        alice = handset(tmp_path, kamailio, pki, "alice", tone_hz=1500)
        try:
            alice.send("dial carol")
            in_call = alice.wait_event("in_call", WAIT_S, fail_on=("refused",))
            waiting = alice.stats()["lines"][0]["media"]
            again = alice.wait_event("offer_again", WAIT_S, fail_on=("refused", "ended"))
            secured = alice.wait_event("media_security", WAIT_S, fail_on=("refused", "ended"))
            time.sleep(CALL_S)
            alice.send("hangup")
            ended = alice.wait_event("ended", WAIT_S)
        finally:
            alice.stop()
    assert in_call["security"] == "zrtp" and in_call["label"] == "ZRTP: securing...", in_call  # waiting, silent
    assert waiting is None, waiting  # no media session: nothing sent or played before the keys
    assert (again["status"], again["offer"]) == (None, "sdes"), again
    assert secured["security"] == "sdes" and secured["label"] == "SRTP (provider can decrypt)", secured
    # baresip sent plain RTP while we waited (it took the offer as plain);
    # one still in flight when our SDES keys came is dropped, never played.
    check_packets(ended, unencrypted_start=True)
    sip = sip_of_call(kamailio.received()[mark:], "carol")
    sent = invites(sip)
    assert "a=crypto" not in sent[0] and "a=crypto" not in sent[1]  # the INVITE and its authenticated retry
    assert "a=crypto" in sent[-1]  # the re-INVITE
