"""The demo handset against third-party software: our phone app (firmware on
the MicroPython unix port, as `hushctl sim run` starts it) calls linphone (Debian linphone-cli) through the
demo's Kamailio over TLS, with SDES-SRTP mandatory on linphone's side.
Media must flow both ways through two independent implementations of RTP,
SRTP, G.711 and jitter buffering: linphone plays a 1000 Hz WAV that our
handset plays into its speaker WAV, and records our 1500 Hz tone to a WAV;
we measure both."""
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
import wave

import pytest

from hushctl.lab import PROXY_HOST, LabPki, LabProxy
from hushctl.sim import SimHandset, write_config
from hushphone.audio.tone import measure
from tests.hil.simdut import write_tone_wav

pytestmark = pytest.mark.slow

WAIT_S = 30.0  # generous: CI machines are loaded
CALL_S = 4


class Proc:
    """A child process in its own session, its output lines in a queue."""

    def __init__(self, args, env, cwd=None):
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=env, cwd=cwd, start_new_session=True,
        )
        self.lines = []
        self._queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def send(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def wait_for(self, predicate, what, timeout=WAIT_S, count=1):
        """The count-th output line that satisfies predicate."""
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in self.lines if predicate(line)]
            if len(found) >= count:
                return found[count - 1]
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                line = ""
            if line is None or time.monotonic() > deadline:
                raise AssertionError("no %s within %ss; output:\n%s" % (what, timeout, "\n".join(self.lines[-40:])))
            if line:
                self.lines.append(line)

    def stop(self, command="quit"):
        if self.proc.poll() is None:
            try:
                self.send(command)
                self.proc.wait(timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def linphone_rc(home, proxy, pki, password):
    # TLS only (UDP/TCP ports 0 = off, TLS -1 = random), the lab CA, SRTP
    # (SDES) mandatory: linphone refuses the call rather than go plaintext.
    rc = home / ".linphonerc"
    rc.write_text(
        "[sip]\nsip_port=0\nsip_tcp_port=0\nsip_tls_port=-1\nroot_ca=%s\nverify_server_certs=1\n"
        "verify_server_cn=1\nmedia_encryption=srtp\nmedia_encryption_mandatory=1\ndefault_proxy=0\n"
        "[rtp]\naudio_rtp_port=20000-29999\n[sound]\nechocancellation=0\n"
        "[proxy_0]\nreg_proxy=<sip:%s:%d;transport=tls>\nreg_route=<sip:%s:%d;transport=tls;lr>\n"
        "reg_identity=sip:lin@%s\nreg_expires=600\nreg_sendregister=1\npublish=0\n"
        "[auth_info_0]\nusername=lin\npasswd=%s\nrealm=%s\ndomain=%s\n"
        % (pki.ca_pem, PROXY_HOST, proxy.port, PROXY_HOST, proxy.port, PROXY_HOST, password, PROXY_HOST, PROXY_HOST)
    )
    return rc


def test_our_handset_and_linphone_hear_each_other(tmp_path):
    assert shutil.which("linphonec"), "linphonec is not installed (Debian linphone-cli, see system-packages.txt)"
    pki = LabPki(tmp_path / "pki")
    passwords = {"alice": os.urandom(9).hex(), "lin": os.urandom(9).hex()}
    tone_wav = tmp_path / "tone-1000.wav"
    recording = tmp_path / "linphone-heard.wav"
    write_tone_wav(tone_wav, 1000, CALL_S + 20, amplitude=16000)
    home = tmp_path / "linphone-home"
    (home / ".local" / "share" / "linphone").mkdir(parents=True)
    with LabProxy(tmp_path / "kamailio", pki, passwords) as proxy:
        rc = linphone_rc(home, proxy, pki, passwords["lin"])
        alice_cfg = write_config(tmp_path / "alice.json", {
            "name": "alice", "root": str(tmp_path / "alice"),
            "account": {"registrar": "sip:" + PROXY_HOST, "user": "alice", "password": passwords["alice"]},
            "proxy_host": "127.0.0.1", "proxy_port": proxy.port, "server_hostname": PROXY_HOST,
            "ca_der": [str(pki.ca_der)], "tone_hz": 1500, "speaker_wav": str(tmp_path / "alice-heard.wav"),
            "zrtp": False,  # linphone is set to SDES here
        })
        lin = Proc(["linphonec", "-c", str(rc), "-a"], dict(os.environ, HOME=str(home)), cwd=str(tmp_path))
        alice = None
        try:
            lin.send("soundcard use files")
            lin.send("play %s" % tone_wav)
            lin.send("record %s" % recording)
            deadline = time.monotonic() + WAIT_S
            while not any("registered: yes" in line for line in lin.lines):
                assert time.monotonic() < deadline, "linphone did not register:\n" + "\n".join(lin.lines[-30:])
                lin.send("proxy list")
                try:
                    lin.wait_for(lambda line: "registered: yes" in line, "registration", timeout=1)
                except AssertionError:
                    pass

            alice = SimHandset(alice_cfg)
            alice.wait_event("registered", WAIT_S)
            alice.send("dial lin")
            in_call = alice.wait_event("in_call", WAIT_S)
            assert in_call["security"] == "sdes" and in_call["codec"] in ("PCMU", "PCMA")
            lin.wait_for(lambda line: "with sip:alice@%s connected" % PROXY_HOST in line, "linphone answering")
            time.sleep(CALL_S + 0.5)
            alice.key("ONHOOK")
            ended = alice.wait_event("ended", WAIT_S)
            lin.wait_for(lambda line: "ended" in line, "linphone seeing the hang-up")
            alice.stop()
        finally:
            if alice is not None:
                alice.stop()
            lin.stop()

    # Linphone -> us: its 1000 Hz WAV, through its encoder and SRTP, our
    # SRTP, jitter buffer and decoder, into our speaker.
    with wave.open(str(tmp_path / "alice-heard.wav")) as w:
        ours = w.readframes(w.getnframes())[2 * 2400:]  # after the jitter buffer filled
    heard = measure(ours, 1000)
    assert heard.present() and heard.snr_db >= 30.0, heard
    assert len(ours) >= 16000 * (CALL_S - 1), len(ours)
    stats = ended["stats"]
    assert stats["received"] >= 50 * (CALL_S - 1), stats
    assert stats["dropped_auth"] == 0 and stats["dropped_malformed"] == 0, stats

    # Us -> linphone: what it decrypted, decoded and recorded.
    with wave.open(str(recording)) as w:
        rate = w.getframerate()
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        pcm = w.readframes(w.getnframes())
    second = 2 * rate
    windows = [measure(pcm[i : i + second], 1500, rate) for i in range(second, len(pcm) - second + 1, second)]
    assert len(windows) >= CALL_S - 2, "linphone recorded only %d s" % (len(pcm) // second)
    snrs = sorted(r.snr_db for r in windows)
    # Linphone's adaptive playout may stretch a second here and there: judge
    # the median second, and require the tone in every one.
    assert snrs[len(snrs) // 2] >= 30.0, snrs
    assert all(r.present() for r in windows), windows
    assert all(measure(pcm[i : i + second], 1000, rate).snr_db < -10 for i in range(second, len(pcm) - second, second))
