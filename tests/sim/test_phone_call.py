"""Two simulated handsets (the phone app on the MicroPython unix port) call
each other through Kamailio over TLS with SDES-SRTP, driven by key presses:
the 1 kHz tone each microphone plays is found in the other's speaker
(SNR >= 30 dB), DTMF keys pressed on one are reported by the other, mute
turns the far speaker silent while packets keep flowing, and the callee
hangs up."""
import time

import pytest

from tests.sim.phone_lab import WAIT_S, speaker_pcm, tone_in

pytestmark = pytest.mark.slow


def test_call_tone_both_ways_dtmf_mute_callee_hangs_up(lab, tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "contacts.vcf").write_text(
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bob \u00c5str\u00f6m\r\nTEL:bob\r\nEND:VCARD\r\n", encoding="utf-8")
    # SDES-SRTP here (ZRTP, the default, has its own test).
    alice = lab.handset("alice", zrtp=False)
    bob = lab.handset("bob", zrtp=False)

    # Alice: Menu (SOFT1), Contacts (OK), Bob (OK). Bob: Answer (SOFT1).
    alice.keys("SOFT1,OK,OK")
    incoming = bob.wait_event("incoming", WAIT_S)
    assert incoming["peer"] == "alice" and incoming["waiting"] is False
    assert "Incoming call" in bob.stats()["screen"]
    bob.key("SOFT1")
    a_in = alice.wait_event("in_call", WAIT_S)
    b_in = bob.wait_event("in_call", WAIT_S)
    for e in (a_in, b_in):
        assert e["security"] == "sdes" and e["label"] == "SRTP (provider can decrypt)"
        assert e["suite"] == "AES_CM_128_HMAC_SHA1_80" and e["ptime"] == 20 and e["dtmf"] is True
    assert a_in["local_port"] != b_in["local_port"] and a_in["ssrc"] != b_in["ssrc"]
    screen = alice.stats()["screen"]
    assert screen[0] == "Ready | SRTP*" and "Bob \u00c5str\u00f6m" in screen  # the contact's name

    time.sleep(2.5)
    for k in "19#":
        alice.key(k)
    keys = [bob.wait_event("dtmf", WAIT_S, count=i + 1)["key"] for i in range(3)]
    assert keys == ["1", "9", "#"]

    # Alice mutes: her packets keep coming (same rate), Bob hears silence.
    before = bob.stats()["lines"][0]["media"]["received"]
    alice.key("SOFT2")
    alice.wait_event("muted", WAIT_S)
    time.sleep(1.5)
    after = bob.stats()["lines"][0]["media"]["received"]
    assert after - before >= 50, (before, after)  # ~75 expected in 1.5 s

    bob.key("SOFT3")  # the callee hangs up
    a_end = alice.wait_event("ended", WAIT_S)
    b_end = bob.wait_event("ended", WAIT_S)
    assert a_end["reason"] == "ended by peer" and b_end["reason"] == "hung up"
    assert a_end["kind"] == "out" and b_end["kind"] == "in"
    for e in (a_end, b_end):
        assert e["stats"]["dropped_auth"] == 0 and e["stats"]["dropped_malformed"] == 0
    assert a_end["stats"]["dtmf_sent"] >= 3 * 5 and b_end["stats"]["dtmf_received"] >= 3 * 5
    alice.stop()
    bob.stop()

    heard_by_bob = speaker_pcm(bob)
    heard_by_alice = speaker_pcm(alice)
    total_bob = len(heard_by_bob) / 16000
    assert total_bob >= 4.0, total_bob
    # Alice -> Bob before the DTMF and the mute; silence in Bob's last second.
    r = tone_in(heard_by_bob, 0.4, 2.4)
    assert r.present() and r.snr_db >= 30.0, r
    assert tone_in(heard_by_bob, total_bob - 0.9, total_bob).level_dbfs < -60
    # Bob -> Alice all along (Bob never muted).
    r = tone_in(heard_by_alice, 0.4, len(heard_by_alice) / 16000)
    assert r.present() and r.snr_db >= 30.0, r
