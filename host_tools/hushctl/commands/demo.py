"""`hushctl demo`: two simulated handsets call each other through a real SIP
proxy, on this machine, in a few seconds.

What runs: a throw-away lab PKI, Kamailio as a TLS-only registrar/proxy on a
free loopback port, and two handsets: the phone application
(hushphone.app.phone) on the MicroPython unix port, as `hushctl sim run`
starts it (SIP over TLS, SDES-SRTP media, G.711). Everything happens by key
presses: Alice picks Bob from her contacts, Bob answers with his soft key,
Alice hangs up. Each microphone plays a tone (Alice 1000 Hz, Bob 1500 Hz:
different, so each side provably hears the other and not itself); each
speaker is a WAV file that is measured afterwards. The command exits
non-zero unless both tones arrived with an SNR of at least 30 dB.

Without Kamailio (or with --direct) the handsets call each other directly
over mutual TLS: each has its own certificate from the lab CA, Bob listens
on a free loopback port and accepts only a caller whose certificate the CA
signed, Alice calls him there."""
import json
import secrets
import shutil
import tempfile
import time
import wave
from pathlib import Path

import click

from hushctl.cli import cli
from hushctl.errors import HushctlError
from hushctl.lab import PROXY_HOST, LabError, LabPki, LabProxy, find_kamailio, free_tcp_port
from hushctl.sim import SimError, SimHandset, write_config

MIN_SNR_DB = 30.0
STEP_TIMEOUT_S = 30.0  # one step (register, call, hang up): generous for loaded machines
TONES = {"alice": 1000, "bob": 1500}
_STYLE = {"alice": "cyan", "bob": "magenta"}
_SKIP_S = 0.3  # the jitter buffer fills first: judge the audio after it
_ENDED = {"ended by peer": "remote", "hung up": "we hung up"}


class DemoError(HushctlError):
    """The demo did not get as far as it should."""


class Output:
    """Display lines for people (rich when available), or quiet for --json."""

    def __init__(self, quiet):
        from rich.console import Console

        self.console = Console(stderr=quiet, highlight=False)
        self.quiet = quiet

    def step(self, text):
        self.console.print("\n[bold]%s[/bold]" % text)

    def note(self, text):
        self.console.print("  " + text, style="dim")

    def handset(self, name, line):
        self.console.print("  " + line, style=_STYLE.get(name, ""), markup=False)

    def displays(self, screens, width):
        """The handsets' displays side by side, as their users see them."""
        names = sorted(screens)
        self.console.print("  " + " ".join(("%s's display" % n).ljust(width + 2) for n in names), style="dim")
        edge = "+" + "-" * width + "+"
        rows = [" ".join(edge for _ in names)]
        for i in range(max(len(screens[n]) for n in names)):
            rows.append(" ".join("|%s|" % (screens[n][i] if i < len(screens[n]) else "").ljust(width) for n in names))
        rows.append(rows[0])
        for row in rows:
            self.console.print("  " + row, markup=False, highlight=False)


class Proxied:
    """The handsets register with the lab's Kamailio and call through it."""

    direct = False
    ready_event = "registered"

    def __init__(self, proxy, passwords):
        self.proxy = proxy
        self.passwords = passwords

    def config(self, name):
        return {"account": {"registrar": "sip:" + PROXY_HOST, "user": name, "password": self.passwords[name]},
                "proxy_host": "127.0.0.1", "proxy_port": self.proxy.port, "server_hostname": PROXY_HOST}


class Direct:
    """No proxy: Bob listens on `port` (mutual TLS), Alice calls him there;
    each shows its own certificate from the lab CA. Nobody registers."""

    direct = True
    ready_event = "direct"

    def __init__(self, pki, port):
        self.pki = pki
        self.port = port

    def config(self, name):
        host = "%s.%s" % (name, PROXY_HOST)  # the name on the handset's certificate
        cert, key = self.pki.handset_identity(host)
        config = {"account": {"registrar": "sip:" + PROXY_HOST, "user": name, "password": ""},
                  "tls_cert_der": str(cert), "tls_key_der": str(key)}
        if name == "bob":
            config["listen_port"] = self.port
        else:
            config.update({"register": False, "proxy_host": "127.0.0.1", "proxy_port": self.port,
                           "server_hostname": "bob." + PROXY_HOST})
        return config


def _handset_config(workdir, name, network, pki, tone_hz, contacts=()):
    root = Path(workdir) / name
    root.mkdir()
    vcf = "".join("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:%s\r\nTEL:%s\r\nEND:VCARD\r\n" % (c, c) for c in contacts)
    (root / "contacts.vcf").write_text(vcf, encoding="utf-8")
    config = {
        "name": name,
        "root": str(root),
        "ca_der": [str(pki.ca_der)],
        "media_host": "127.0.0.1",
        "tone_hz": tone_hz,
        "speaker_wav": str(root / "speaker.wav"),
        "zrtp": False,  # this demo shows SDES-SRTP (keys inside the TLS signalling)
    }
    config.update(network.config(name))
    return write_config(Path(workdir) / ("%s.json" % name), config)


