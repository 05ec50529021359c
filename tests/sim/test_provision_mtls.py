"""A handset provisioned with `hushctl provision --sim` registers over mutual
TLS with a real Kamailio that requires client certificates from the maker's
issuing CA. The handset is the firmware's SIP user agent on the MicroPython
unix port, and it takes everything (client certificate and key, trusted CAs,
SIP account) from its provisioned NVS storage. A handset provisioned from
another maker's hierarchy is refused by the same Kamailio, and so is a
revoked handset once Kamailio loads the maker's device CRL."""
import types

import pytest

from tests.host.provision_helpers import hushctl, ok, passphrase_file, sim_namespace
from tests.sim.conftest import USERS
from tests.sim.kamailio import Kamailio
from tests.support.runtimes import run_micropython

# The boot path of a simulated handset, reduced to registration: read the
# provisioned identity, trust anchors and account from NVS, register, unregister.
AGENT = r"""
import sys
import asyncio
from hushphone import storage_layout as L
from hushphone.hal.unix.nvs import Nvs
from hushphone.crypto.random import random_bytes
from hushphone.sip import events
from hushphone.sip.transport import SipTlsTransport, make_tls_context
from hushphone.sip.useragent import UaConfig, UserAgent

root, port = sys.argv[1], int(sys.argv[2])
buf = bytearray(4096)

def blob(namespace, key):
    return bytes(buf[:Nvs(root, namespace).get_blob(key, buf)])

cas = []
for i in range(L.MAX_CA):
    try:
        cas.append(blob(L.NS_TRUST, L.ca_key(i)))
    except OSError as e:
        if not L.is_missing(e):
            raise
        break
user = blob(L.NS_SIP, L.KEY_SIP_USER).decode()
password = blob(L.NS_SIP, L.KEY_SIP_PASSWORD).decode()
ctx = make_tls_context(cas, blob(L.NS_IDENTITY, L.KEY_DEV_CERT), blob(L.NS_IDENTITY, L.KEY_DEV_KEY))
print("CAS", len(cas))
ua = UserAgent(UaConfig("sip:%s@localhost" % user, user, password, expires=300, backoff_base=500), random_bytes)
seen = []
flag = asyncio.Event()

def on_event(ev):
    print("EVENT", type(ev).__name__, getattr(ev, "status", ""), str(getattr(ev, "reason", "")).replace(" ", "_"))
    seen.append(ev)
    flag.set()

transport = SipTlsTransport(ua, "127.0.0.1", port, ctx, "localhost", on_event=on_event)

async def wait(kinds):
    while True:
        for ev in seen:
            if isinstance(ev, kinds):
                seen.remove(ev)
                return ev
        flag.clear()
        await flag.wait()

async def script():
    ua.register(transport.now())
    transport.wakeup()
    ev = await wait((events.Registered, events.RegistrationFailed))
    if isinstance(ev, events.Registered):
        ua.unregister(transport.now())
        transport.wakeup()
        await wait(events.Unregistered)

async def main():
    runner = asyncio.create_task(transport.run())
    try:
        await asyncio.wait_for(script(), 30)
        print("DONE")
    except asyncio.TimeoutError:
        print("TIMEOUT")
    transport.stop()
    await runner

asyncio.run(main())
"""


def _provision(base, keys_name, pki, sim):
    pw = base / "passphrase.txt"
    (base / "sip-password").write_text(USERS["carol"] + "\n")
    ok(hushctl("provision", "--keys", base / keys_name, "--passphrase-file", pw, "--board", "sim", "--sim", sim,
               "--server-ca", pki.ca.cert_pem, "--sip-registrar", "sips:localhost", "--sip-user", "carol",
               "--sip-password-file", base / "sip-password"))


