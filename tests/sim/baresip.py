"""baresip (Debian baresip-core 1.0) as a third-party SIP/TLS phone for the
interop tests, driven over its ctrl_tcp module (netstring-framed JSON).

    with Baresip(workdir, proxy, ca_pem, "bar", "pw", source_wav) as bar:
        bar.wait_registered()
        bar.dial("sip:alice@localhost")
        bar.wait_event("CALL_ESTABLISHED")
        ...
        bar.received_audio_path() -> the WAV of what it decoded

Its own config directory; SIP over TLS only (an account with
`transport=tls` through the proxy as outbound); SDES-SRTP mandatory
(`mediaenc=srtp-mand`: baresip refuses a call without SRTP); G.711 only;
the microphone is a WAV file (aufile) and the sndfile filter writes what
it sends and what it decoded to WAV files in `rec_dir`. Notes from this
machine (FIELD-NOTES): baresip needs `-n 127.0.0.1`, has no ZRTP and does
not verify the proxy's certificate (never use it to prove certificate
checks). Passwords are written to the accounts file only (mode 0600)."""
import glob
import json
import os
import queue
import socket
import subprocess
import threading
import time
from pathlib import Path

from hushctl.lab import stop_process_group

from tests.sim.kamailio import free_port

BARESIP = "/usr/bin/baresip"
MODULES = "/usr/lib/baresip/modules"
WAIT_S = 30.0  # generous: CI machines are loaded

_CONFIG = """poll_method epoll
sip_listen 127.0.0.1:{sip_port}
sip_cafile {ca_pem}
call_local_timeout 60
audio_source aufile,{source_wav}
audio_buffer 40
rtp_timeout 0
jitter_buffer_delay 2-6
module_path {modules}
module g711.so
module aufile.so
module srtp.so
module sndfile.so
module_app account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{ctrl_port}
snd_path {rec_dir}
"""

# answermode=auto: baresip answers incoming calls itself (as linphonec -a).
_ACCOUNT = ('<sip:{user}@{host};transport=tls>;auth_pass={password};'
            'outbound="sip:127.0.0.1:{port};transport=tls";mediaenc={mediaenc};'
            'audio_codecs=PCMU/8000/1,PCMA/8000/1;regint=600;answermode={answermode}\n')


class BaresipError(AssertionError):
    """baresip did not do what the test waited for."""


def _netstrings(buffer):
    """Split complete netstrings ("LEN:DATA,") off the front of `buffer`;
    returns (payloads, rest)."""
    out = []
    while True:
        colon = buffer.find(b":")
        if colon < 0 or not buffer[:colon].isdigit():
            return out, buffer
        size = int(buffer[:colon])
        end = colon + 1 + size
        if len(buffer) < end + 1:
            return out, buffer
        if buffer[end:end + 1] != b",":
            raise BaresipError("bad netstring from baresip: %r" % buffer[:60])
        out.append(buffer[colon + 1:end])
        buffer = buffer[end + 1:]


class Baresip:
    def __init__(self, workdir, proxy, ca_pem, user, password, source_wav, auto_answer=True, mediaenc="srtp-mand"):
        self.dir = Path(workdir)
        self.user = user
        self.domain = proxy.host
        self.config_dir = self.dir / "config"
        self.rec_dir = self.dir / "rec"
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.rec_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.dir / "baresip.log"
        self.ctrl_port = free_port()
        (self.config_dir / "config").write_text(_CONFIG.format(
            sip_port=free_port(), ca_pem=ca_pem, source_wav=source_wav, modules=MODULES,
            ctrl_port=self.ctrl_port, rec_dir=self.rec_dir))
        accounts = self.config_dir / "accounts"
        fd = os.open(str(accounts), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(_ACCOUNT.format(user=user, host=proxy.host, password=password, port=proxy.port, mediaenc=mediaenc,
                                    answermode="auto" if auto_answer else "manual"))
        self.proc = None
        self._sock = None
        self._events = queue.Queue()
        self.events = []  # every event seen so far (dicts), in order
        self._responses = {}
        self._responded = threading.Condition()
        self._token = 0

    # -- life cycle ---------------------------------------------------------

    def start(self):
        assert os.path.exists(BARESIP), "baresip is not installed (Debian baresip-core, see system-packages.txt)"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [BARESIP, "-f", str(self.config_dir), "-n", "127.0.0.1"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + WAIT_S
        while self._sock is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BaresipError("baresip did not open its control port; log:\n" + self.log_tail())
            try:
                self._sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
            except OSError:
                time.sleep(0.1)
        self._sock.settimeout(None)
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def stop(self):
        if self.proc is None:
            return
        stop_process_group(self.proc)
        self.proc = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def log_tail(self, size=3000):
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except FileNotFoundError:
            return ""

    # -- control channel ------------------------------------------------------

    def _read(self):
        buffer = b""
        while True:
            try:
                data = self._sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            payloads, buffer = _netstrings(buffer + data)
            for payload in payloads:
                msg = json.loads(payload)
                if msg.get("event"):
                    self._events.put(msg)
                elif msg.get("response"):
                    with self._responded:
                        self._responses[msg.get("token")] = msg
                        self._responded.notify_all()

    def command(self, command, params="", timeout=WAIT_S):
        """Run one baresip command (as typed in its menu); returns its
        response {"ok": bool, "data": str}."""
        self._token += 1
        token = str(self._token)
        body = json.dumps({"command": command, "params": params, "token": token}).encode()
        self._sock.sendall(b"%d:%s," % (len(body), body))
        deadline = time.monotonic() + timeout
        with self._responded:
            while token not in self._responses:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BaresipError("no answer to %r within %ss; log:\n%s" % (command, timeout, self.log_tail()))
                self._responded.wait(remaining)
            return self._responses.pop(token)

    def wait_event(self, kind, timeout=WAIT_S, fail_on=("CALL_CLOSED",)):
        """The next event of type `kind` (e.g. CALL_ESTABLISHED); raises if
        one of `fail_on` comes first or nothing arrives in time."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BaresipError("baresip %s: no %s within %ss; events: %s" % (
                    self.user, kind, timeout, [e.get("type") for e in self.events[-20:]]))
            try:
                ev = self._events.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            self.events.append(ev)
            if ev.get("type") == kind:
                return ev
            if ev.get("type") in fail_on:
                raise BaresipError("baresip %s: %s before %s: %s" % (self.user, ev.get("type"), kind, ev))

    def wait_registered(self, timeout=WAIT_S):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.command("reginfo").get("data", "")
            if "OK" in info and self.user in info:
                return info
            time.sleep(0.2)
        raise BaresipError("baresip %s did not register; log:\n%s" % (self.user, self.log_tail()))

    def dial(self, uri):
        response = self.command("dial", uri)
        if not response.get("ok"):
            raise BaresipError("baresip refused to dial %s: %s" % (uri, response))
        return response

    def hangup(self):
        return self.command("hangup")

    # -- what it heard ----------------------------------------------------------

    def received_audio_path(self):
        """The WAV file of what baresip decoded from the call (the sndfile
        filter's "-dec.wav"; complete once the call has ended)."""
        files = sorted(glob.glob(str(self.rec_dir / "dump-*-dec.wav")))
        if not files:
            raise BaresipError("baresip recorded nothing in %s" % self.rec_dir)
        return files[-1]
