"""Call waiting, decline, busy and hold/resume between phone-app handsets
through Kamailio over TLS: a second call rings as "waiting" beside an
active one; Decline sends 603; answering it holds the first call
(re-INVITE sendonly) and switches; a third caller gets 486; hanging up
returns to the held call; each hold/resume is a
re-INVITE the other handset answers, and media flows again after it."""
import time

import pytest

from hushphone.audio.tone import measure
from tests.sim.phone_lab import WAIT_S, speaker_pcm

pytestmark = pytest.mark.slow


def secure(a, b, count=1):
    """Both handsets finished the ZRTP key agreement (the default) of
    their count-th call and show the same SAS."""
    counts = count if isinstance(count, tuple) else (count, count)
    sas = [h.wait_event("secure", WAIT_S, count=n)["sas"] for h, n in zip((a, b), counts)]
    assert sas[0] == sas[1], sas


def received(handset, peer):
    for line in handset.stats()["lines"]:
        if line["peer"] == peer:
            return line["media"]["received"]
    raise AssertionError("%s has no call with %s" % (handset.name, peer))


def flowing(handset, peer, seconds=1.0):
    """Packets from `peer` keep arriving at `handset`."""
    before = received(handset, peer)
    time.sleep(seconds)
    return received(handset, peer) - before >= 25 * seconds


def test_call_waiting_decline_answer_switch_and_return(lab):
    alice, bob, carol, dave = (lab.handset(n) for n in ("alice", "bob", "carol", "dave"))
    alice.send("dial bob")
    bob.wait_event("incoming", WAIT_S)
    bob.key("OFFHOOK")
    alice.wait_event("in_call", WAIT_S)
    secure(alice, bob)

    # Carol calls: it waits beside Alice's call; Bob declines (603).
    carol.send("dial bob")
    waiting = bob.wait_event("incoming", WAIT_S, count=2)
    assert waiting == {"event": "incoming", "peer": "carol", "waiting": True}
    screen = bob.stats()["screen"]
    assert "+ carol: waiting" in screen and screen[-1].split() == ["Answer", "Decline"]
    time.sleep(0.5)  # the waiting beep plays in Bob's earpiece meanwhile
    bob.key("SOFT2")
    assert carol.wait_event("ended", WAIT_S)["reason"] == "declined"
    assert flowing(bob, "alice")  # still talking to Alice

    # Carol again; this time Bob answers: Alice is held, Bob talks to Carol.
    carol.send("dial bob")
    bob.wait_event("incoming", WAIT_S, count=3)
    bob.key("SOFT1")
    carol.wait_event("in_call", WAIT_S, count=1)
    secure(carol, bob, count=(1, 2))
    held = alice.wait_event("held", WAIT_S)
    assert held["by"] == "peer" and held["peer"] == "bob"
    assert "held by peer" in " ".join(alice.stats()["screen"])
    stats = bob.stats()
    assert [(l["peer"], l["state"]) for l in stats["lines"]] == [("alice", "held"), ("carol", "in_call")]
    assert flowing(bob, "carol")
    assert flowing(carol, "bob")

    # Both lines busy: a third caller gets 486 Busy Here, nothing rings.
    dave.send("dial bob")
    assert dave.wait_event("ended", WAIT_S)["reason"] == "busy"
    assert bob.wait_event("ended", WAIT_S, count=2)["kind"] == "busy"
    assert len(bob.find_events("incoming")) == 3

    # Bob hangs up on Carol: back to Alice, resumed by a re-INVITE.
    bob.key("SOFT3")
    assert carol.wait_event("ended", WAIT_S, count=2)["reason"] == "ended by peer"
    assert alice.wait_event("resumed", WAIT_S)["by"] == "peer"
    assert [(l["peer"], l["state"]) for l in bob.stats()["lines"]] == [("alice", "in_call")]
    assert flowing(bob, "alice") and flowing(alice, "bob")

    alice.key("ONHOOK")
    assert bob.wait_event("ended", WAIT_S, count=4)["peer"] == "alice"
    kinds = [e["kind"] for e in bob.find_events("ended")]
    assert kinds == ["declined", "busy", "in", "in"]

    # The call log (soft key Log), newest first; then Settings > Clear call log.
    bob.key("SOFT2")
    screen = bob.stats()["screen"]
    assert screen[1] == "Call log"
    assert [line[2:5] for line in screen[2:6]] == ["< a", "< c", "b d", "x c"], screen
    bob.key("BACK")
    bob.keys("SOFT1,DOWN,DOWN,OK,DOWN,DOWN,DOWN,OK")  # Menu, Settings, Clear call log
    bob.wait_event("calllog_cleared", WAIT_S)
    bob.keys("BACK,BACK,SOFT2")
    deadline = time.monotonic() + WAIT_S
    while bob.stats()["screen"][1:3] != ["Call log", "(empty)"]:
        assert time.monotonic() < deadline, bob.stats()["screen"]
        time.sleep(0.1)

    # Bob's earpiece: Alice's 1 kHz, and the 440 Hz call-waiting beep
    # (200 ms, in place of the call's audio) while Carol waited.
    bob.stop()
    pcm = speaker_pcm(bob)
    frames = [pcm[i:i + 320] for i in range(0, len(pcm) - 319, 320)]
    beeps = [f for f in frames if measure(f, 440).snr_db > 20]
    assert 8 <= len(beeps) <= 40, len(beeps)  # 10 frames a beep, a beep per waiting call (and per 3 s)
    assert sum(1 for f in frames if measure(f, 1000).snr_db > 20) > 5 * len(beeps)


def test_hold_and_resume(lab):
    alice, bob = lab.handset("alice"), lab.handset("bob")
    bob.send("dial alice")
    alice.wait_event("incoming", WAIT_S)
    alice.key("SOFT1")
    bob.wait_event("in_call", WAIT_S)
    secure(alice, bob)
    assert flowing(alice, "bob")

    bob.key("HOLD")
    assert bob.wait_event("held", WAIT_S)["by"] == "us"
    assert alice.wait_event("held", WAIT_S)["by"] == "peer"
    assert bob.stats()["screen"][-1].split()[0] == "Resume"
    time.sleep(0.5)
    assert not flowing(bob, "alice")  # Alice answered recvonly: she stopped sending

    bob.key("SOFT1")  # Resume
    assert bob.wait_event("resumed", WAIT_S)["by"] == "us"
    assert alice.wait_event("resumed", WAIT_S)["by"] == "peer"
    assert flowing(bob, "alice") and flowing(alice, "bob")
    bob.key("SOFT3")
    assert alice.wait_event("ended", WAIT_S)["reason"] == "ended by peer"
