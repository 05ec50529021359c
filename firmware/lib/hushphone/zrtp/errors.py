# ZRTP errors. A peer's bad packet never raises out of the engine: it is
# dropped and counted, or answered with a ZRTP Error message and reported
# as a "failed" event. These exceptions are for the layers below the engine
# and for misuse by our own code.


class ZrtpError(Exception):
    pass


class ZrtpParseError(ZrtpError):
    """A peer's packet or message is malformed (bad CRC, wrong length...)."""


class ZrtpCrcError(ZrtpParseError):
    """The packet's CRC-32C does not match: silently discarded (RFC 6189 §5)."""


class ZrtpDhError(ZrtpError):
    """A peer's public value is unusable (1, p-1, a small-order point...)."""


class ZrtpLocalError(ZrtpError):
    """Misuse by our own code: unknown algorithm, wrong state, bad argument."""
