"""Calls through a TURN relay (coturn, over UDP and over TLS) with linphone, both ways, through Kamailio
over TLS, on distinct loopback addresses: our handset's media on
127.0.0.2, the relay on 127.0.0.3, linphone on 127.0.0.1. The handset
allocates a relayed address before its offer (or its answer), which
carries that address only: Kamailio's log of the SIP (what the peer and its provider
get) never shows 127.0.0.2. ZRTP goes secure through the relay (the SAS
matches linphone's) and the tone crosses both ways: linphone only knows the
relay's address, so what it hears came through the relay; and the relay
(coturn) counted the call's packets both ways in its session log."""
import re
import time

import pytest

from hushctl.sim import SimHandset
from tests.hil.simdut import handset_config
from tests.sim.conftest import USERS
from tests.sim.coturn import Coturn
from tests.sim.test_offer_policy import sip_of_call
from tests.sim.test_phone_zrtp_linphone import (CALL_S, OUR_HZ, WAIT_S, check_media, check_tones,
                                                start_linphone, zrtp_call)

pytestmark = pytest.mark.slow

HANDSET, RELAY = "127.0.0.2", "127.0.0.3"


@pytest.mark.parametrize("direction,transport", [("we_call", "udp"), ("linphone_calls", "udp"), ("we_call", "tls")])
def test_zrtp_call_with_linphone_through_the_relay(tmp_path, kamailio, pki, direction, transport):
    mark = len(kamailio.received())
    with Coturn(tmp_path / "coturn", (pki.server.cert_pem, pki.server.key_pem), host=RELAY) as turn:
        lin = start_linphone(tmp_path, kamailio, pki, "X255")
        try:
            config = handset_config(
                tmp_path / "handsets", "alice", USERS["alice"], kamailio, pki.ca.cert_der, tone_hz=OUR_HZ,
                media_host=HANDSET, turn_server_hostname="localhost",  # (the name on the relay's certificate)
                turn={"uri": "turn:%s:%d?transport=udp" % (RELAY, turn.udp_port) if transport == "udp" else
                      "turns:%s:%d" % (RELAY, turn.tls_port), "user": turn.user, "password": turn.password})
            alice = SimHandset(config)
            try:
                alice.wait_event("registered", WAIT_S)
                secure, ended, their_sas = zrtp_call(alice, lin, direction, 1)
                alice.send("report")
                report = alice.wait_event("report", WAIT_S, fail_on=())
            finally:
                alice.stop()
        finally:
            lin.stop()
        # The allocation was freed (Refresh, lifetime 0): coturn logs the
        # session's packet counts as it deletes it, within a few seconds.
        deadline = time.monotonic() + 10
        while "rp=" not in turn.log_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        log = turn.log_text()
    assert secure["sas"].lower() == their_sas.lower(), (secure, their_sas)
    check_media(ended)
    check_tones(alice, lin)
    # What the peer and the providers saw: the relay's address, never ours.
    sip = sip_of_call(kamailio.received()[mark:], "lin" if direction == "we_call" else "alice")
    ours = [t for t in sip if ("INVITE " if direction == "we_call" else "SIP/2.0 200") in t.split("\r\n", 1)[0]
            and "m=audio" in t]
    assert ours and all("c=IN IP4 %s" % RELAY in t for t in ours), sip
    assert not [t for t in sip if HANDSET in t], "the handset's address reached the SIP path"
    # coturn relayed the call's packets both ways (its session summary).
    sessions = re.findall(r"rp=(\d+), rb=\d+, sp=(\d+)", log)
    assert sessions and max(int(rp) for rp, _sp in sessions) >= 50 * (CALL_S - 1), log[-2000:]
    assert max(int(sp) for _rp, sp in sessions) >= 50 * (CALL_S - 1), log[-2000:]
    assert report["peer"]["media_address"] == "the relay's (%s)" % RELAY, report


def test_a_relay_whose_certificate_is_refused_makes_no_call(tmp_path, kamailio, pki):
    # TURN over TLS checks the relay's certificate like the proxy's: under
    # another name it is refused, and no call is made (none that would
    # show the handset's address either).
    with Coturn(tmp_path / "coturn", (pki.server.cert_pem, pki.server.key_pem), host=RELAY) as turn:
        config = handset_config(
            tmp_path / "handsets", "alice", USERS["alice"], kamailio, pki.ca.cert_der, media_host=HANDSET,
            turn_server_hostname="relay.example.net",
            turn={"uri": "turns:%s:%d" % (RELAY, turn.tls_port), "user": turn.user, "password": turn.password})
        alice = SimHandset(config)
        try:
            alice.wait_event("registered", WAIT_S)
            alice.send("dial lin")
            refused = alice.wait_event("refused", WAIT_S, fail_on=())
            ended = alice.wait_event("ended", WAIT_S, fail_on=())
        finally:
            alice.stop()
    assert refused["reason"].startswith("TURN relay: TLS to the TURN server failed"), refused
    assert ended["kind"] == "failed" and ended["reason"] == "no TURN relay", ended
    assert not alice.find_events("calling")
