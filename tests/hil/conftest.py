"""The hardware-in-the-loop bench: two handsets behind serial ports, driven
by pytest-embedded's serial service (see docs/qa-guide.md).

Real handsets (flashed and provisioned beforehand):

    pytest tests/hil --embedded-services serial --count 2 \\
        --port "/dev/ttyUSB0|/dev/ttyUSB1" --hil-users "alice|bob" -p no:xdist

Without --port (CI, `make test`), each test gets a bench of simulated
handsets on loopback: a test PKI, Kamailio (TLS registrar/proxy) and two
handsets booted from firmware/main.py on the MicroPython unix port, each
console behind a pty bridge whose /dev/pts/N becomes the --port value.
The tests are the same; `hil_bench.simulated` tells them whether they may
also look at what only a simulation has (the speaker's WAV file)."""
import os

import pytest
from pytest_embedded.plugin import multi_dut_argument

from tests.hil.simdut import handset_config, start_handset
from tests.sim.kamailio import Kamailio
from tests.sim.pki import TestPki
from tests.support.runtimes import REPO

SIM_USERS = ("alice", "bob")
SIM_TONES = {"alice": 1000, "bob": 1500}


def pytest_addoption(parser):
    group = parser.getgroup("hushphone-hil")
    group.addoption("--hil-users", default=None,
                    help="SIP user of each handset on --port, '|' between them (real handsets)")


class RealBench:
    """Handsets on serial ports: all the suite knows is their SIP users."""

    simulated = False

    def __init__(self, users):
        self.users = users
        self.tones = {}
        self.handsets = []


class SimBench:
    """Kamailio and two simulated handsets, each behind a pty."""

    simulated = True

    def __init__(self, directory):
        directory = str(directory)
        self.pki = TestPki(os.path.join(directory, "pki"))
        passwords = {u: os.urandom(9).hex() for u in SIM_USERS}
        self.kamailio = Kamailio(os.path.join(directory, "kamailio"), self.pki, passwords).start()
        self.users = list(SIM_USERS)
        self.tones = dict(SIM_TONES)
        self.handsets = []
        try:
            for user in SIM_USERS:
                config = handset_config(directory, user, passwords[user], self.kamailio, self.pki.ca.cert_der,
                                        tone_hz=SIM_TONES[user])
                # Booted as a handset boots (firmware/main.py); -i: the REPL
                # follows when the app quits, as on a handset's console.
                self.handsets.append(start_handset(config, entry=(str(REPO / "firmware" / "main.py"),),
                                                   interactive=True))
        except Exception:
            self.close()
            raise

    @property
    def ports(self):
        return [h.port for h in self.handsets]

    def close(self):
        try:
            for h in self.handsets:
                h.close()
        finally:
            self.kamailio.stop()


@pytest.fixture
def hil_bench(request, tmp_path):
    ports = request.config.getoption("port", None)
    if ports:
        users = request.config.getoption("--hil-users")
        if not users:
            raise pytest.UsageError("real handsets on --port need --hil-users \"user1|user2\" (whom to dial)")
        yield RealBench(users.split("|"))
        return
    bench = SimBench(tmp_path)
    try:
        yield bench
    finally:
        bench.close()


# pytest-embedded's own fixtures, with the simulated bench as the default:
# a value given on the command line always wins.


@pytest.fixture
@multi_dut_argument
def port(request, hil_bench):
    return request.config.getoption("port", None) or "|".join(hil_bench.ports)


@pytest.fixture
@multi_dut_argument
def embedded_services(request):
    return request.config.getoption("embedded_services", None) or "serial"
