"""`hushctl sim run`: one simulated handset (the firmware on the MicroPython
unix port with the unix HAL) in this terminal. Its display and events are
printed; keys come from --keys, from our stdin (control lines such as
`key 5`, `dial bob`, `stats`, `quit`) and from clients of --control-socket
(a Unix socket that takes the same lines and receives everything the
handset prints)."""
import os
import select
import socket
import sys
import threading
import time

import click

from hushctl.cli import cli
from hushctl.errors import HushctlError
from hushctl.sim import SimError, SimHandset

_MAX_CLIENTS = 8


class ControlSocket:
    """A Unix socket server: each client's lines go to the handset, every
    handset line goes to each client."""

    def __init__(self, path, handset_send):
        if os.path.exists(path):
            raise SimError("control socket %s already exists" % path)
        self.path = path
        self._send = handset_send
        self._clients = []
        self._lock = threading.Lock()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._server.bind(path)
        except OSError as e:
            self._server.close()
            raise SimError("cannot create control socket %s: %s" % (path, e.strerror or e))
        os.chmod(path, 0o600)
        self._server.listen(_MAX_CLIENTS)
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                if len(self._clients) >= _MAX_CLIENTS:
                    conn.close()
                    continue
                self._clients.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn, conn.makefile("rb") as lines:
            for raw in lines:
                try:
                    self._send(raw.decode(errors="replace").rstrip("\r\n"))
                except SimError:
                    break
        with self._lock:
            if conn in self._clients:
                self._clients.remove(conn)

    def broadcast(self, text):
        data = (text + "\n").encode()
        with self._lock:
            for conn in list(self._clients):
                try:
                    conn.sendall(data)
                except OSError:
                    self._clients.remove(conn)

    def close(self):
        self._stop = True
        self._server.close()
        with self._lock:
            for conn in self._clients:
                conn.close()
        try:
            os.remove(self.path)
        except OSError:
            pass


@cli.group()
def sim():
    """Simulated handsets (the firmware on the MicroPython unix port)."""


@sim.command("run")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="The handset's phone.json (account, proxy, CA, audio files...).")
@click.option("--keys", default=None, help='Key script, e.g. "1,2,CALL,wait:2000,HANGUP".')
@click.option("--control-socket", default=None, type=click.Path(), help="Also take control lines on this Unix socket.")
@click.option("--seconds", default=None, type=click.FloatRange(0.1, 86400),
              help="Switch the handset off after this long (default: at the end of stdin or on `quit`).")
def sim_run(config_path, keys, control_socket, seconds):
    """Start one simulated handset and print its display and events."""

    def show(_handset, text):
        click.echo(text)
        if control is not None:
            control.broadcast(text)

    if keys:
        from hushphone.hal.unix.keys import KeyScriptError, parse_script

        try:
            parse_script(keys)  # the handset's own parser: refuse a typo before starting
        except KeyScriptError as e:
            raise SimError("--keys: %s" % e)
    control = None
    handset = SimHandset(config_path, on_line=show)
    try:
        if control_socket:
            control = ControlSocket(control_socket, handset.send)
        handset.wait_event("started", fail_on=())
        if keys:
            handset.keys(keys)
        _follow(handset, seconds, stop_at_eof=control is None)
    except KeyboardInterrupt:
        pass
    finally:
        code = handset.stop()
        if control is not None:
            control.close()
    if code not in (0, None):
        raise SimError("the handset exited with status %s" % code)


def _follow(handset, seconds, stop_at_eof):
    """Forward our stdin lines to the handset until it exits, `seconds`
    pass, or our stdin ends (when it is the only way to control it)."""
    deadline = None if seconds is None else time.monotonic() + seconds
    fd = sys.stdin.fileno() if sys.stdin is not None else None
    pending = b""
    while handset.alive():
        if deadline is not None and time.monotonic() >= deadline:
            return
        if fd is None:
            time.sleep(0.1)
            continue
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        data = os.read(fd, 4096)  # raw reads: no buffered lines hidden from select
        if not data:
            fd = None
            if stop_at_eof and deadline is None:
                return  # the end of our input: switch off
            continue
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            try:
                handset.send(line.decode(errors="replace"))
            except HushctlError:
                return
