"""Our handset and baresip (Debian baresip-core: libre/librem, its own SIP,
SDES-SRTP and G.711) call each other through Kamailio over TLS, baresip
with SRTP mandatory (`mediaenc=srtp-mand`), in both directions. Tone both
ways: baresip's microphone is a 1000 Hz WAV (aufile) that must come out of
our speaker; baresip's sndfile filter records what it decoded, where our
1500 Hz tone must be. (baresip does not check the proxy's certificate: this
test is about media interop, not TLS.)"""
import time

import pytest

from hushctl.sim import SimHandset
from tests.hil.simdut import handset_config, read_pcm, tone_seconds, write_tone_wav
from tests.sim.baresip import Baresip
from tests.sim.conftest import USERS

pytestmark = pytest.mark.slow

WAIT_S = 30.0
CALL_S = 4
OUR_HZ = 1500
BARESIP_HZ = 1000
MIN_SNR_DB = 30.0
BARESIP_USER = "carol"  # an account of the shared test Kamailio (tests/sim/conftest.py)


@pytest.fixture
def baresip(tmp_path, kamailio, pki):
    tone = tmp_path / "baresip-plays.wav"
    write_tone_wav(tone, BARESIP_HZ, CALL_S + 30)
    with Baresip(tmp_path / "baresip", kamailio, pki.ca.cert_pem, BARESIP_USER, USERS[BARESIP_USER], tone) as bar:
        bar.wait_registered()
        yield bar


@pytest.fixture
def alice(tmp_path, kamailio, pki):
    config = handset_config(tmp_path / "handsets", "alice", USERS["alice"], kamailio, pki.ca.cert_der, tone_hz=OUR_HZ)
    handset = SimHandset(config)
    try:
        handset.wait_event("registered", WAIT_S)
        yield handset
    finally:
        handset.stop()


def check_call(alice, baresip, in_call, ended):
    assert in_call["peer"] == BARESIP_USER
    assert in_call["security"] == "sdes" and in_call["label"] == "SRTP (provider can decrypt)"
    menc = [e for e in baresip.events if e.get("type") == "CALL_MENC"]
    assert menc and menc[-1]["param"].endswith(in_call["suite"]), menc  # baresip saw the same SRTP suite
    stats = ended["stats"]
    assert stats["received"] >= 50 * (CALL_S - 1), stats
    assert stats["dropped_auth"] == 0 and stats["dropped_malformed"] == 0, stats
    # baresip -> us
    rate, heard = read_pcm(alice.config["speaker_wav"])
    seconds = tone_seconds(heard, BARESIP_HZ, rate, skip_s=0.5)
    assert len(seconds) >= CALL_S - 2, "our handset played only %.1f s" % (len(heard) / 2 / rate)
    snrs = sorted(r.snr_db for r in seconds)
    assert snrs[len(snrs) // 2] >= MIN_SNR_DB and all(r.present() for r in seconds), seconds
    # us -> baresip: what it decoded (its jitter buffer starts after ~1 s)
    rate, decoded = read_pcm(baresip.received_audio_path())
    seconds = tone_seconds(decoded, OUR_HZ, rate, skip_s=1.0)
    assert len(seconds) >= CALL_S - 2, "baresip decoded only %.1f s" % (len(decoded) / 2 / rate)
    snrs = sorted(r.snr_db for r in seconds)
    assert snrs[len(snrs) // 2] >= MIN_SNR_DB and all(r.present() for r in seconds), snrs
    assert all(r.snr_db < -10 for r in tone_seconds(decoded, BARESIP_HZ, rate, skip_s=1.0))


def test_our_handset_calls_baresip(alice, baresip):
    alice.send("dial %s" % BARESIP_USER)  # baresip answers by itself (answermode=auto)
    in_call = alice.wait_event("in_call", WAIT_S)
    # baresip has no ZRTP: it refuses our first offer (ZRTP, no keys in
    # SIP), and the handset falls back to SDES keys in a new INVITE.
    again = alice.find_events("offer_again")
    assert [(e["status"], e["offer"]) for e in again] == [(488, "sdes")], again
    baresip.wait_event("CALL_ESTABLISHED", fail_on=())  # (after the first INVITE's CALL_CLOSED)
    time.sleep(CALL_S)
    alice.send("hangup")
    ended = alice.wait_event("ended", WAIT_S)
    baresip.wait_event("CALL_CLOSED", fail_on=())
    alice.stop()
    assert ended["kind"] == "out", ended
    check_call(alice, baresip, in_call, ended)


def test_baresip_calls_our_handset(alice, baresip):
    baresip.dial("sip:alice@%s" % baresip.domain)
    incoming = alice.wait_event("incoming", WAIT_S)
    assert incoming["peer"] == BARESIP_USER
    alice.send("answer")
    in_call = alice.wait_event("in_call", WAIT_S)
    baresip.wait_event("CALL_ESTABLISHED")
    time.sleep(CALL_S)
    baresip.hangup()
    ended = alice.wait_event("ended", WAIT_S)
    baresip.wait_event("CALL_CLOSED", fail_on=())
    alice.stop()
    assert ended["kind"] == "in" and ended["reason"] == "ended by peer", ended
    check_call(alice, baresip, in_call, ended)
