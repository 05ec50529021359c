"""The phone app survives failures end to end: two simulated handsets (the
app on the MicroPython unix port) registered at Kamailio over TLS. A
MemoryError injected into Alice's media handling mid-call (the app's test
hook, on only with "test_hooks" in the config) ends that call with a BYE
that Bob receives, Alice's screen says "Call failed: out of memory" and
she stays registered; her next call works. Then failures in her main loop
repeat until the supervisor re-initialises SIP: she registers again over
a new TLS connection and calls once more."""
import time

import pytest

from hushctl.sim import SimHandset
from tests.hil.simdut import handset_config
from tests.sim.conftest import USERS

pytestmark = pytest.mark.slow

WAIT_S = 60.0


def call(alice, bob, n):
    """Alice's n-th call to Bob, answered, with audio flowing both ways."""
    alice.send("dial bob")
    bob.wait_event("incoming", WAIT_S, count=n)
    bob.send("answer")
    alice.wait_event("in_call", WAIT_S, count=n)
    alice.wait_event("secure", WAIT_S, count=n)
    bob.wait_event("secure", WAIT_S, count=n)
    for _ in range(100):  # bounded: ~10 s
        lines = alice.stats()["lines"]
        if lines and lines[0]["media"] and lines[0]["media"]["received"] >= 25:
            break
        time.sleep(0.1)
    assert lines[0]["media"]["received"] >= 25, lines


def test_a_fault_ends_the_call_not_the_phone(tmp_path, kamailio, pki):
    alice = SimHandset(handset_config(tmp_path, "alice", USERS["alice"], kamailio, pki.ca.cert_der,
                                      test_hooks=True))
    bob = SimHandset(handset_config(tmp_path, "bob", USERS["bob"], kamailio, pki.ca.cert_der, tone_hz=1500))
    try:
        alice.wait_event("registered", WAIT_S)
        bob.wait_event("registered", WAIT_S)
        call(alice, bob, 1)

        alice.send("inject media")  # the next tick's packet handling runs out of memory
        ended = alice.wait_event("ended", WAIT_S)
        assert ended["reason"] == "out of memory" and ended["stats"]["received"] >= 25, ended
        fault = alice.find_events("fault")[0]
        assert (fault["where"], fault["error"], fault["reason"]) == ("media", "MemoryError", "out of memory")
        assert bob.wait_event("ended", WAIT_S)["reason"] == "ended by peer"  # Alice's BYE arrived
        stats = alice.stats()
        assert stats["registration"] == "registered" and stats["lines"] == [], stats
        assert "bob: out of memory" in stats["screen"], stats["screen"]
        assert any(row.startswith("Call failed: out of mem") for row in stats["screen"]), stats["screen"]

        call(alice, bob, 2)  # the next call works
        alice.send("hangup")
        alice.wait_event("ended", WAIT_S, count=2)
        bob.wait_event("ended", WAIT_S, count=2)

        # Five failures of the main loop in a row: SIP is re-initialised
        # (after a backoff) and Alice registers again on a new connection.
        alice.send("inject loop 5")
        restart = alice.wait_event("sip_restart", WAIT_S)
        assert restart["after_ms"] == 1000
        alice.wait_event("registered", WAIT_S, count=2)
        assert len(alice.find_events("fault")) == 6
        call(alice, bob, 3)
        alice.send("hangup")
        bob.wait_event("ended", WAIT_S, count=3)
        assert alice.stop() == 0
    finally:
        alice.kill()
        bob.kill()
    text = "\n".join(alice.lines)
    assert "Traceback" not in text and "MemoryError:" not in text, text[-3000:]
    assert USERS["alice"] not in text  # no secret in anything the phone printed
