"""Simulated handsets: the firmware's phone application
(hushphone.app.phone) on the MicroPython unix port with the unix HAL.

    with SimHandset(config_path) as phone:      # starts the process
        phone.wait_event("registered")
        phone.key("SOFT1"); phone.send("dial bob")
        ev = phone.wait_event("in_call")

A handset is one process; its console is its stdin/stdout: control lines
in (`key 5`, `dial bob`, `stats`, `quit`), display frames and
`@event {json}` lines out. `hushctl sim run` and `hushctl demo` are built on
this, and so are the end-to-end tests. The config file holds the SIP
password: it is written 0600 and never printed."""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from hushctl.errors import HushctlError

EVENT_PREFIX = "@event "
START_TIMEOUT_S = 30.0
_REQUIRED = ("account", "root")
_FAIL_EVENTS = ("registration_failed", "connection_lost")
EXIT_RESET = 4  # firmware/main.py: reset into an installed update
MAX_RESETS = 20  # per SimHandset: a reset loop ends there


class SimError(HushctlError):
    """A simulated handset could not start, or did not do what was expected."""


def firmware_lib():
    import hushphone

    return Path(hushphone.__file__).resolve().parent.parent


def micropython_exe():
    exe = Path(sys.executable).parent / "micropython"
    if exe.exists():
        return str(exe)
    found = shutil.which("micropython")
    if found is None:
        raise SimError("the MicroPython unix port is not installed: run `make venv`")
    return found


def load_config(path):
    """The handset config (phone.json), checked, with the simulation's
    defaults filled in (files under its root directory)."""
    path = Path(path)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise SimError("cannot read %s: %s" % (path, e.strerror or e))
    except ValueError as e:
        raise SimError("%s is not JSON: %s" % (path, e))
    if not isinstance(config, dict):
        raise SimError("%s: the config must be a JSON object" % path)
    for key in _REQUIRED:
        if key not in config:
            raise SimError("%s: missing %r" % (path, key))
    account = config["account"]
    if not isinstance(account, dict) or not account.get("user"):
        raise SimError("%s: account needs at least a user" % path)
    root = Path(config["root"])
    if not root.is_absolute():
        root = (path.parent / root).resolve()
    config["root"] = str(root)
    config["ca_der"] = [str((path.parent / p).resolve()) for p in config.get("ca_der", [])]
    for p in config["ca_der"]:
        if not os.path.exists(p):
            raise SimError("%s: CA certificate %s does not exist" % (path, p))
    for key in ("tls_cert_der", "tls_key_der"):  # the handset's own identity (mutual TLS, direct calls)
        if config.get(key):
            config[key] = str((path.parent / config[key]).resolve())
            if not os.path.exists(config[key]):
                raise SimError("%s: %s %s does not exist" % (path, key, config[key]))
    config.setdefault("name", account["user"])
    config.setdefault("calllog_path", str(root / "calls.json"))
    config.setdefault("contacts_path", str(root / "contacts.vcf"))
    config.setdefault("display_width", 24)
    config.setdefault("display_height", 8)
    return config


def write_config(path, config):
    """Write a handset config readable by its owner only (it holds the
    SIP password)."""
    path = Path(path)
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(config, f)
    return path


