# Error types shared by every SIP module (re-exported by message.py).
#
# Whose fault it is decides the class, so a supervisor can tell a hostile
# or broken peer from a bug of ours without reading messages:
#
#   SipError
#   +-- RemoteSipError     the peer broke the protocol: answered with a 4xx
#   |   |                  where one can be routed, else dropped; never a
#   |   |                  local fault
#   |   +-- SipParseError  the peer's bytes are not an acceptable message
#   +-- LocalSipError      our own code asked for something impossible (CR/LF
#                          in a value, answer() on a call that is not ringing)
#
# UserAgent.receive() and UserAgent.handle_timer() handle every
# RemoteSipError themselves (PEER_ERRORS): nothing a peer sends makes them
# raise. What can still come out of them is MemoryError (the heap) or a bug:
# both local faults.


class SipError(Exception):
    pass


class RemoteSipError(SipError):
    """The peer broke the protocol (used by the transaction/dialog layers)."""


class SipParseError(RemoteSipError):
    """A peer sent bytes that are not an acceptable SIP message.

    .status  the response a server should send: 400, 413 (body over the
             limit), 414 (Request-URI over MAX_LINE), 416 (URI scheme),
             505 (SIP version), 513 (message over MAX_MESSAGE_SIZE, too many
             or too long headers, too many parameters, out of memory)
    .reason  short text, safe to log (never contains message content)
    .message the Request/Response when the start line and headers could be
             read (so a UAS can still build a stateless reply from
             Via/From/To/Call-ID/CSeq); otherwise None
    .fatal   True for stream framing errors: the connection cannot be
             resynchronised and must be closed. A well-framed bad message
             is never fatal: StreamParser returns it as an event (the error
             object itself) and the stream goes on."""

    def __init__(self, status, reason, message=None, fatal=False):
        super().__init__("%d %s" % (status, reason))
        self.status = status
        self.reason = reason
        self.message = message
        self.fatal = fatal


class LocalSipError(SipError):
    """Our own code tried to build an invalid message (e.g. CR/LF in a value)
    or called an action that does not fit the call's state."""


# The peer's errors: for `except PEER_ERRORS:` in a supervisor.
PEER_ERRORS = (RemoteSipError,)
