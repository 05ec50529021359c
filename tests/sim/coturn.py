"""coturn (Debian `coturn`, turnserver) as the TURN relay of the tests, on
its own loopback address (127.x: distinct from the handset's and the
peer's, so a test can tell who sees which address), with the long-term
credential mechanism, UDP and TLS listeners on free ports, a relay port
range of its own, and loopback peers allowed (FIELD-NOTES: without
--allow-loopback-peers relaying to 127.x silently fails).

    with Coturn(run_dir, (cert_pem, key_pem), host="127.0.0.3") as turn:
        turn.udp_port, turn.tls_port, turn.user, turn.password, turn.realm
"""
import os
import random
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

from hushctl.lab import stop_process_group

TURNSERVER = "/usr/bin/turnserver"


def free_port(host, kind=socket.SOCK_DGRAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Coturn:
    realm = "hush.test"

    def __init__(self, run_dir, tls_keys=None, host="127.0.0.3", user="handset"):
        """tls_keys: (certificate PEM path, key PEM path) for TURN over TLS."""
        assert shutil.which(TURNSERVER) or os.path.exists(TURNSERVER), \
            "turnserver is not installed (Debian coturn, see system-packages.txt)"
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.user = user
        self.password = secrets.token_hex(8)
        self.udp_port = free_port(host)
        self.tls_port = free_port(host, socket.SOCK_STREAM)
        # A relay port range of our own (parallel runs must not collide).
        low = random.randrange(20000, 60000, 200)
        self.relay_ports = (low, low + 199)
        self.tls_keys = tls_keys
        self.log_path = self.dir / "turnserver.log"
        self.proc = None

    def args(self):
        a = [TURNSERVER, "-n", "-v", "--listening-ip=%s" % self.host, "--relay-ip=%s" % self.host,
             "--listening-port=%d" % self.udp_port, "--tls-listening-port=%d" % self.tls_port,
             "--min-port=%d" % self.relay_ports[0], "--max-port=%d" % self.relay_ports[1],
             "--lt-cred-mech", "--user=%s:%s" % (self.user, self.password), "--realm=%s" % self.realm,
             "--fingerprint", "--allow-loopback-peers", "--no-cli", "--no-dtls", "--no-multicast-peers",
             "--log-file=stdout", "--simple-log", "--pidfile=%s" % (self.dir / "turnserver.pid"),
             "--userdb=%s" % (self.dir / "turndb")]
        if self.tls_keys is not None:
            a += ["--cert=%s" % self.tls_keys[0], "--pkey=%s" % self.tls_keys[1]]
        else:
            a.append("--no-tls")
        return a

    def start(self, timeout=20.0):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("turnserver exited: %s" % self.log_text()[-3000:])
            if "listener opened on" in self.log_text() or "Total General servers" in self.log_text():
                time.sleep(0.2)
                return self
            time.sleep(0.05)
        raise RuntimeError("turnserver did not start: %s" % self.log_text()[-3000:])

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc is not None:
            stop_process_group(self.proc)
            self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
