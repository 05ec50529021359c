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
