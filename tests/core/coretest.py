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
