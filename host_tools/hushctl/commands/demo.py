"""`hushctl demo`: two simulated handsets call each other through a real SIP
proxy, on this machine, in a few seconds.

What runs: a throw-away lab PKI, Kamailio as a TLS-only registrar/proxy on a
free loopback port, and two handsets (the firmware on the MicroPython unix
port: SIP over TLS, SDES-SRTP media, G.711). Alice calls Bob; each plays a
tone (Alice 1000 Hz, Bob 1500 Hz: different, so each side provably hears the
other and not itself) and measures the tone it receives. The command exits
non-zero unless both tones arrived with an SNR of at least 30 dB."""
import asyncio
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import click

from hushctl.cli import cli
from hushctl.errors import HushctlError
from hushctl.lab import PROXY_HOST, LabPki, LabProxy

MIN_SNR_DB = 30.0
STEP_TIMEOUT_S = 20.0  # one step (register, call, hang up): generous for loaded machines
TONES = {"alice": 1000, "bob": 1500}
_STYLE = {"alice": "cyan", "bob": "magenta"}


class DemoError(HushctlError):
    """The demo did not get as far as it should."""


def firmware_lib():
    import hushphone

    return Path(hushphone.__file__).resolve().parent.parent


def micropython_exe():
    exe = Path(sys.executable).parent / "micropython"
    if exe.exists():
        return str(exe)
    found = shutil.which("micropython")
    if found is None:
        raise DemoError("the MicroPython unix port is not installed: run `make venv`")
    return found


