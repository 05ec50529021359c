"""Fixtures for the SIP interop tests: one test PKI and one Kamailio per
test session (per xdist worker), started by the tests and stopped after;
`lab`, two or more simulated handsets with their own PKI and Kamailio."""
import shutil

import pytest

from tests.sim.kamailio import KAMAILIO, Kamailio
from tests.sim.phone_lab import PhoneLab
from tests.sim.pki import TestPki

USERS = {"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret", "lin": "lin-secret"}


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return TestPki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def kamailio(tmp_path_factory, pki):
    assert shutil.which(KAMAILIO), "kamailio is not installed (see system-packages.txt)"
    k = Kamailio(tmp_path_factory.mktemp("kamailio"), pki, USERS)
    k.start()
    yield k
    k.stop()


@pytest.fixture
def lab(tmp_path):
    lab = PhoneLab(tmp_path)
    yield lab
    lab.close()
