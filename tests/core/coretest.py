# Helpers shared by the core tests on both runtimes.
from hushphone.compat import IS_MICROPYTHON  # noqa: F401

try:
    _HERE = __file__.rsplit("/", 1)[0]
except (AttributeError, NameError):
    _HERE = "tests/core"


def data_path(*parts):
    """Path of a file under tests/core/data."""
    return "/".join((_HERE, "data") + parts)


def read_data(*parts):
    with open(data_path(*parts), "rb") as f:
        return f.read()


def unhex(text):
    """bytes from hex text that may contain spaces and newlines (RFC style)."""
    import binascii

    return binascii.unhexlify("".join(text.split()))


def temp_dir(prefix):
    """A new directory /tmp/<prefix><random hex> (neither runtime's test
    subset has tempfile)."""
    import binascii
    import os

    from hushphone.crypto.random import random_bytes

    path = "/tmp/" + prefix + binascii.hexlify(random_bytes(8)).decode()
    os.mkdir(path)
    return path


def rmtree(path):
    """Remove a directory tree or a file; a path that is gone already is fine."""
    import os

    try:
        names = os.listdir(path)
    except OSError:
        try:
            os.remove(path)
        except OSError:
            pass
        return
    for name in names:
        rmtree(path + "/" + name)
    os.rmdir(path)


class Rng:
    """xorshift32 from a non-zero 32-bit state: the same sequence on
    CPython and MicroPython, so a failing random input replays."""

    def __init__(self, state):
        self.x = state

    def next(self):
        x = self.x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.x = x
        return x

    def below(self, n):
        return self.next() % n if n > 0 else 0

    def bytes(self, n):
        return bytearray(self.next() & 0xFF for _ in range(n))
