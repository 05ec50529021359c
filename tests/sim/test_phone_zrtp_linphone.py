"""ZRTP end to end between our handset (the phone app on the MicroPython
unix port, via hushctl.sim) and linphone (Debian linphone-cli, whose ZRTP
is bzrtp), through Kamailio over TLS, with ZRTP mandatory on linphone's
side and one key agreement forced there (X25519 or DH-3072).

Each call, in each direction: the handset's "secure" event reports the
forced agreement and the SAS linphone prints ("auth token is XXXX"); the
tone crosses both ways over the ZRTP-keyed SRTP (linphone's 1000 Hz WAV out
of our speaker WAV, our 1500 Hz tone in linphone's recording); no packet
failed authentication. A second call between the same parties (same
linphone HOME, same handset storage) matches the retained secret."""
import os
import re
import time

import pytest

from hushctl.sim import SimHandset
from tests.hil.simdut import handset_config, read_pcm, tone_seconds, write_tone_wav
from tests.sim.conftest import USERS
from tests.sim.linphone import LINPHONEC, Linphone

pytestmark = pytest.mark.slow

WAIT_S = 30.0  # generous: CI machines are loaded
CALL_S = 4  # seconds of audio once ZRTP is secure
OUR_HZ = 1500
LINPHONE_HZ = 1000
MIN_SNR_DB = 30.0
LINPHONE_SUITES = {"X255": "MS_ZRTP_KEY_AGREEMENT_X255", "DH3k": "MS_ZRTP_KEY_AGREEMENT_DH3K"}


def start_linphone(tmp_path, kamailio, pki, agreement):
    """linphonec with ZRTP mandatory and only `agreement` offered, playing
    a 1000 Hz tone and recording what it hears."""
    assert os.path.exists(LINPHONEC), "linphonec is not installed (Debian linphone-cli)"
    lin = Linphone(tmp_path / "linphone-home", kamailio, pki, "lin", USERS["lin"], media_encryption="zrtp")
    lin.rc.write_text(lin.rc.read_text().replace(
        "[sip]\n", "[sip]\nzrtp_key_agreements_suites=%s\n" % LINPHONE_SUITES[agreement], 1))
    lin.tone = tmp_path / "linphone-plays.wav"
    lin.recording = tmp_path / "linphone-heard.wav"
    write_tone_wav(lin.tone, LINPHONE_HZ, 2 * (CALL_S + 20))
    lin.start()
    lin.command("play %s" % lin.tone)
    lin.command("record %s" % lin.recording)
    lin.wait_registered()
    return lin


def start_alice(tmp_path, kamailio, pki, zrtp_only=True):
    # ZRTP only (no SDES fallback); the default configuration's first offer
    # has no SDES keys either (see the last test).
    config = handset_config(tmp_path / "handsets", "alice", USERS["alice"], kamailio, pki.ca.cert_der,
                            tone_hz=OUR_HZ, zrtp_only=zrtp_only)
    alice = SimHandset(config)
    alice.wait_event("registered", WAIT_S)
    return alice


def zrtp_call(alice, lin, direction, n):
    """The n-th call of alice, made in `direction` and ended by its caller
    after CALL_S seconds of secure audio: (alice's "secure" event with her
    status line then, her "ended" event, the SAS linphone printed)."""
    if direction == "we_call":
        alice.send("dial lin")
    else:
        incoming = len(alice.find_events("incoming")) + 1
        lin.command("call sip:alice@localhost")
        alice.wait_event("incoming", WAIT_S, count=incoming)
        alice.send("answer")
    # Fail fast on this call ending early ("ended" of an earlier call would count too).
    fail_on = ("refused", "connection_lost") + (("ended",) if n == 1 else ())
    in_call = alice.wait_event("in_call", WAIT_S, count=n, fail_on=fail_on)
    assert in_call["security"] == "zrtp" and in_call["label"] == "ZRTP: securing...", in_call
    secure = alice.wait_event("secure", WAIT_S, count=n, fail_on=fail_on)
    secure["status_line"] = alice.stats()["screen"][0]  # what the user reads aloud
    their_sas = re.search(r"auth token is ([^\s.]+)", lin.wait_for(r"auth token is", WAIT_S)).group(1)
    time.sleep(CALL_S)
    if direction == "we_call":
        alice.send("hangup")
    else:
        lin.command("terminate")
    ended = alice.wait_event("ended", WAIT_S, count=n)
    lin.wait_for(r"[Cc]all \d+ .*ended", WAIT_S)
    assert ended["reason"] == ("hung up" if direction == "we_call" else "ended by peer"), ended
    return secure, ended, their_sas


