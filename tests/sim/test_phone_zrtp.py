"""ZRTP between phone-app handsets (the default media security), through
Kamailio over TLS: both show "ZRTP" and the same SAS on the status line,
with Confirm/Reject soft keys; audio flows once secure (1 kHz, SNR >= 30
dB) and DTMF too; a confirmed SAS is remembered ("verified" on the next call, the
retained secret matched); Reject ends the call; a peer whose retained
secret is gone raises the key-change warning."""
import json
import time

import pytest

from tests.sim.phone_lab import WAIT_S, speaker_pcm, tone_in

pytestmark = pytest.mark.slow


def call(caller, callee, n, n_callee=None):
    """caller dials callee, callee answers; the n-th "secure" events of
    both (n_callee for a callee that has had fewer calls)."""
    m = n if n_callee is None else n_callee
    caller.send("dial %s" % callee.name)
    callee.wait_event("incoming", WAIT_S, count=m)
    callee.key("SOFT1")
    first = caller.wait_event("in_call", WAIT_S, count=n)
    assert first["security"] == "zrtp" and first["label"] == "ZRTP: securing..."
    return caller.wait_event("secure", WAIT_S, count=n), callee.wait_event("secure", WAIT_S, count=m)


def forget_peers(handset):
    """Remove the retained secrets from a stopped handset's secrets store
    (its simulated NVS), keeping its own ZID: as if its cache was lost."""
    path = handset.config["root"] + "/nvs/hush_sip.json"
    with open(path) as f:
        data = json.load(f)
    kept = {k: v for k, v in data["entries"].items() if not k.startswith("p")}
    assert "zid" in kept and len(kept) < len(data["entries"])
    data["entries"] = kept
    with open(path, "w") as f:
        json.dump(data, f)


def test_sas_confirmed_then_remembered_then_keys_changed(lab):
    alice, bob = lab.handset("alice"), lab.handset("bob")
    a, b = call(alice, bob, 1)
    assert a["sas"] == b["sas"] and len(a["sas"]) == 4
    assert not a["verified"] and not b["verified"] and not a["cache_matched"]
    assert a["agreement"] == "X255" and a["suite"].startswith("AES_CM_128_HMAC_SHA1_")
    screen = alice.stats()["screen"]
    assert screen[0] == "Ready | ZRTP SAS %s" % a["sas"]
    assert screen[-1].split() == ["Confirm", "Reject", "End"]
    time.sleep(1.5)
    alice.key("SOFT1")  # both read the SAS aloud and confirm it
    bob.key("SOFT1")
    assert alice.wait_event("sas_confirmed", WAIT_S)["sas"] == a["sas"]
    bob.wait_event("sas_confirmed", WAIT_S)
    screen = alice.stats()["screen"]
    assert "ZRTP %s (verified)" % a["sas"] in " ".join(screen)
    assert screen[-1].split() == ["Hold", "Mute", "End"]
    for k in "42":  # DTMF rides the ZRTP-keyed SRTP stream too
        alice.key(k)
    assert [bob.wait_event("dtmf", WAIT_S, count=i)["key"] for i in (1, 2)] == ["4", "2"]
    alice.key("SOFT3")
    bob.wait_event("ended", WAIT_S)

    # The next call: the retained secret matches, the peer is verified.
    a2, b2 = call(alice, bob, 2)
    assert a2["verified"] and b2["verified"] and a2["cache_matched"] and b2["cache_matched"]
    assert alice.stats()["screen"][-1].split() == ["Hold", "Mute", "End"]  # nothing to confirm
    bob.key("SOFT3")
    alice.wait_event("ended", WAIT_S, count=2)

    bob.stop()
    heard = speaker_pcm(bob)
    r = tone_in(heard, 0.4, 1.4)  # the first call, once ZRTP was secure
    assert r.present() and r.snr_db >= 30.0, r

    # Bob loses his retained secrets: Alice is warned that keys changed.
    forget_peers(bob)
    bob = lab.handset("bob")
    a3, b3 = call(alice, bob, 3, 1)
    warning = alice.wait_event("zrtp_warning", WAIT_S)
    assert warning["text"] == "Keys changed: verify the SAS"
    assert not a3["verified"] and not a3["cache_matched"]
    screen = alice.stats()["screen"]
    assert screen[4:6] == ["! Keys changed: verify", "the SAS"]  # wrapped on the 24-character screen
    assert screen[-1].split() == ["Confirm", "Reject", "End"]
    alice.key("SOFT3")


def test_sas_rejected_ends_the_call(lab):
    carol, dave = lab.handset("carol"), lab.handset("dave")
    c, d = call(carol, dave, 1)
    assert c["sas"] == d["sas"]
    dave.key("SOFT2")  # Reject: the SAS read aloud did not match
    assert dave.wait_event("sas_rejected", WAIT_S)["sas"] == d["sas"]
    assert dave.wait_event("ended", WAIT_S)["reason"] == "SAS rejected"
    assert carol.wait_event("ended", WAIT_S)["reason"] == "ended by peer"
