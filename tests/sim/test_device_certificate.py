"""The handset's device certificate is a lasting identifier, so a
registering handset shows it to its proxy only when configured to
(mutual_tls: true). Against a real Kamailio that requires a client
certificate from the lab CA: without the setting the handset does not
send its certificate and is refused; with it, it registers."""
import pytest

from hushctl.lab import PROXY_HOST, LabPki, LabProxy
from hushctl.sim import SimHandset, write_config

pytestmark = pytest.mark.slow

WAIT_S = 30.0


def start_handset(tmp_path, pki, proxy, **extra):
    cert, key = pki.handset_identity("alice." + PROXY_HOST)
    config = {"name": "alice", "root": str(tmp_path / "alice"), "ca_der": [str(pki.ca_der)],
              "account": {"registrar": "sip:" + PROXY_HOST, "user": "alice", "password": "pa-" + tmp_path.name},
              "proxy_host": "127.0.0.1", "proxy_port": proxy.port, "server_hostname": PROXY_HOST,
              "tls_cert_der": str(cert), "tls_key_der": str(key), "media_host": "127.0.0.1"}
    config.update(extra)
    return SimHandset(write_config(tmp_path / "alice.json", config))


@pytest.mark.parametrize("mutual_tls", [False, True])
def test_the_device_certificate_goes_only_to_a_proxy_configured_for_it(tmp_path, mutual_tls):
    pki = LabPki(tmp_path / "pki")
    with LabProxy(tmp_path / "kamailio", pki, {"alice": "pa-" + tmp_path.name}, client_ca_pems=[pki.ca_pem],
                  require_client_cert=True) as proxy:
        alice = start_handset(tmp_path, pki, proxy, mutual_tls=mutual_tls)
        try:
            if mutual_tls:
                assert alice.wait_event("registered", WAIT_S)["aor"] == "sip:alice@" + PROXY_HOST
            else:
                lost = alice.wait_event("connection_lost", WAIT_S, fail_on=("registered",))
                assert "client certificate" in lost["reason"], lost
                assert alice.find_events("registered") == []
        finally:
            alice.stop()
