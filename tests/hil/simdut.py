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

Two ptys rather than one because a pty's slave path can be opened only by
one side: the handset holds one slave as its terminal (the unix port's
console and raw REPL need a real tty), the tester opens the other. The
bridge keeps what the handset prints while no tester has the port open
(bounded), as a UART FIFO would not, so early boot lines are not lost.
Everything is stopped by close(); the handset runs in its own session."""
import os
import select
import signal
import subprocess
import threading
import time
import tty

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

    def text(self):
        return self.transcript.decode("utf-8", "replace")

    def close(self, timeout=10):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=timeout)
        self._stop.set()
        self._thread.join(timeout=timeout)
        for fd in (self._port_master, self._port_slave, self._dut_master):
            try:
                os.close(fd)
            except OSError:
                pass
