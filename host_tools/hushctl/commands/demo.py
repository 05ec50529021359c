"""`hushctl demo`: two simulated handsets call each other through a real SIP
proxy, on this machine, in a few seconds.

What runs: a throw-away lab PKI, Kamailio as a TLS-only registrar/proxy on a
free loopback port, and two handsets: the phone application
(hushphone.app.phone) on the MicroPython unix port, as `hushctl sim run`
starts it (SIP over TLS, ZRTP end-to-end keys, SRTP media, G.711), with the
handset's default security: the offers carry no media keys, so the proxy
cannot decrypt the call. Everything happens by key presses: Alice picks Bob
from her contacts, Bob answers with his soft key; both displays show the
same short authentication string (SAS), which they read to each other and
confirm (Confirm soft key); Alice hangs up. A second call shows the peer as
verified: the secret retained from the first call matched (key
continuity). Each microphone plays a tone (Alice 1000 Hz, Bob 1500 Hz:
different, so each side provably hears the other and not itself); each
speaker is a WAV file that is measured afterwards. The command exits
non-zero unless both tones arrived with an SNR of at least 30 dB, both
displays showed the same SAS and the second call was verified on both.

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
_SKIP_S = 0.3  # the jitter buffer fills first: a little more audio to judge
_MIN_TONE_SHARE = 0.8  # of the half seconds of sound heard
_ENDED = {"ended by peer": "remote", "hung up": "we hung up"}
_AGREEMENT = {"X255": "X25519", "DH3k": "DH-3072", "EC25": "ECDH P-256"}
_SECOND_CALL_S = 1.0  # long enough to see the verified display and hear the tones


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
    }  # the handset's default media security: ZRTP first, no keys in SIP
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
            if e.get("suite"):  # SDES: the suite is known now; ZRTP: with "secure"
                line += "\n[%s] Media: %s %d ms, %s" % (name, e["codec"], e["ptime"], e["suite"])
        elif kind == "secure":
            line = "ZRTP secure: %s (%s, %s)" % (e["label"], _AGREEMENT.get(e["agreement"], e["agreement"]),
                                                  e["suite"])
            if e.get("cache_matched"):
                line += "\n[%s] Key continuity: the secret retained from the last call matched" % name
        elif kind == "sas_confirmed":
            line = "Confirms the SAS %s (read aloud by both)" % e["sas"]
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
    width = max(h.config["display_width"] for h in handsets.values())

    if network.direct:
        out.step("2. Two handsets (the phone app on the MicroPython unix port), no proxy: mutual TLS")
    else:
        out.step("2. Two handsets (the phone app on the MicroPython unix port) register over TLS")
    alice.wait_event(network.ready_event, STEP_TIMEOUT_S)
    bob.wait_event(network.ready_event, STEP_TIMEOUT_S)

    out.step("3. Alice picks Bob from her contacts (Menu, Contacts, OK); Bob presses Answer")
    out.note("The offer carries no media keys: ZRTP agrees them end to end, in the media path")
    first = _one_call(alice, bob, 1)

    out.step("4. Both displays show the same SAS; Alice and Bob read it to each other and press Confirm")
    out.displays(_screens(handsets), width)
    alice.key("SOFT1")
    bob.key("SOFT1")
    for h in (alice, bob):
        h.wait_event("sas_confirmed", STEP_TIMEOUT_S)
    out.step("5. ZRTP-keyed SRTP media: each microphone plays a tone, each speaker is recorded")
    time.sleep(seconds + _SKIP_S)
    out.step("6. Alice hangs up (End)")
    alice.key("SOFT3")
    first["ended"] = {"alice": alice.wait_event("ended", STEP_TIMEOUT_S),
                      "bob": bob.wait_event("ended", STEP_TIMEOUT_S)}

    out.step("7. A second call: the peer is shown verified (key continuity), nothing to confirm")
    alice.keys("SOFT1,OK,OK")
    second = _one_call(alice, bob, 2)
    time.sleep(_SECOND_CALL_S / 2)
    out.displays(_screens(handsets), width)
    time.sleep(_SECOND_CALL_S / 2)
    bob.key("SOFT3")
    second["ended"] = {"alice": alice.wait_event("ended", STEP_TIMEOUT_S, count=2),
                       "bob": bob.wait_event("ended", STEP_TIMEOUT_S, count=2)}
    for h in handsets.values():
        h.stop()
    heard = {}
    for name, h in handsets.items():
        heard[name] = _heard(Path(h.config["speaker_wav"]), TONES["bob" if name == "alice" else "alice"],
                             name, out)
    return [first, second], heard


def _one_call(alice, bob, n):
    """Alice calls Bob (her keys are already pressed for n > 1), Bob
    answers; returns {"in_call", "secure", "screens"} per handset once both
    are secure."""
    if n == 1:
        alice.keys("SOFT1,OK,OK")
    bob.wait_event("incoming", STEP_TIMEOUT_S, count=n)
    bob.key("SOFT1")
    call = {"in_call": {}, "secure": {}}
    fail_on = ("refused",) + (("ended",) if n == 1 else ())  # an earlier call's "ended" would count too
    for name, h in (("alice", alice), ("bob", bob)):
        call["in_call"][name] = h.wait_event("in_call", STEP_TIMEOUT_S, count=n)
        if call["in_call"][name]["security"] == "zrtp":
            call["secure"][name] = h.wait_event("secure", STEP_TIMEOUT_S, count=n, fail_on=fail_on)
    call["screens"] = {"alice": alice.stats()["screen"], "bob": bob.stats()["screen"]}
    return call


def _screens(handsets):
    return {name: h.stats()["screen"] for name, h in handsets.items()}


def _heard(path, freq, name, out):
    """The tone in a speaker recording (both calls, one after the other),
    judged per half second of sound: the digital silence a jitter buffer
    plays while it fills at the start of each call (whole frames of zero
    samples) is counted apart, not judged; the tone must be clearly there
    (SNR >= MIN_SNR_DB) in at least _MIN_TONE_SHARE of the rest. Said once
    per handset."""
    from hushphone.audio.tone import measure

    with wave.open(str(path)) as w:
        rate = w.getframerate()
        pcm = w.readframes(w.getnframes())
    frame = 2 * rate // 50  # 20 ms
    zero = bytes(frame)
    frames = [pcm[i:i + frame] for i in range(0, len(pcm), frame)]
    sound = b"".join(f for f in frames if f != zero[:len(f)])
    silent_s = (len(pcm) - len(sound)) / (2 * rate)
    window = rate  # bytes in half a second (16-bit samples)
    parts = [measure(sound[i:i + window], freq, rate) for i in range(0, len(sound) - window + 1, window)]
    with_tone = [r for r in parts if r.present(min_snr_db=MIN_SNR_DB)]
    snrs = sorted(r.snr_db for r in parts)
    median = snrs[len(snrs) // 2] if snrs else -100.0
    total = len(pcm) / (2 * rate)
    present = bool(parts) and len(with_tone) >= _MIN_TONE_SHARE * len(parts) and median >= MIN_SNR_DB
    if with_tone:
        text = "Receiving %d Hz tone, SNR %.1f dB, in %.1f of %.1f s" % (freq, median, len(with_tone) / 2, total)
    elif not sound:
        text = "No %d Hz tone (silence)" % freq
    else:
        level = measure(sound, freq, rate).level_dbfs
        text = "No %d Hz tone (SNR %.1f dB, level %.1f dBFS)" % (freq, median, level)
    out.handset(name, "[%s] %s" % (name, text))
    return {"freq": freq, "snr_db": round(median, 1), "present": present, "seconds": len(with_tone) / 2,
            "recorded_seconds": round(total, 2), "silent_seconds": round(silent_s, 2)}


def _mode(call, name):
    """(mode, SAS, verified) of one handset in one call."""
    in_call = call["in_call"][name]
    secure = call["secure"].get(name)
    if secure is not None:
        return "ZRTP", secure["sas"], bool(secure["verified"])
    return {"sdes": "SDES-SRTP", "none": "none"}.get(in_call["security"], in_call["security"]), None, False


def _verdict(calls, heard):
    """Per direction: who sent, who heard, the measurement, the security
    of the calls, and whether it passed: the tone arrived, both displays
    showed the same SAS in the first call, and the second call was shown
    verified on both (key continuity)."""
    rows = []
    for sender, receiver in (("alice", "bob"), ("bob", "alice")):
        tone = heard.get(receiver) or {}
        stats = [c["ended"][receiver].get("stats") or {} for c in calls]
        mode, sas, _ = _mode(calls[0], receiver)
        peer_mode, peer_sas, _ = _mode(calls[0], sender)
        second = _mode(calls[1], receiver) if len(calls) > 1 else (None, None, False)
        arrived = bool(tone.get("present"))
        rows.append(
            {
                "from": sender,
                "to": receiver,
                "freq": TONES[sender],
                "snr_db": tone.get("snr_db"),
                "silent_seconds": tone.get("silent_seconds"),
                "seconds": tone.get("seconds"),
                "arrived": arrived,
                "mode": mode,
                "sas": sas,
                "same_sas": sas is not None and sas == peer_sas and mode == peer_mode,
                "second_call_mode": second[0],
                "second_call_sas": second[1],
                "verified_second_call": second[2],
                "screens": [c["screens"][receiver] for c in calls],
                "packets_received": sum(s.get("received") or 0 for s in stats),
                "packets_lost": sum(s.get("lost") or 0 for s in stats),
                "dropped_auth": sum(s.get("dropped_auth") or 0 for s in stats),
            }
        )
    return rows


def _failures(rows):
    """What did not work, one phrase per problem (empty: all passed)."""
    failed = []
    for r in rows:
        direction = "%s>%s" % (r["from"], r["to"])
        if not r["arrived"]:
            failed.append("the tone did not arrive: %s (SNR %s dB)" % (direction, r["snr_db"]))
    receivers = {r["to"]: r for r in rows}
    if not all(r["mode"] == "ZRTP" and r["same_sas"] for r in rows):
        failed.append("the displays did not show the same ZRTP SAS (%s)" % ", ".join(
            "%s: %s %s" % (n, r["mode"], r["sas"]) for n, r in sorted(receivers.items())))
    if not all(r["verified_second_call"] for r in rows):
        failed.append("the second call was not shown verified on %s" % ", ".join(
            n for n, r in sorted(receivers.items()) if not r["verified_second_call"]))
    return failed


def _show_table(out, rows):
    from rich import box
    from rich.table import Table

    table = Table(title="Tones through SIP/TLS + ZRTP/SRTP (two calls)", box=box.SIMPLE_HEAD, padding=(0, 1),
                  show_edge=False, pad_edge=False, collapse_padding=True)  # fits 80 columns
    for col in ("direction", "tone", "SNR", "in/lost", "forged", "mode", "SAS", "2nd call", "result"):
        table.add_column(col, no_wrap=True)
    for r in rows:
        table.add_row(
            "%s>%s" % (r["from"], r["to"]),
            "%d Hz" % r["freq"],
            "-" if r["snr_db"] is None else "%.1f dB" % r["snr_db"],
            "%s/%s" % (r["packets_received"], r["packets_lost"]),
            str(r["dropped_auth"]),
            r["mode"],
            r["sas"] or "-",
            "verified" if r["verified_second_call"] else "[red]unverified[/red]",
            "[green]arrived[/green]" if r["arrived"] else "[red]MISSING[/red]",
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
            calls, heard = _call(workdir, network, pki, seconds, mute, out, handsets)
        except SimError as e:
            raise DemoError(str(e))
        finally:
            for h in handsets.values():
                h.stop()  # quits, or kills what does not
    finally:
        if proxy is not None:
            proxy.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    rows = _verdict(calls, heard)
    _show_table(out, rows)
    elapsed = time.monotonic() - started
    if not _failures(rows):
        out.console.print("\n[bold green]The tone arrived both ways[/bold green] (SNR >= %.0f dB), end to end "
                          "encrypted: both displays showed SAS %s, and the second call was verified."
                          % (MIN_SNR_DB, rows[0]["sas"]))
        out.note("Signalling over TLS, media keys by ZRTP (never in SIP: the proxy cannot decrypt), media over "
                 "SRTP; everything stopped again after %.1f s." % elapsed)
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
    (directly over mutual TLS without it) with ZRTP end-to-end keys and
    SRTP media: both show the same SAS and confirm it, a second call shows
    the peer verified; each measures the other's tone. Exits non-zero
    unless the tone arrived both ways, the SAS matched and the second call
    was verified."""
    rows, elapsed, lab_dir = run_demo(seconds, mute, quiet=as_json, direct=direct)
    if as_json:
        result = {"directions": rows, "seconds": round(elapsed, 1), "min_snr_db": MIN_SNR_DB, "lab_dir": lab_dir}
        click.echo(json.dumps(result))
    failed = _failures(rows)
    if failed:
        raise DemoError("; ".join(failed))
