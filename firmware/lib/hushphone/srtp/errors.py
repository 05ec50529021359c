# SRTP errors. A peer's bad packet raises one of the Remote-side classes
# (and is counted on the context); misuse by our own code raises
# SrtpLocalError. All are SrtpError, so one except clause drops a packet.


class SrtpError(Exception):
    """Base class of every error hushphone.srtp raises."""


class SrtpAuthError(SrtpError):
    """The authentication tag does not match: forged or corrupted packet."""


class SrtpReplayError(SrtpError):
    """The packet index was already seen or is older than the replay window."""


class SrtpMalformedError(SrtpError):
    """The packet is too short, not RTP/RTCP version 2, or its header does
    not fit."""


class SrtpStreamLimitError(SrtpError):
    """An authentic packet from one SSRC too many (the context tracks a
    bounded number of SSRCs)."""


class SrtpLocalError(SrtpError):
    """Local misuse: unknown suite, wrong key or salt size, a malformed
    packet handed to protect(), a reused sequence number, an exhausted
    packet index (re-key needed)."""
