"""The SIP/TLS client on the MicroPython unix port frees every socket: a
handshake refused (the server's certificate from a CA the phone does not
trust, or the server hanging up on a phone without a client certificate)
and a closed port each cost no descriptor, however often they happen
(MicroPython's TLS socket does not close the socket under it after a
failed handshake; the transport closes that one itself). Counted from
/proc/self/fd of the MicroPython process, 20 attempts each."""
import json
import socket
import ssl
import threading

from hushctl.lab import free_tcp_port
from tests.sim.pki import TestPki
from tests.support.runtimes import run_micropython

SCRIPT = """
import asyncio, json, os, sys
from hushphone.sip.transport import SipTlsTransport, TransportError, make_tls_context
cfg = json.loads(sys.argv[1])
with open(cfg["ca"], "rb") as f:
    ca = f.read()
class Ua:
    def connection_made(self, now):
        pass
def fds():
    return len(os.listdir("/proc/self/fd"))
async def main():
    out = {"start": fds()}
    for name, port in (("refused", cfg["tls_port"]), ("closed", cfg["closed_port"])):
        t = SipTlsTransport(Ua(), "127.0.0.1", port, make_tls_context([ca]), "localhost")
        kinds = set()
        for _ in range(20):
            try:
                await t._connect()
                kinds.add("connected")
            except TransportError as e:
                kinds.add(type(e).__name__)
        out[name] = [fds(), sorted(kinds)]
    print(json.dumps(out))
asyncio.run(main())
"""


def serve_tls(ctx, srv):
    while True:
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        try:
            ctx.wrap_socket(conn, server_side=True).close()
        except (ssl.SSLError, OSError):
            pass
        finally:
            conn.close()


def test_refused_handshakes_and_closed_ports_leave_no_descriptor(tmp_path):
    pki = TestPki(tmp_path / "pki")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.server_other_ca.cert_pem, pki.server_other_ca.key_pem)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(32)
    threading.Thread(target=serve_tls, args=(ctx, srv), daemon=True).start()
    script = tmp_path / "client.py"
    script.write_text(SCRIPT)
    cfg = {"ca": str(pki.ca.cert_der), "tls_port": srv.getsockname()[1], "closed_port": free_tcp_port()}
    try:
        result = run_micropython([str(script), json.dumps(cfg)], timeout=120)
    finally:
        srv.close()
    assert result.returncode == 0, result.stdout + result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["refused"] == [out["start"], ["CertificateError"]], out
    assert out["closed"] == [out["start"], ["TransportError"]], out
