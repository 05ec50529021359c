"""A lab for the phone-app end-to-end tests: a throw-away PKI, Kamailio as a
TLS-only registrar/proxy on a free loopback port (hushctl.lab, the demo's
lab), and simulated handsets (hushctl.sim: the phone app on the MicroPython
unix port with the unix HAL), each with a tone as its microphone and a WAV
file as its speaker. Everything started here is stopped by close()."""
import os
import wave
from pathlib import Path

from hushctl.lab import PROXY_HOST, LabPki, LabProxy
from hushctl.sim import SimHandset, write_config
from hushphone.audio.tone import measure

WAIT_S = 30.0  # generous: CI machines are loaded
USERS = ("alice", "bob", "carol", "dave")


class PhoneLab:
    def __init__(self, directory):
        self.dir = Path(directory)
        self.pki = LabPki(self.dir / "pki")
        self.passwords = {u: os.urandom(9).hex() for u in USERS}
        self.proxy = LabProxy(self.dir / "kamailio", self.pki, self.passwords).start()
        self.handsets = []

    def handset(self, name, tone_hz=1000, register=True, boot=None, **extra):
        root = self.dir / name
        config = {
            "name": name,
            "root": str(root),
            "account": {"registrar": "sip:" + PROXY_HOST, "user": name, "password": self.passwords[name]},
            "proxy_host": "127.0.0.1",
            "proxy_port": self.proxy.port,
            "server_hostname": PROXY_HOST,
            "ca_der": [str(self.pki.ca_der)],
            "tone_hz": tone_hz,
            "speaker_wav": str(self.dir / ("%s-speaker.wav" % name)),
        }
        config.update(extra)
        h = SimHandset(write_config(self.dir / ("%s.json" % name), config), **(boot or {}))
        self.handsets.append(h)
        if register:
            h.wait_event("registered", WAIT_S)
        return h

    def close(self):
        try:
            for h in self.handsets:
                h.stop()
        finally:
            self.proxy.stop()


def speaker_pcm(handset):
    """What the handset played (16-bit 8 kHz mono), once it has stopped."""
    with wave.open(handset.config["speaker_wav"]) as w:
        assert w.getframerate() == 8000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        return w.readframes(w.getnframes())


def tone_in(pcm, start_s, end_s, freq=1000):
    """The tone measurement of pcm between two times (seconds)."""
    return measure(pcm[int(start_s * 8000) * 2:int(end_s * 8000) * 2], freq)
