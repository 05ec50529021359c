"""The MicroPython unix port on a pseudo-terminal, as mpremote sees a board
on a serial port (raw REPL works on a pty in raw mode)."""
import contextlib
import os
import pty
import subprocess
import tty

from tests.support.runtimes import micropython_exe


@contextlib.contextmanager
def micropython_on_a_pty(cwd, env, args=()):
    """Yields the pty's device name; the port runs in `cwd` with `env`
    (and `args`, e.g. ["-i", "setup.py"] to prepare it before its REPL)."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    proc = subprocess.Popen([micropython_exe()] + list(args), stdin=master, stdout=master, stderr=master, cwd=str(cwd),
                            env=env, start_new_session=True)
    try:
        yield os.ttyname(slave)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        os.close(master)
        os.close(slave)
