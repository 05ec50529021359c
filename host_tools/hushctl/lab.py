"""A throw-away SIP lab on loopback: a lab PKI made with `cryptography` and a
real Kamailio as TLS-only registrar/proxy. `hushctl demo` uses it as is; the
SIP interop tests use the same proxy through a small subclass
(tests/sim/kamailio.py: test PKI, a log of every message, OPTIONS pings).

The Kamailio configuration: TLS listener only, digest auth with passwords
from an htable, stale nonces re-challenged, fix_nated_register +
save("location", "0x04") and add_contact_alias/handle_ruri_alias so incoming
calls reuse the phone's registration connection, and alias="localhost:PORT"
(an alias of the IP would make every local phone "myself").

Everything lives in a directory the caller owns; passwords and keys are
written there only, never printed."""
import datetime
import glob
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hushctl.errors import HushctlError

PROXY_HOST = "localhost"  # the name on the proxy's certificate and in every AoR
_DAY = datetime.timedelta(days=1)


class LabError(HushctlError):
    """The lab could not be set up (missing Kamailio, proxy did not start)."""


# --- lab PKI -----------------------------------------------------------------


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_private(path, data):
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def stop_process_group(proc, timeout=10):
    """Stop a process started with start_new_session=True and everything it
    forked: SIGTERM to its group, SIGKILL if it is still there after timeout."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=timeout)


class LabPki:
    """A CA valid for a day and a server certificate for "localhost"
    (+127.0.0.1), as PEM (Kamailio) and DER (the MicroPython unix port
    parses DER only); handset_identity() issues a handset's own
    certificate. Attributes are Paths."""

    def __init__(self, directory):
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.dir = d
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        self._ca = self._sign(
            x509.CertificateBuilder()
            .subject_name(_name("Hushphone demo lab CA"))
            .public_key(self._ca_key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        )
        key = ec.generate_private_key(ec.SECP256R1())
        server = self._leaf(PROXY_HOST, key, [ExtendedKeyUsageOID.SERVER_AUTH],
                            [x509.DNSName(PROXY_HOST), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        self.ca_der = d / "ca.crt.der"
        self.ca_pem = d / "ca.crt.pem"
        self.server_cert_pem = d / "server.crt.pem"
        self.server_key_pem = d / "server.key.pem"
        self.ca_der.write_bytes(self._ca.public_bytes(serialization.Encoding.DER))
        self.ca_pem.write_bytes(self._ca.public_bytes(serialization.Encoding.PEM))
        self.server_cert_pem.write_bytes(server.public_bytes(serialization.Encoding.PEM))
        _write_private(
            self.server_key_pem,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
            ),
        )

    def _sign(self, builder):
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (builder.issuer_name(_name("Hushphone demo lab CA"))
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - _DAY)
                   .not_valid_after(now + _DAY))
        return builder.sign(self._ca_key, hashes.SHA256())

    def _leaf(self, name, key, usages, sans):
        return self._sign(
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .public_key(key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        )

    def handset_identity(self, name):
        """A handset's certificate for the DNS name `name` (client and
        server: it calls, and takes calls directly) and its private key,
        written as DER files (certificate, PKCS#8 key). Returns their Paths."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self._leaf(name, key, [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH],
                          [x509.DNSName(name)])
        cert_path, key_path = self.dir / ("%s.crt.der" % name), self.dir / ("%s.key.der" % name)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
        _write_private(key_path, key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
        return cert_path, key_path


# --- Kamailio ----------------------------------------------------------------

KAMAILIO = "/usr/sbin/kamailio"  # Debian's path, for when /usr/sbin is not on PATH

# One configuration for the demo and the tests. {extra_modules}, {request_prologue},
# {before_auth} and {extra_routes} are whole lines a subclass adds (see LabProxy).
_CONFIG = r"""#!KAMAILIO
debug={debug}
log_stderror=yes
log_prefix=""
children=2
tcp_children=4
auto_aliases=no
disable_tcp=no
enable_tls=yes
listen=tls:127.0.0.1:{port}
alias="{host}:{port}"
tcp_connection_lifetime=3600
tcp_accept_no_cl=no
dns=no
rev_dns=no
use_dns_cache=no

mpath="{mpath}"
loadmodule "tls.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "nathelper.so"
loadmodule "auth.so"
loadmodule "htable.so"
loadmodule "kex.so"
loadmodule "corex.so"
{extra_modules}
modparam("tls", "config", "{tls_cfg}")
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
{request_prologue}    if (!mf_process_maxfwd_header("10")) {{
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
{before_auth}    if ($fd == "{realm}") {{
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
{extra_routes}"""

_TLS_CFG = """[server:default]
method = TLSv1.2+
certificate = {cert}
private_key = {key}
{ca_list}verify_certificate = {verify}
require_certificate = {verify}

[client:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
"""


def find_kamailio():
    """Path of the kamailio binary and of its module directory."""
    exe = shutil.which("kamailio") or (KAMAILIO if os.path.exists(KAMAILIO) else None)
    mods = sorted(glob.glob("/usr/lib/*/kamailio/modules/tls.so") + glob.glob("/usr/lib/kamailio/modules/tls.so"))
    if exe is None:
        raise LabError("Kamailio is not installed: run `make system-packages` (Debian kamailio)")
    if not mods:
        raise LabError("Kamailio's TLS module is missing: install Debian kamailio-tls-modules")
    return exe, os.path.dirname(mods[0]) + "/"


def free_tcp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabProxy:
    """Kamailio as a TLS registrar/proxy on a free loopback port.

    `users` maps user names to passwords. It shows the pki's server
    certificate, or cert_pem/key_pem (paths). With client_ca_pems (paths) and
    require_client_cert=True it accepts only clients with a certificate from
    those CAs. Digest auth uses `algorithm` ("MD5" or "SHA-256"); nonces
    older than nonce_expire seconds are re-challenged as stale. Use as a
    context manager, or start()/stop(). `port` is set once started.

    A subclass adds to the configuration through the class attributes below
    (Kamailio script, whole lines), or by overriding _write_config()."""

    host = PROXY_HOST
    realm = PROXY_HOST
    debug = 1  # Kamailio's log level: notices and worse
    extra_modules = ""  # loadmodule/modparam lines
    request_prologue = ""  # first statements of request_route
    before_auth = ""  # after REGISTER is routed away, before a request is authenticated
    extra_routes = ""  # more route blocks

    def __init__(self, run_dir, pki, users, cert_pem=None, key_pem=None, client_ca_pems=(),
                 require_client_cert=False, algorithm="MD5", nonce_expire=300):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.pki = pki
        self.users = dict(users)
        self.cert_pem = cert_pem or pki.server_cert_pem
        self.key_pem = key_pem or pki.server_key_pem
        self.client_ca_pems = list(client_ca_pems)
        self.require_client_cert = require_client_cert
        self.algorithm = algorithm
        self.nonce_expire = nonce_expire
        self.port = None
        self.proc = None
        self.module_dir = None
        self.log_path = self.run_dir / "kamailio.log"

    def _write_tls_config(self):
        ca_list = ""
        if self.client_ca_pems:
            cas = self.run_dir / "client-cas.pem"
            cas.write_bytes(b"".join(Path(p).read_bytes() for p in self.client_ca_pems))
            ca_list = "ca_list = %s\n" % cas
        tls_cfg = self.run_dir / "tls.cfg"
        tls_cfg.write_text(_TLS_CFG.format(
            cert=self.cert_pem, key=self.key_pem, ca_list=ca_list,
            verify="yes" if self.require_client_cert else "no"))
        return tls_cfg

    def _write_config(self):
        """Write kamailio.cfg and tls.cfg for self.port; returns kamailio.cfg's Path."""
        tls_cfg = self._write_tls_config()
        users = "\n".join('    $sht(users=>%s) = "%s";' % (u, p) for u, p in self.users.items())
        cfg = self.run_dir / "kamailio.cfg"
        text = _CONFIG.format(
            debug=self.debug, port=self.port, host=self.host, mpath=self.module_dir, tls_cfg=tls_cfg,
            users=users, realm=self.realm, algorithm=self.algorithm, nonce_expire=self.nonce_expire,
            secret=os.urandom(8).hex(), extra_modules=self.extra_modules, request_prologue=self.request_prologue,
            before_auth=self.before_auth, extra_routes=self.extra_routes,
        )
        _write_private(cfg, text.encode())  # it holds the users' passwords
        return cfg

    def start(self, timeout=20.0):
        exe, self.module_dir = find_kamailio()
        for _attempt in range(3):  # a probed free port can be taken before Kamailio binds it
            self.port = free_tcp_port()
            cfg = self._write_config()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [exe, "-f", str(cfg), "-DD", "-E", "-m", "64", "-M", "8",
                     "-Y", str(self.run_dir), "-P", str(self.run_dir / "kamailio.pid")],
                    stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
                )
            if self._wait_listening(timeout):
                return self
            self.stop()
        raise LabError("Kamailio did not start; its log: %s" % self.log_path)

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
