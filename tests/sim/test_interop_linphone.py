"""Our handset (the phone app on the MicroPython unix port) and linphone
(Debian linphone-cli, an independent SIP/SRTP/G.711 implementation) call
each other through Kamailio over TLS with SDES-SRTP mandatory on both
sides, in both directions. The tone is checked both ways: linphone plays a
1000 Hz WAV that must come out of our handset's speaker, and records our
1500 Hz tone to a WAV that we measure (linphonec `soundcard use files`,
`play`, `record`)."""
import os
import time

import pytest

from hushctl.sim import SimHandset
from tests.hil.simdut import handset_config, read_pcm, tone_seconds, write_tone_wav
from tests.sim.conftest import USERS
from tests.sim.linphone import Linphone

pytestmark = pytest.mark.slow

WAIT_S = 30.0  # generous: CI machines are loaded
CALL_S = 4
OUR_HZ = 1500
LINPHONE_HZ = 1000
MIN_SNR_DB = 30.0


@pytest.fixture
def linphone(tmp_path, kamailio, pki):
    assert os.path.exists("/usr/bin/linphonec"), "linphonec is not installed (Debian linphone-cli)"
    lin = Linphone(tmp_path / "linphone-home", kamailio, pki, "lin", USERS["lin"], auto_answer=True)
    lin.tone = tmp_path / "linphone-plays.wav"
    lin.recording = tmp_path / "linphone-heard.wav"
    write_tone_wav(lin.tone, LINPHONE_HZ, CALL_S + 20)
    lin.start()
    try:
        lin.command("play %s" % lin.tone)
        lin.command("record %s" % lin.recording)  # appends: the file is new for each test
        lin.wait_registered()
        yield lin
    finally:
        lin.stop()


# Our handset as configured by default (ZRTP first, no keys in SIP:
# linphone with SDES mandatory refuses that with 488 and the handset offers
# again with SDES keys, see tests/sim/test_offer_policy.py) and with ZRTP
# off (an SDES-only offer at once); either way the call goes on with SDES.
OFFERS = [pytest.param({}, id="default-offer"),
          pytest.param({"zrtp": False}, id="sdes-only-offer")]


@pytest.fixture
def alice(request, tmp_path, kamailio, pki):
    extra = getattr(request, "param", {})
    config = handset_config(tmp_path / "handsets", "alice", USERS["alice"], kamailio, pki.ca.cert_der, tone_hz=OUR_HZ,
                            **extra)
    handset = SimHandset(config)
    try:
        handset.wait_event("registered", WAIT_S)
        yield handset
    finally:
        handset.stop()


def check_in_call(event):
    assert event["peer"] == "lin"
    assert event["security"] == "sdes" and event["label"] == "SRTP (provider can decrypt)"
    assert event["codec"] in ("PCMU", "PCMA") and event["suite"].startswith("AES_")


# Seeing our a=zrtp-hash, linphone starts ZRTP on the media port even though
# it answered with SDES: its ZRTP Hello and retransmissions (RFC 6189 §6:
# a bounded number, 21 seen) reach our SDES session, which sets them apart
# as ZRTP (RFC 7983 demultiplexing), neither media nor malformed.
_LINPHONE_ZRTP_HELLOS_MAX = 25


def check_tones(alice, linphone, ended):
    """Both directions, once both sides have stopped."""
    stats = ended["stats"]
    assert stats["received"] >= 50 * (CALL_S - 1), stats
    offered_zrtp = alice.config.get("zrtp", True)
    assert stats["dropped_auth"] == 0, stats  # nothing forged or garbled
    assert stats["dropped_malformed"] == 0, stats
    assert stats["zrtp"] <= (_LINPHONE_ZRTP_HELLOS_MAX if offered_zrtp else 0), stats
    # linphone -> us: out of our speaker (after our jitter buffer filled).
    rate, heard = read_pcm(alice.config["speaker_wav"])
    seconds = tone_seconds(heard, LINPHONE_HZ, rate, skip_s=0.5)
    assert len(seconds) >= CALL_S - 2, "our handset played only %.1f s" % (len(heard) / 2 / rate)
    snrs = sorted(r.snr_db for r in seconds)
    assert snrs[len(snrs) // 2] >= MIN_SNR_DB and all(r.present() for r in seconds), seconds
    # us -> linphone: what linphone decrypted, decoded and recorded. Its
    # adaptive playout may stretch a second: judge the median second, and
    # require the tone in every one.
    rate, recorded = read_pcm(linphone.recording)
    seconds = tone_seconds(recorded, OUR_HZ, rate, skip_s=1.0)
    assert len(seconds) >= CALL_S - 2, "linphone recorded only %.1f s" % (len(recorded) / 2 / rate)
    snrs = sorted(r.snr_db for r in seconds)
    assert snrs[len(snrs) // 2] >= MIN_SNR_DB and all(r.present() for r in seconds), snrs
    # ... and it is our tone, not linphone's own coming back.
    assert all(r.snr_db < -10 for r in tone_seconds(recorded, LINPHONE_HZ, rate, skip_s=1.0))


@pytest.mark.parametrize("alice", OFFERS, indirect=True)
def test_our_handset_calls_linphone(alice, linphone):
    alice.send("dial lin")
    check_in_call(alice.wait_event("in_call", WAIT_S, fail_on=("refused", "ended", "connection_lost")))
    linphone.wait_for(r"Call \d+ with <?sip:alice@localhost>? connected", WAIT_S)
    time.sleep(CALL_S)
    alice.send("hangup")
    ended = alice.wait_event("ended", WAIT_S)
    linphone.wait_for(r"Call \d+ .*ended", WAIT_S)
    alice.stop()
    linphone.stop()
    assert ended["kind"] == "out" and ended["reason"] == "hung up", ended
    check_tones(alice, linphone, ended)


def test_linphone_calls_our_handset(alice, linphone):
    linphone.command("call sip:alice@localhost")
    incoming = alice.wait_event("incoming", WAIT_S)
    assert incoming["peer"] == "lin" and incoming["waiting"] is False
    alice.send("answer")
    check_in_call(alice.wait_event("in_call", WAIT_S))
    linphone.wait_for(r"Call \d+ with <?sip:alice@localhost>? connected", WAIT_S)
    time.sleep(CALL_S)
    linphone.command("terminate")
    ended = alice.wait_event("ended", WAIT_S)
    alice.stop()
    linphone.stop()
    assert ended["kind"] == "in" and ended["reason"] == "ended by peer", ended
    check_tones(alice, linphone, ended)