class SimHandset:
    """One simulated handset process and what it said.

    lines: every output line; events: the parsed @event lines. on_line(h,
    text) sees each line as it arrives (for printing)."""

    def __init__(self, config_path, on_line=None, heapsize=None):
        self.config_path = Path(config_path)
        self.config = load_config(config_path)
        self.name = self.config["name"]
        self.on_line = on_line
        self.lines = []
        self.events = []
        self._cond = threading.Condition()
        self._exited = False
        Path(self.config["root"]).mkdir(parents=True, exist_ok=True)
        # The handset reads the completed config (absolute paths, defaults).
        self._run_config = write_config(Path(self.config["root"]) / "phone.run.json", self.config)
        self.resets = 0  # resets into an installed update (the process started again)
        self._stopping = False
        self._cmd, self._env = self._command(heapsize)
        self.proc = self._spawn()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _command(self, heapsize):
        env = dict(os.environ)
        env["MICROPYPATH"] = os.pathsep.join([str(firmware_lib()), ".frozen"])
        cmd = [micropython_exe()]
        if heapsize:
            cmd += ["-X", "heapsize=%s" % heapsize]
        entry = firmware_lib().parent / "main.py"  # the device's own entry point, when the tree has it
        cmd += [str(entry)] if entry.exists() else ["-m", "hushphone.app.phone"]
        cmd.append(str(self._run_config))
        return cmd, env

    def _spawn(self):
        return subprocess.Popen(self._cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=self._env, cwd=self.config["root"], start_new_session=True)

    def _read(self):
        """Every line of the handset, across resets: main.py exits with
        EXIT_RESET to reset into an installed update, and the handset
        starts again (main.py boots it through the simulated bootloader)."""
        while True:
            proc = self.proc
            self._read_process(proc)
            code = proc.wait()
            with self._cond:
                again = code == EXIT_RESET and not self._stopping and self.resets < MAX_RESETS
                if again:
                    self.resets += 1
                    self.proc = self._spawn()
                    self._cond.notify_all()
            if not again:
                break
            for pipe in (proc.stdin, proc.stdout):  # the old process's: closed
                try:
                    pipe.close()
                except OSError:
                    pass
        with self._cond:
            self._exited = True
            self._cond.notify_all()

    def _read_process(self, proc):
        for raw in proc.stdout:
            text = raw.decode("utf-8", errors="replace").rstrip("\n")
            event = None
            if text.startswith(EVENT_PREFIX):
                try:
                    event = json.loads(text[len(EVENT_PREFIX):])
                except ValueError:
                    event = None
            with self._cond:
                self.lines.append(text)
                if isinstance(event, dict):
                    self.events.append(event)
                self._cond.notify_all()
            if self.on_line is not None:
                self.on_line(self, text)

    def alive(self):
        """The handset runs (or is resetting into an update)."""
        with self._cond:
            return not self._exited

    # -- control -------------------------------------------------------------

    def send(self, line):
        """One console line (`key 5`, `dial bob`, `stats`...)."""
        proc = self._current_process()
        try:
            proc.stdin.write((line + "\n").encode())
            proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise SimError("%s: cannot talk to the handset: %s" % (self.name, e))

    def _current_process(self, timeout=START_TIMEOUT_S):
        """The running process; while the handset resets, the next one."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.proc.poll() is not None:
                if self._exited or time.monotonic() > deadline:
                    raise SimError("%s: the handset process has exited" % self.name)
                self._cond.wait(0.1)
            return self.proc

    def key(self, name):
        self.send("key %s" % name)

    def keys(self, script):
        self.send("keys %s" % script)

    # -- waiting -------------------------------------------------------------

    def find_events(self, name, where=None):
        with self._cond:
            return [e for e in self.events if e.get("event") == name and (where is None or where(e))]

    def wait_event(self, name, timeout=START_TIMEOUT_S, count=1, where=None, fail_on=_FAIL_EVENTS):
        """The count-th event `name` (matching `where`). SimError on
        timeout, when the process exits first, or on a `fail_on` event."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [e for e in self.events if e.get("event") == name and (where is None or where(e))]
                if len(found) >= count:
                    return found[count - 1]
                for e in self.events:
                    if e.get("event") in fail_on and e.get("event") != name:
                        raise SimError("%s: %s while waiting for %s: %s" % (
                            self.name, e["event"], name, e.get("reason") or e.get("status")))
                if self._exited:
                    raise SimError("%s: the handset exited while waiting for %s; last output:\n%s" % (
                        self.name, name, "\n".join(self.lines[-20:])))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SimError("%s: no %s within %.0f s; last output:\n%s" % (
                        self.name, name, timeout, "\n".join(self.lines[-30:])))
                self._cond.wait(min(remaining, 1.0))

    def stats(self, timeout=START_TIMEOUT_S):
        """A fresh stats event (registration, state, calls, screen)."""
        count = len(self.find_events("stats")) + 1
        self.send("stats")
        return self.wait_event("stats", timeout, count=count, fail_on=())

    # -- life cycle ----------------------------------------------------------

    def stop(self, timeout=15.0):
        """Quit (hang up, unregister) and wait; killed if it does not stop.
        Returns the exit code."""
        with self._cond:
            self._stopping = True
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.stdin.close()
            except (SimError, OSError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reader.join(timeout)
        return self.proc.returncode

    def kill(self):
        with self._cond:
            self._stopping = True
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