def check_secure(secure, agreement, their_sas):
    assert secure["peer"] == "lin" and secure["agreement"] == agreement, secure
    assert secure["sas"].lower() == their_sas.lower(), (secure, their_sas)
    assert secure["suite"].startswith("AES_CM_128_HMAC_SHA1_"), secure
    assert secure["status_line"] == "Ready | ZRTP SAS %s" % secure["sas"], secure


def check_media(ended):
    stats = ended["stats"]
    assert stats["received"] >= 50 * (CALL_S - 1), stats
    assert stats["dropped_auth"] == 0 and stats["dropped_malformed"] == 0, stats


def check_tones(alice, lin):
    """Both directions, once both sides have stopped: each second heard
    carries the other side's tone (median SNR >= MIN_SNR_DB)."""
    for path, freq, skip_s in ((alice.config["speaker_wav"], LINPHONE_HZ, 0.5), (lin.recording, OUR_HZ, 1.0)):
        rate, pcm = read_pcm(path)
        # Before ZRTP is secure nothing flows: count only the seconds with sound.
        seconds = [r for r in tone_seconds(pcm, freq, rate, skip_s=skip_s) if r.present()]
        assert len(seconds) >= CALL_S - 2, (path, tone_seconds(pcm, freq, rate, skip_s=skip_s))
        snrs = sorted(r.snr_db for r in seconds)
        assert snrs[len(snrs) // 2] >= MIN_SNR_DB, (path, snrs)


@pytest.mark.parametrize("agreement", ["X255", "DH3k"])
@pytest.mark.parametrize("direction", ["we_call", "linphone_calls"])
def test_zrtp_call_between_our_handset_and_linphone(tmp_path, kamailio, pki, direction, agreement):
    lin = start_linphone(tmp_path, kamailio, pki, agreement)
    try:
        alice = start_alice(tmp_path, kamailio, pki)
        try:
            secure, ended, their_sas = zrtp_call(alice, lin, direction, 1)
        finally:
            alice.stop()
    finally:
        lin.stop()
    check_secure(secure, agreement, their_sas)
    assert not secure["cache_matched"], secure  # a first meeting: nothing retained yet
    check_media(ended)
    check_tones(alice, lin)


def test_second_call_matches_the_retained_secret(tmp_path, kamailio, pki):
    # Same linphone HOME (its ZRTP cache) and same handset storage (its
    # simulated NVS): the rs1 both kept from the first call must match.
    lin = start_linphone(tmp_path, kamailio, pki, "X255")
    try:
        alice = start_alice(tmp_path, kamailio, pki)
        try:
            calls = [zrtp_call(alice, lin, direction, n)
                     for n, direction in ((1, "we_call"), (2, "linphone_calls"))]
            warnings = alice.find_events("zrtp_warning")
        finally:
            alice.stop()
    finally:
        lin.stop()
    (first, ended1, sas1), (second, ended2, sas2) = calls
    check_secure(first, "X255", sas1)
    check_secure(second, "X255", sas2)
    assert not first["cache_matched"], first
    assert second["cache_matched"], "the retained secret did not match in the second call: %r" % second
    assert not warnings, warnings  # no "Keys changed" either
    check_media(ended1)
    check_media(ended2)


def test_a_default_handset_offers_zrtp_without_keys_to_a_peer_that_requires_it(tmp_path, kamailio, pki):
    # The default configuration offers ZRTP first with no SDES keys in SIP:
    # linphone with ZRTP mandatory (which refuses an offer with SDES keys
    # with 488) takes the first offer, and the call is ZRTP-secure as above.
    lin = start_linphone(tmp_path, kamailio, pki, "X255")
    try:
        alice = start_alice(tmp_path, kamailio, pki, zrtp_only=False)
        try:
            secure, ended, their_sas = zrtp_call(alice, lin, "we_call", 1)
            again = alice.find_events("offer_again")
        finally:
            alice.stop()
    finally:
        lin.stop()
    assert again == [], again  # one offer, accepted
    check_secure(secure, "X255", their_sas)
    check_media(ended)
    check_tones(alice, lin)