def _register(tmp_path, sim, kamailio):
    agent = tmp_path / "handset_agent.py"
    agent.write_text(AGENT)
    result = run_micropython([str(agent), str(sim), str(kamailio.port)], timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def makers(tmp_path_factory):
    base = tmp_path_factory.mktemp("mtls")
    pw = passphrase_file(base)
    ok(hushctl("keys", "init", base / "maker", "--passphrase-file", pw, "--ota-scheme", "ecdsa256"))
    ok(hushctl("keys", "init", base / "stranger", "--passphrase-file", pw, "--ota-scheme", "ecdsa256"))
    return base


def test_provisioned_sim_handset_registers_over_mutual_tls(makers, pki, tmp_path):
    sim = tmp_path / "handset"
    _provision(makers, "maker", pki, sim)
    stranger = tmp_path / "stranger-handset"
    _provision(makers, "stranger", pki, stranger)
    assert sim_namespace(sim, "hush_sip")["user"] == b"carol"
    # Kamailio trusts the maker's issuing CA (and its root) for client certificates only.
    client_cas = [types.SimpleNamespace(cert_pem=makers / "maker" / name) for name in ("issuing-ca.pem", "root-ca.pem")]
    with Kamailio(tmp_path / "kamailio", pki, USERS, require_client_cert=True, client_cas=client_cas) as k:
        out = _register(tmp_path, sim, k)
        assert "CAS 2" in out  # the SIP server CA and the fleet CA
        assert "EVENT Registered" in out and "EVENT Unregistered" in out and "DONE" in out, out
        registers = [m for m in k.received() if m.startswith(b"REGISTER ")]
        assert any(b'username="carol"' in m for m in registers)

        before = len(k.received())
        refused = _register(tmp_path, stranger, k)
        assert "EVENT Registered" not in refused and "EVENT RegistrationFailed" in refused, refused
        assert len(k.received()) == before  # the TLS handshake failed: Kamailio saw no SIP at all


class KamailioWithCrl(Kamailio):
    """The shared harness plus a CRL for client certificates in its TLS
    configuration (Kamailio's tls module then checks the peer's status)."""

    def __init__(self, *args, crl=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.crl = crl

    def _write_config(self):
        cfg = super()._write_config()
        tls_cfg = self.run_dir / "tls.cfg"
        text = tls_cfg.read_text()
        head, sep, rest = text.partition("[client:default]")
        tls_cfg.write_text(head.rstrip("\n") + "\ncrl = %s\n\n" % self.crl + sep + rest)
        return cfg


def test_revoked_handset_is_refused_with_the_device_crl(makers, pki, tmp_path):
    keep, revoke = tmp_path / "keep", tmp_path / "revoked"
    _provision(makers, "maker", pki, keep)
    _provision(makers, "maker", pki, revoke)
    from tests.host.provision_helpers import sim_device_cert
    from cryptography.x509.oid import NameOID

    serial = sim_device_cert(revoke).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    ok(hushctl("provision", "revoke", serial, "--keys", makers / "maker", "--passphrase-file", makers / "passphrase.txt"))
    # Kamailio checks the whole chain: the issuing CA's CRL and the root's.
    revocation = makers / "maker" / "revocation"
    crl = tmp_path / "crls.pem"
    crl.write_bytes((revocation / "issuing-ca.crl.pem").read_bytes() + (revocation / "root-ca.crl.pem").read_bytes())
    client_cas = [types.SimpleNamespace(cert_pem=makers / "maker" / name) for name in ("issuing-ca.pem", "root-ca.pem")]
    with KamailioWithCrl(tmp_path / "kamailio", pki, USERS, require_client_cert=True, client_cas=client_cas,
                         crl=crl) as k:
        assert "crl = " in (k.run_dir / "tls.cfg").read_text()
        refused = _register(tmp_path, revoke, k)
        assert "EVENT Registered" not in refused and "EVENT RegistrationFailed" in refused, refused
        assert k.received() == []
        out = _register(tmp_path, keep, k)
        assert "EVENT Registered" in out and "DONE" in out, out