def _story(out):
    """Turns the handsets' events into the lines a person follows."""

    def on_line(handset, text):
        if not text.startswith("@event "):
            return
        try:
            e = json.loads(text[len("@event "):])
        except ValueError:
            return
        kind = e.get("event")
        name = handset.name
        if kind == "registered":
            line = "Registered as %s" % e["aor"].split(":", 1)[1]
        elif kind == "direct":
            line = ("Takes calls directly on tls:127.0.0.1:%d (callers need a certificate from the lab CA)"
                    % e["listen_port"] if e.get("listen_port") else "Calls directly, with its own certificate")
        elif kind == "calling":
            line = "Calling %s ..." % e["peer"]
        elif kind == "incoming":
            line = "Incoming call from %s" % e["peer"]
        elif kind == "in_call":
            line = "In call with %s \u00b7 %s" % (e["peer"], e["label"])
            line += "\n[%s] Media: %s %d ms, %s" % (name, e["codec"], e["ptime"], e["suite"])
        elif kind == "ended":
            line = "Call with %s ended (%s)" % (e["peer"], _ENDED.get(e["reason"], e["reason"]))
        elif kind in ("registration_failed", "connection_lost", "refused", "error"):
            line = "%s: %s" % (kind.replace("_", " "), e.get("reason") or e.get("text") or e.get("status"))
        else:
            return
        for part in ("[%s] %s" % (name, line)).split("\n"):
            out.handset(name, part)

    return on_line


def _call(workdir, network, pki, seconds, mute, out, handsets):
    on_line = _story(out)
    for name in ("bob", "alice"):  # Bob first: in a direct call he must be listening
        tone = 0 if mute == name else TONES[name]
        contacts = ["bob"] if name == "alice" else []
        cfg = _handset_config(workdir, name, network, pki, tone, contacts)
        handsets[name] = SimHandset(cfg, on_line=on_line)
    alice, bob = handsets["alice"], handsets["bob"]

    if network.direct:
        out.step("2. Two handsets (the phone app on the MicroPython unix port), no proxy: mutual TLS")
    else:
        out.step("2. Two handsets (the phone app on the MicroPython unix port) register over TLS")
    alice.wait_event(network.ready_event, STEP_TIMEOUT_S)
    bob.wait_event(network.ready_event, STEP_TIMEOUT_S)

    out.step("3. Alice picks Bob from her contacts (Menu, Contacts, OK); Bob presses Answer")
    alice.keys("SOFT1,OK,OK")
    bob.wait_event("incoming", STEP_TIMEOUT_S)
    bob.key("SOFT1")
    ins = {"alice": alice.wait_event("in_call", STEP_TIMEOUT_S), "bob": bob.wait_event("in_call", STEP_TIMEOUT_S)}

    out.step("4. SRTP media: each microphone plays a tone, each speaker is recorded")
    time.sleep(seconds / 2)
    screens = {name: h.stats()["screen"] for name, h in handsets.items()}
    out.displays(screens, max(h.config["display_width"] for h in handsets.values()))
    time.sleep(seconds / 2 + _SKIP_S)

    out.step("5. Alice hangs up (End)")
    alice.key("SOFT3")
    ended = {"alice": alice.wait_event("ended", STEP_TIMEOUT_S), "bob": bob.wait_event("ended", STEP_TIMEOUT_S)}
    for h in handsets.values():
        h.stop()
    for name, h in handsets.items():
        ended[name]["tone"] = _heard(Path(h.config["speaker_wav"]), TONES["bob" if name == "alice" else "alice"],
                                     name, out)
        ended[name]["in_call"] = ins[name]
    return ended


def _heard(path, freq, name, out):
    """The tone in a speaker recording: per second for the story, and over
    the whole call (after the jitter buffer filled) for the verdict."""
    from hushphone.audio.tone import measure

    with wave.open(str(path)) as w:
        rate = w.getframerate()
        pcm = w.readframes(w.getnframes())
    pcm = pcm[int(_SKIP_S * rate) * 2:]
    second = 2 * rate
    for i in range(0, len(pcm) - second + 1, second):
        r = measure(pcm[i:i + second], freq, rate)
        if r.present(min_snr_db=10):
            text = "Receiving %d Hz tone, SNR %.1f dB" % (freq, r.snr_db)
        elif r.level_dbfs <= -100:
            text = "No %d Hz tone (silence)" % freq
        else:
            text = "No %d Hz tone (SNR %.1f dB, level %.1f dBFS)" % (freq, r.snr_db, r.level_dbfs)
        out.handset(name, "[%s] %s" % (name, text))
    r = measure(pcm, freq, rate)
    return {"freq": freq, "snr_db": round(r.snr_db, 1), "level_dbfs": round(r.level_dbfs, 1),
            "present": r.present(min_snr_db=10), "seconds": round(len(pcm) / second, 2)}


