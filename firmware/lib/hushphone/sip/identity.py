# Fresh random identifiers for everything SIP puts on the wire (privacy:
# nothing persistent, nothing derived from a MAC address or serial number),
# and the anonymous identity of RFC 3323. `random_bytes(n)` is passed in.
import binascii

MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7
ANONYMOUS_FROM = '"Anonymous" <sip:anonymous@anonymous.invalid>'


def _token(random_bytes, n):
    return binascii.hexlify(random_bytes(n)).decode()


def new_call_id(random_bytes):
    return _token(random_bytes, 16)


def new_tag(random_bytes):
    return _token(random_bytes, 8)


def new_branch(random_bytes):
    return MAGIC_COOKIE + _token(random_bytes, 12)


def new_contact_user(random_bytes):
    return _token(random_bytes, 10)


def new_host(random_bytes):
    """A host name that resolves nowhere (RFC 6761 .invalid): the registrar
    reaches us over the registration connection, never by this name."""
    return _token(random_bytes, 6) + ".invalid"


def new_cseq(random_bytes):
    """An initial CSeq number (RFC 3261 §8.1.1.5: below 2**31); random so
    that not even the counter links two calls."""
    b = random_bytes(3)
    return 1 + ((b[0] << 16) | (b[1] << 8) | b[2])


def random_fraction(random_bytes, low_percent, high_percent, value):
    """value scaled by a uniform random percentage in [low, high] (jitter)."""
    b = random_bytes(2)
    r = (b[0] << 8) | b[1]  # 0..65535
    percent_x = low_percent * 65535 + (high_percent - low_percent) * r
    return value * percent_x // (100 * 65535)
