"""Starts simulated handsets running the update agent (MicroPython unix
port processes, one root and one loopback port each) for the fleet tests."""
import os
import select
import time

from tests.sim.ota_sim import free_port, parse_events, start_handset


class Agent:
    def __init__(self, root, proc, port):
        self.root = root
        self.proc = proc
        self.port = port
        self.address = "127.0.0.1:%d" % port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def wait_exit(self, timeout=60):
        return self.proc.wait(timeout)


def _wait_ready(proc, deadline):
    # Raw reads of the pipe: a buffered readline() could leave the "ready"
    # line in Python's buffer, where select() never sees it.
    fd = proc.stdout.fileno()
    buf = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                return False  # the process ended (e.g. its port was taken)
            buf += chunk
            if any(e.get("event") == "ready" for e in parse_events(buf.decode(errors="replace"))):
                return True
        elif proc.poll() is not None:
            return False
    return False


def start_agent(root, pki, attempts=3, timeout=60, identity=None):
    """Boot the handset at `root` and serve pushes on a free loopback port
    (its certificate from the fleet CA, technicians checked against it;
    `identity`: its own KeyPair instead of the shared server one)."""
    identity = identity or pki.server
    for _ in range(attempts):
        port = free_port()
        proc = start_handset(root, "agent", port, identity.cert_der, identity.key_der, pki.ca.cert_der)
        if _wait_ready(proc, time.monotonic() + timeout):
            return Agent(root, proc, port)
        proc.kill()
        proc.wait(10)
        err = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    raise AssertionError("agent for %s did not start: %s" % (root, err))
