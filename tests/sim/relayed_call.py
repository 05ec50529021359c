"""Two simulated handsets in a call whose media runs through the relay of
tests/sim/impair.py (Kamailio points both media streams at it): the set-up
the impairment and the bad-input tests share.

    with relayed_call(tmp_path, pki, users, relay, (1000, 1500), 30) as (alice, bob, answered):
        ...   # alice called bob, bob answered; `answered` is bob's in_call event

Both handsets are stopped, and Kamailio and the relay shut down, when the
block ends."""
import contextlib

from hushctl.sim import SimHandset
from tests.hil.simdut import handset_config
from tests.sim.impair import RelayingKamailio


@contextlib.contextmanager
def relayed_call(tmp_path, pki, users, relay, tones_hz, wait_s):
    handsets = []
    with relay, RelayingKamailio(tmp_path / "kamailio", pki, users, relay) as proxy:
        try:
            for name, tone in zip(("alice", "bob"), tones_hz):
                config = handset_config(tmp_path / "handsets", name, users[name], proxy, pki.ca.cert_der, tone_hz=tone)
                handsets.append(SimHandset(config))
            alice, bob = handsets
            for h in handsets:
                h.wait_event("registered", wait_s)
            alice.send("dial bob")
            bob.wait_event("incoming", wait_s)
            bob.send("answer")
            alice.wait_event("in_call", wait_s)
            yield alice, bob, bob.wait_event("in_call", wait_s)
        finally:
            for h in handsets:
                h.stop()