def _verdict(ended):
    """Per direction: who sent, who heard, the measurement, and whether it passed."""
    rows = []
    for sender, receiver in (("alice", "bob"), ("bob", "alice")):
        tone = ended[receiver].get("tone") or {}
        stats = ended[receiver].get("stats") or {}
        ok = bool(tone.get("present")) and tone.get("snr_db", -100) >= MIN_SNR_DB
        rows.append(
            {
                "from": sender,
                "to": receiver,
                "freq": TONES[sender],
                "snr_db": tone.get("snr_db"),
                "level_dbfs": tone.get("level_dbfs"),
                "seconds": tone.get("seconds"),
                "arrived": ok,
                "packets_received": stats.get("received"),
                "packets_lost": stats.get("lost"),
                "dropped_auth": stats.get("dropped_auth"),
            }
        )
    return rows


def _show_table(out, rows):
    from rich.table import Table

    table = Table(title="Tones through SIP/TLS + SRTP")
    for col in ("direction", "tone", "SNR", "heard", "in/lost", "forged", "result"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            "%s>%s" % (r["from"], r["to"]),
            "%d Hz" % r["freq"],
            "-" if r["snr_db"] is None else "%.1f dB" % r["snr_db"],
            "-" if r["seconds"] is None else "%.1f s" % r["seconds"],
            "%s/%s" % (r["packets_received"], r["packets_lost"]),
            str(r["dropped_auth"]),
            "[green]arrived[/green]" if r["arrived"] else "[red]NOT arrived[/red]",
        )
    out.console.print()
    out.console.print(table)


def _kamailio_missing():
    """Why Kamailio cannot run here, or None."""
    try:
        find_kamailio()
    except LabError as e:
        return str(e)
    return None


def run_demo(seconds=3.0, mute=None, quiet=False, direct=None):
    """Run the whole demo; returns (per-direction results, seconds taken,
    the lab directory, already removed). `direct`: call without a proxy
    (None: only when Kamailio is not installed). Raises DemoError when a
    step fails (everything started is stopped first)."""
    out = Output(quiet)
    started = time.monotonic()
    missing = _kamailio_missing()
    if direct is None:
        direct = missing is not None
    workdir = tempfile.mkdtemp(prefix="hushphone-demo-")
    proxy = None
    try:
        pki = LabPki(Path(workdir) / "pki")
        if direct:
            out.step("1. A throw-away lab: a CA and a certificate for each handset (no proxy)")
            if missing:
                out.note("%s, so the handsets call each other directly" % missing.split(":")[0])
            network = Direct(pki, free_tcp_port())
        else:
            out.step("1. A throw-away lab: a CA, the proxy's certificate, Kamailio (TLS only)")
            passwords = {name: secrets.token_urlsafe(12) for name in TONES}
            proxy = LabProxy(Path(workdir) / "kamailio", pki, passwords)
            proxy.start()
            network = Proxied(proxy, passwords)
            out.note("Kamailio: tls:127.0.0.1:%d as sip:%s, no plaintext SIP port" % (proxy.port, PROXY_HOST))
        out.note("Alice plays %d Hz, Bob %d Hz: each must hear the other's tone" % (TONES["alice"], TONES["bob"]))
        if mute:
            out.note("--mute %s: %s sends silence, so that direction must fail" % (mute, mute))
        handsets = {}
        try:
            ended = _call(workdir, network, pki, seconds, mute, out, handsets)
        except SimError as e:
            raise DemoError(str(e))
        finally:
            for h in handsets.values():
                h.stop()  # quits, or kills what does not
    finally:
        if proxy is not None:
            proxy.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    rows = _verdict(ended)
    _show_table(out, rows)
    elapsed = time.monotonic() - started
    if all(r["arrived"] for r in rows):
        out.console.print("\n[bold green]The tone arrived both ways[/bold green] (SNR >= %.0f dB)." % MIN_SNR_DB)
        out.note("Signalling over TLS, media over SRTP; everything stopped again after %.1f s." % elapsed)
    return rows, elapsed, workdir


@cli.command()
@click.option("--seconds", default=3.0, show_default=True, type=click.FloatRange(1.0, 30.0),
              help="How long the call carries the tones.")
@click.option("--mute", type=click.Choice(["alice", "bob"]), default=None,
              help="Let this handset send silence (shows what a failed check looks like).")
@click.option("--direct", is_flag=True, default=None,
              help="No proxy: the handsets call each other directly over mutual TLS (the default without Kamailio).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout (the story goes to stderr).")
def demo(seconds, mute, direct, as_json):
    """Two simulated handsets call each other through Kamailio over TLS
    (directly over mutual TLS without it) with SRTP media; each measures
    the other's tone. Exits non-zero unless the tone arrived both ways."""
    rows, elapsed, lab_dir = run_demo(seconds, mute, quiet=as_json, direct=direct)
    if as_json:
        result = {"directions": rows, "seconds": round(elapsed, 1), "min_snr_db": MIN_SNR_DB, "lab_dir": lab_dir}
        click.echo(json.dumps(result))
    failed = [r for r in rows if not r["arrived"]]
    if failed:
        raise DemoError(
            "the tone did not arrive: "
            + ", ".join("%s>%s (SNR %s dB)" % (r["from"], r["to"], r["snr_db"]) for r in failed)
        )