class Handset:
    """One simulated handset process and what it has reported."""

    def __init__(self, name, proc, show):
        self.name = name
        self.proc = proc
        self.show = show
        self.events = []
        self.changed = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self):
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            text = line.decode(errors="replace").rstrip("\n")
            if text.startswith("@{"):
                try:
                    self.events.append(json.loads(text[1:]))
                except ValueError:
                    self.show(self.name, text)
            else:
                self.show(self.name, text)
            self.changed.set()
        self.events.append({"event": "exited"})
        self.changed.set()

    def send(self, command):
        self.proc.stdin.write((command + "\n").encode())

    async def wait_for(self, event, what, timeout=STEP_TIMEOUT_S, count=1):
        """The count-th report of `event`; fails with `what` on timeout or
        when the handset reports a failure or exits first."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.events if e["event"] == event]
            if len(found) >= count:
                return found[count - 1]
            for e in self.events:
                if e["event"] in ("registration_failed", "call_failed", "connection_lost", "exited"):
                    raise DemoError("%s: %s failed: %s" % (self.name, what, _describe(e)))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DemoError("%s: %s did not happen within %.0f s" % (self.name, what, timeout))
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def stop(self):
        if self.proc.returncode is None:
            try:
                self.send("quit")
                await self.proc.stdin.drain()
                await asyncio.wait_for(self.proc.wait(), 10)
            except (asyncio.TimeoutError, ConnectionError):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                await self.proc.wait()
        await asyncio.wait_for(self.reader, 10)


def _describe(e):
    if e["event"] == "exited":
        return "the handset process exited"
    parts = [str(e[k]) for k in ("status", "reason") if k in e]
    return " ".join(parts) or e["event"]


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


def _handset_config(workdir, name, proxy, pki, password, tone_hz, listen_hz):
    config = {
        "name": name,
        "aor": "sip:%s@%s" % (name, PROXY_HOST),
        "username": name,
        "password": password,
        "proxy_host": "127.0.0.1",
        "proxy_port": proxy.port,
        "server_hostname": PROXY_HOST,
        "ca_der": str(pki.ca_der),
        "media_host": "127.0.0.1",
        "tone_hz": tone_hz,
        "listen_hz": listen_hz,
        "codecs": ["PCMU", "PCMA"],
        "suites": ["AES_CM_128_HMAC_SHA1_80"],
        "report_ms": 1000,
    }
    path = Path(workdir) / ("%s.json" % name)
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds a password
    with os.fdopen(fd, "w") as f:
        json.dump(config, f)
    return path


async def _start_handset(name, config_path, out):
    lib = firmware_lib()
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join([str(lib), ".frozen"])
    proc = await asyncio.create_subprocess_exec(
        micropython_exe(), str(lib / "hushphone" / "app" / "softphone.py"), str(config_path),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env=env, start_new_session=True,
    )
    return Handset(name, proc, out.handset)


async def _call(workdir, proxy, pki, passwords, seconds, mute, out, procs):
    handsets = {}
    try:
        for name in ("alice", "bob"):
            other = "bob" if name == "alice" else "alice"
            tone = 0 if mute == name else TONES[name]
            cfg = _handset_config(workdir, name, proxy, pki, passwords[name], tone, TONES[other])
            handsets[name] = await _start_handset(name, cfg, out)
            procs.append(handsets[name].proc)
        alice, bob = handsets["alice"], handsets["bob"]

        out.step("2. Two handsets (firmware on the MicroPython unix port) register over TLS")
        await alice.wait_for("registered", "registration")
        await bob.wait_for("registered", "registration")

        out.step("3. Alice calls Bob; Bob answers")
        alice.send("call bob")
        await bob.wait_for("incoming", "the incoming call")
        bob.send("answer")
        await alice.wait_for("in_call", "call setup")
        await bob.wait_for("in_call", "call setup")

        out.step("4. SRTP media: each side plays its tone and measures what it hears")
        windows = max(1, int(seconds))
        await alice.wait_for("tone", "tone measurement", timeout=STEP_TIMEOUT_S + seconds, count=windows)
        await bob.wait_for("tone", "tone measurement", timeout=STEP_TIMEOUT_S + seconds, count=windows)

        out.step("5. Alice hangs up")
        alice.send("hangup")
        ended_alice = await alice.wait_for("ended", "hang-up")
        ended_bob = await bob.wait_for("ended", "hang-up")
        return {"alice": ended_alice, "bob": ended_bob}
    finally:
        for h in handsets.values():
            await h.stop()


def _kill_leftovers(procs):
    """Handsets run in their own session (so a Ctrl-C reaches only us):
    make sure none outlives the demo, even when it was interrupted. A
    process already reaped (returncode set) is left alone: its id may have
    been reused."""
    for proc in procs:
        if proc.returncode is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


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


def run_demo(seconds=3.0, mute=None, quiet=False):
    """Run the whole demo; returns (per-direction results, seconds taken,
    the lab directory, already removed). Raises DemoError when a step
    fails (everything started is stopped first)."""
    out = Output(quiet)
    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="hushphone-demo-")
    try:
        out.step("1. A throw-away lab: a CA, the proxy's certificate, Kamailio (TLS only)")
        pki = LabPki(Path(workdir) / "pki")
        passwords = {name: secrets.token_urlsafe(12) for name in TONES}
        proxy = LabProxy(Path(workdir) / "kamailio", pki, passwords)
        proxy.start()
        try:
            out.note("Kamailio: tls:127.0.0.1:%d as sip:%s, no plaintext SIP port" % (proxy.port, PROXY_HOST))
            out.note("Alice plays %d Hz, Bob %d Hz: each must hear the other's tone" % (TONES["alice"], TONES["bob"]))
            if mute:
                out.note("--mute %s: %s sends silence, so that direction must fail" % (mute, mute))
            procs = []
            try:
                ended = asyncio.run(_call(workdir, proxy, pki, passwords, seconds, mute, out, procs))
            finally:
                _kill_leftovers(procs)
        finally:
            proxy.stop()
    finally:
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
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout (the story goes to stderr).")
def demo(seconds, mute, as_json):
    """Two simulated handsets call each other through Kamailio over TLS with
    SRTP media; each measures the other's tone. Exits non-zero unless the
    tone arrived both ways."""
    rows, elapsed, lab_dir = run_demo(seconds, mute, quiet=as_json)
    if as_json:
        result = {"directions": rows, "seconds": round(elapsed, 1), "min_snr_db": MIN_SNR_DB, "lab_dir": lab_dir}
        click.echo(json.dumps(result))
    failed = [r for r in rows if not r["arrived"]]
    if failed:
        raise DemoError(
            "the tone did not arrive: "
            + ", ".join("%s>%s (SNR %s dB)" % (r["from"], r["to"], r["snr_db"]) for r in failed)
        )
