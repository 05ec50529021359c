"""Privacy settings where users set them, end to end (handsets on the
MicroPython unix port, the lab's Kamailio over TLS): caller-ID withholding
from phone.json; a 16-column display (the 128-pixel SSD1306 boards) shows
the whole SAS and every setting's state; a refused server certificate is
reported as exactly that, never as a server status."""
import pytest

from tests.sim.phone_lab import WAIT_S

pytestmark = pytest.mark.slow


def test_a_refused_server_certificate_is_said_as_such(lab):
    # Kamailio's certificate is for "localhost": checked against another
    # name, our TLS refuses it before a single SIP byte goes out.
    alice = lab.handset("alice", register=False, server_hostname="sip.example.net", display_width=16)
    failed = alice.wait_event("registration_failed", WAIT_S, fail_on=())
    assert failed["status"] is None and failed["cause"] == "certificate", failed
    assert failed["reason"].startswith("server certificate refused (hostname)"), failed
    assert alice.stats()["screen"][0] == "Cert refused"
    assert not [e for e in alice.events if e.get("status") == 503], alice.events


def test_withheld_caller_id_and_the_sas_on_a_16_column_display(lab):
    alice = lab.handset("alice", withhold_caller_id=True, display_width=16)
    bob = lab.handset("bob", display_width=16)
    alice.send("dial bob")
    incoming = bob.wait_event("incoming", WAIT_S)
    assert incoming["peer"] != "alice", incoming  # RFC 3323: the peer does not learn who calls
    assert alice.wait_event("calling", WAIT_S)["anonymous"] is True
    bob.key("SOFT1")
    secure = alice.wait_event("secure", WAIT_S, fail_on=("refused", "ended"))
    sas = secure["sas"]
    for h in (alice, bob):
        screen = h.stats()["screen"]
        assert screen[0] == "ZRTP %s?" % sas, screen  # the whole SAS on the status line
        assert "ZRTP SAS %s" % sas in screen, screen
    alice.key("SOFT3")
    bob.wait_event("ended", WAIT_S)
    # Settings on 16 columns: each state readable.
    for key in ("MENU", "DOWN", "DOWN", "OK"):
        alice.key(key)
    screen = alice.stats()["screen"]
    assert screen[1:5] == ["Settings", "> Hide my ID: on", "  SDES: allowed", "  Relay: off"], screen
