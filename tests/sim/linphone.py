"""linphonec (Debian linphone-cli 5.1) as a third-party SIP/TLS phone for the
interop tests: its own HOME and config, registered to our Kamailio over TLS
with the test CA, SDES-SRTP mandatory (or `media_encryption`="zrtp", and
`mandatory`=False for optional), sound from files, auto-answer.

    with Linphone(home, kamailio, pki, "lin", "pw") as lin:
        lin.wait_registered()
        lin.command("call sip:bob@localhost")
"""
import os
import queue
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

from tests.sim.kamailio import free_port

LINPHONEC = "/usr/bin/linphonec"

_RC = """[sip]
sip_port=0
sip_tcp_port=0
sip_tls_port={tls_port}
default_proxy=0
root_ca={ca}
verify_server_certs=1
verify_server_cn=1
media_encryption={media_encryption}
media_encryption_mandatory={mandatory}
register_only_when_network_is_up=0
register_only_when_upnp_is_ok=0
inc_timeout=60

[proxy_0]
reg_proxy=<sip:{host}:{port};transport=tls>
reg_identity=sip:{user}@{host}
reg_expires=300
reg_sendregister=1
publish=0

[auth_info_0]
username={user}
passwd={password}
realm={realm}
domain={host}

[rtp]
audio_rtp_port={rtp_port}

[sound]
echocancellation=0

[video]
enabled=0
"""


class Linphone:
    def __init__(self, home, kamailio, pki, user, password, auto_answer=True, media_encryption="srtp",
                 mandatory=True):
        self.home = Path(home)
        self.user = user
        self.rc = self.home / ".linphonerc"
        (self.home / ".local" / "share" / "linphone").mkdir(parents=True, exist_ok=True)
        self.rc.write_text(_RC.format(
            tls_port=free_port(), ca=pki.ca.cert_pem, media_encryption=media_encryption, mandatory=int(mandatory),
            host=kamailio.host, port=kamailio.port, user=user, password=password, realm=kamailio.realm,
            rtp_port=free_port()))
        self.auto_answer = auto_answer
        self.proc = None
        self.lines = queue.Queue()
        self.output = []

    def start(self):
        args = [LINPHONEC, "-c", str(self.rc), "-d", "4", "-l", str(self.home / "linphone.log")]
        if self.auto_answer:
            args.append("-a")
        env = dict(os.environ, HOME=str(self.home))
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env, cwd=str(self.home), text=True, start_new_session=True)
        threading.Thread(target=self._pump, daemon=True).start()
        self.command("soundcard use files")
        return self

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def command(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def wait_for(self, pattern, timeout=30.0):
        """The first output line (not yet consumed) matching `pattern`."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("linphonec %s: no line matching %r within %ss; output:\n%s" % (
                    self.user, pattern, timeout, "\n".join(self.output[-40:])))
            try:
                line = self.lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            self.output.append(line)
            if rx.search(line):
                return line

    def wait_registered(self, timeout=30.0):
        """Poll `status register` until linphonec reports its registration."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.command("status register")
            line = self.wait_for(r"^(linphonec> )?(registered|registered,|unregistered|registration)", timeout=10)
            if "registered, identity=" in line:
                return line
            time.sleep(0.3)
        raise AssertionError("linphonec %s did not register; output:\n%s" % (self.user, "\n".join(self.output[-40:])))

    def stop(self):
        if self.proc is None:
            return
        try:
            self.command("quit")
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
