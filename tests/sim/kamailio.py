"""The SIP interop tests' Kamailio: the lab's TLS-only registrar/proxy
(hushctl.lab.LabProxy, the one `hushctl demo` runs) on a free loopback port,
with what only the tests need on top:

    with Kamailio(run_dir, pki, users={"alice": "pw"}) as k:
        k.port, k.host ("localhost"), k.received() -> [bytes, ...]

- the test PKI (tests/sim/pki.py): the server certificate to show
  (`server_keys`: the good one by default, or the expired/other-CA ones) and
  the CAs client certificates must come from (`client_cas`);
- every SIP message Kamailio receives is logged base64-encoded (xlog of $mb),
  so tests can check exactly what the server saw;
- an OPTIONS ping to the proxy itself is answered 200 without a challenge;
- a failed start shows the end of Kamailio's log (CI keeps no files)."""
import base64

from hushctl.lab import KAMAILIO, LabError, LabProxy, free_tcp_port as free_port  # noqa: F401 (re-exported)

REALM = LabProxy.realm

_LOG_MESSAGE = '    xlog("L_NOTICE", "HUSHRX $(mb{s.encode.base64})\\n");\n'


class KamailioError(RuntimeError):
    pass


class Kamailio(LabProxy):
    debug = 2  # info lines too: they explain a failure
    extra_modules = 'loadmodule "xlog.so"\nmodparam("xlog", "buf_size", 32768)\n'
    request_prologue = _LOG_MESSAGE
    before_auth = (
        '    if (is_method("OPTIONS") && $rd == "%s" && $rU == $null) {\n'
        '        sl_send_reply("200", "OK");\n'
        "        exit;\n"
        "    }\n" % REALM
    )
    extra_routes = "\nreply_route {\n" + _LOG_MESSAGE + "}\n"

    def __init__(self, run_dir, pki, users, require_client_cert=False, client_cas=None,
                 server_keys=None, algorithm="MD5", nonce_expire=300):
        server_keys = server_keys or pki.server
        super().__init__(
            run_dir, pki, users, cert_pem=server_keys.cert_pem, key_pem=server_keys.key_pem,
            client_ca_pems=[ca.cert_pem for ca in client_cas or [pki.ca]],
            require_client_cert=require_client_cert, algorithm=algorithm, nonce_expire=nonce_expire)

    def start(self, timeout=20.0):
        try:
            return super().start(timeout)
        except LabError as e:
            raise KamailioError("%s\n%s" % (e, self.log_text()[-3000:])) from None

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def received(self):
        """Every SIP message Kamailio received so far, in order (bytes)."""
        out = []
        for line in self.log_text().splitlines():
            marker = line.find("HUSHRX ")
            if marker >= 0:
                out.append(base64.b64decode(line[marker + 7:].strip()))
        return out
