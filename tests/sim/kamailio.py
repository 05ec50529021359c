"""A real Kamailio (Debian kamailio + kamailio-tls-modules) as a TLS-only
registrar/proxy on a free loopback port, for the SIP interop tests.

    with Kamailio(run_dir, pki, users={"alice": "pw"}) as k:
        k.port, k.host ("localhost"), k.received() -> [bytes, ...]

Digest auth: REGISTER is challenged with 401 (www), new INVITEs from a local
user with 407 (proxy); passwords come from an htable filled in the config
(the simplest real credential store Kamailio 5.6 has). Every SIP message
Kamailio receives is logged base64-encoded (xlog of $mb), so tests can check
exactly what the server saw. The registration connection is reused for
incoming calls (fix_nated_register + add_contact_alias/handle_ruri_alias)."""
import base64
import os
import socket
import subprocess
import time
from pathlib import Path

from hushctl.lab import stop_process_group

KAMAILIO = "/usr/sbin/kamailio"
REALM = "localhost"

_CONFIG = r"""#!KAMAILIO
debug=2
log_stderror=yes
log_prefix=""
memdbg=5
memlog=5
children=2
tcp_children=4
auto_aliases=no
disable_tcp=no
enable_tls=yes
listen=tls:127.0.0.1:{port}
alias="localhost:{port}"
tcp_connection_lifetime=3600
tcp_accept_no_cl=no
dns=no
rev_dns=no
use_dns_cache=no

loadmodule "tls.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "nathelper.so"
loadmodule "auth.so"
loadmodule "htable.so"
loadmodule "kex.so"
loadmodule "corex.so"

modparam("tls", "config", "{tls_cfg}")
modparam("xlog", "buf_size", 32768)
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 3600)
modparam("registrar", "min_expires", 10)
modparam("registrar", "received_avp", "$avp(RECEIVED)")
modparam("nathelper", "received_avp", "$avp(RECEIVED)")
modparam("rr", "enable_full_lr", 1)
modparam("auth", "qop", "auth")
modparam("auth", "algorithm", "{algorithm}")
modparam("auth", "nonce_expire", {nonce_expire})
modparam("auth", "secret", "{secret}")
modparam("htable", "htable", "users=>size=4;")

event_route[htable:mod-init] {{
{users}
}}

request_route {{
    xlog("L_NOTICE", "HUSHRX $(mb{{s.encode.base64}})\n");
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    if (has_totag()) {{
        if (loose_route()) {{
            if (is_method("INVITE|UPDATE")) {{
                add_contact_alias();  # a target refresh must stay reachable
            }}
            if (!handle_ruri_alias()) {{
                sl_send_reply("400", "Bad alias");
                exit;
            }}
            route(RELAY);
            exit;
        }}
        if (is_method("ACK")) {{
            if (t_check_trans()) {{
                t_relay();
            }}
            exit;
        }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    t_check_trans();
    if (is_method("REGISTER")) {{
        route(REGISTRAR);
        exit;
    }}
    if (is_method("OPTIONS") && $rd == "{realm}" && $rU == $null) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    if ($fd == "{realm}") {{
        $var(pw) = $sht(users=>$au);
        pv_proxy_authenticate("{realm}", "$var(pw)", "0");
        $var(rc) = $rc;
        if ($var(rc) < 0) {{
            if ($var(rc) == -4) {{
                proxy_challenge("{realm}", "17");
            }} else {{
                proxy_challenge("{realm}", "1");
            }}
            exit;
        }}
        if ($au != $fU) {{
            sl_send_reply("403", "Forbidden identity");
            exit;
        }}
        consume_credentials();
    }}
    if ($rd != "{realm}") {{
        sl_send_reply("403", "Not relaying");
        exit;
    }}
    remove_hf("Route");
    add_contact_alias();
    record_route();
    if (!lookup("location")) {{
        sl_send_reply("404", "Not Found");
        exit;
    }}
    route(RELAY);
}}

route[REGISTRAR] {{
    $var(pw) = $sht(users=>$au);
    pv_www_authenticate("{realm}", "$var(pw)", "0");
    $var(rc) = $rc;
    if ($var(rc) < 0) {{
        if ($var(rc) == -4) {{
            www_challenge("{realm}", "17");
        }} else {{
            www_challenge("{realm}", "1");
        }}
        exit;
    }}
    if ($au != $tU) {{
        sl_send_reply("403", "Forbidden AOR");
        exit;
    }}
    consume_credentials();
    fix_nated_register();
    if (!save("location", "0x04")) {{
        sl_reply_error();
    }}
}}

route[RELAY] {{
    if (is_method("INVITE|UPDATE")) {{
        t_on_reply("REPLY");
    }}
    if (!t_relay()) {{
        sl_reply_error();
    }}
}}

onreply_route[REPLY] {{
    if (status=~"^(1[0-9][1-9]|2[0-9][0-9])$") {{
        add_contact_alias();
    }}
}}

reply_route {{
    xlog("L_NOTICE", "HUSHRX $(mb{{s.encode.base64}})\n");
}}
"""

_TLS_CFG = """[server:default]
method = TLSv1.2+
certificate = {cert}
private_key = {key}
ca_list = {ca_list}
verify_certificate = {verify}
require_certificate = {verify}

[client:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
"""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class KamailioError(RuntimeError):
    pass


class Kamailio:
    """One Kamailio process. `server_keys` picks the certificate it shows
    (a pki.KeyPair: the good one by default, or the expired/other-CA ones)."""

    host = "localhost"
    realm = REALM

    def __init__(self, run_dir, pki, users, require_client_cert=False, client_cas=None,
                 server_keys=None, algorithm="MD5", nonce_expire=300):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.pki = pki
        self.users = dict(users)
        self.require_client_cert = require_client_cert
        self.client_cas = list(client_cas or [pki.ca])
        self.server_keys = server_keys or pki.server
        self.algorithm = algorithm
        self.nonce_expire = nonce_expire
        self.port = None
        self.proc = None
        self.log_path = self.run_dir / "kamailio.log"

    def _write_config(self):
        ca_list = self.run_dir / "client-cas.pem"
        ca_list.write_bytes(b"".join(ca.cert_pem.read_bytes() for ca in self.client_cas))
        tls_cfg = self.run_dir / "tls.cfg"
        tls_cfg.write_text(_TLS_CFG.format(
            cert=self.server_keys.cert_pem, key=self.server_keys.key_pem, ca_list=ca_list,
            verify="yes" if self.require_client_cert else "no"))
        users = "\n".join('    $sht(users=>%s) = "%s";' % (u, p) for u, p in self.users.items())
        cfg = self.run_dir / "kamailio.cfg"
        cfg.write_text(_CONFIG.format(
            port=self.port, tls_cfg=tls_cfg, users=users, realm=REALM, algorithm=self.algorithm,
            nonce_expire=self.nonce_expire, secret=os.urandom(8).hex()))
        return cfg

    def start(self, timeout=20.0):
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            cfg = self._write_config()
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [KAMAILIO, "-f", str(cfg), "-DD", "-E", "-m", "64", "-M", "8",
                 "-Y", str(self.run_dir), "-P", str(self.run_dir / "kamailio.pid")],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()
            if self._wait_listening(timeout):
                return self
            self.stop()
        raise KamailioError("Kamailio did not start:\n" + self.log_text()[-3000:])

    def _wait_listening(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self):
        if self.proc is None:
            return
        stop_process_group(self.proc)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

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
