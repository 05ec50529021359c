"""Calls without a proxy: two simulated handsets (the phone app on the
MicroPython unix port) call each other directly over mutual TLS, as
`hushctl demo` does when Kamailio is not installed. Bob listens
(listen_port) with his certificate from the lab CA and takes only callers
whose certificate that CA signed; Alice calls him there (register: false)
with hers. Neither registers.

Proven here: the call works end to end (ZRTP keys, the tone both ways); a
caller without a certificate, or with one from another CA, never reaches
Bob (his phone does not ring, the caller's call fails); and the demo falls
back to the direct call when Kamailio cannot be found."""
import os
import time

import pytest

from hushctl.lab import LabError, LabPki, free_tcp_port
from hushctl.sim import SimHandset, write_config
from tests.hil.simdut import read_pcm, tone_seconds

pytestmark = pytest.mark.slow

WAIT_S = 30.0
HOST = "localhost"


def handset(tmp_path, pki, name, tone_hz, identity_pki=None, **network):
    """A direct-mode handset: the lab CA as its trust anchor and, unless
    identity_pki is False, a certificate of its own (from identity_pki or
    the lab CA)."""
    config = {"name": name, "root": str(tmp_path / name), "ca_der": [str(pki.ca_der)],
              "account": {"registrar": "sip:" + HOST, "user": name, "password": ""},
              "media_host": "127.0.0.1", "tone_hz": tone_hz, "speaker_wav": str(tmp_path / ("%s.wav" % name))}
    if identity_pki is not False:
        cert, key = (identity_pki or pki).handset_identity("%s.%s" % (name, HOST))
        config.update({"tls_cert_der": str(cert), "tls_key_der": str(key)})
    config.update(network)
    return SimHandset(write_config(tmp_path / ("%s.json" % name), config))


def caller_to(port):
    return {"register": False, "proxy_host": "127.0.0.1", "proxy_port": port, "server_hostname": "bob." + HOST}


def test_a_direct_call_over_mutual_tls_carries_the_tone_both_ways(tmp_path):
    pki = LabPki(tmp_path / "pki")
    port = free_tcp_port()
    bob = handset(tmp_path, pki, "bob", 1500, listen_port=port)
    alice = handset(tmp_path, pki, "alice", 1000, **caller_to(port))
    try:
        assert bob.wait_event("direct", WAIT_S)["listen_port"] == port
        alice.wait_event("direct", WAIT_S)
        alice.send("dial bob")
        assert bob.wait_event("incoming", WAIT_S)["peer"] == "alice"
        bob.send("answer")
        in_call = alice.wait_event("in_call", WAIT_S)
        assert in_call["security"] == "zrtp", in_call
        secure = [h.wait_event("secure", WAIT_S) for h in (alice, bob)]
        assert secure[0]["sas"] == secure[1]["sas"], secure
        assert bob.stats()["screen"][0] == "Direct | ZRTP SAS %s" % secure[1]["sas"], bob.stats()["screen"]
        time.sleep(3)
        bob.send("hangup")  # the listening side ends it: requests flow both ways on one connection
        assert alice.wait_event("ended", WAIT_S)["reason"] == "ended by peer"
        bob.wait_event("ended", WAIT_S)
    finally:
        alice.stop()
        bob.stop()
    for path, freq in ((tmp_path / "bob.wav", 1000), (tmp_path / "alice.wav", 1500)):
        rate, pcm = read_pcm(path)
        heard = [r for r in tone_seconds(pcm, freq, rate, skip_s=0.5) if r.present()]
        assert len(heard) >= 2 and min(r.snr_db for r in heard) >= 30.0, (path, heard)


@pytest.mark.parametrize("identity", ["none", "other CA"])
def test_a_caller_without_a_certificate_from_the_ca_never_reaches_the_handset(tmp_path, identity):
    pki = LabPki(tmp_path / "pki")
    port = free_tcp_port()
    bob = handset(tmp_path, pki, "bob", 1500, listen_port=port)
    stranger = False if identity == "none" else LabPki(tmp_path / "other-pki")
    mallory = handset(tmp_path, pki, "alice", 1000, identity_pki=stranger, **caller_to(port))
    try:
        bob.wait_event("direct", WAIT_S)
        mallory.wait_event("direct", WAIT_S)
        mallory.send("dial bob")
        lost = mallory.wait_event("connection_lost", WAIT_S)
        assert "certificate" in lost["reason"], lost
        ended = mallory.wait_event("ended", WAIT_S)
        assert ended["kind"] == "failed", ended  # the INVITE failed locally (503): it never left
        assert bob.find_events("incoming") == []  # his phone never rang
        assert bob.stats()["state"] == "idle"  # and he still takes calls
    finally:
        mallory.stop()
        bob.stop()


def test_the_demo_calls_directly_when_kamailio_is_missing(monkeypatch, capsys):
    from hushctl.commands import demo

    def no_kamailio():
        raise LabError("Kamailio is not installed: run `make system-packages` (Debian kamailio)")

    monkeypatch.setattr(demo, "find_kamailio", no_kamailio)
    rows, elapsed, lab_dir = demo.run_demo(seconds=1.5, quiet=True)
    story = capsys.readouterr().err
    assert all(r["arrived"] and r["snr_db"] >= 30.0 for r in rows), rows
    assert "Kamailio is not installed, so the handsets call each other directly" in story, story
    assert "[bob] Takes calls directly on tls:127.0.0.1:" in story, story
    assert "Registered" not in story
    assert not os.path.exists(lab_dir)
