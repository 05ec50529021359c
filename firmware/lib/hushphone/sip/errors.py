# Error types shared by every SIP module (re-exported by message.py).


class SipError(Exception):
    pass


class SipParseError(SipError):
    """A peer sent bytes that are not an acceptable SIP message.

    .status  the response a server should send: 400, 413 (body over the
             limit), 414 (Request-URI over MAX_LINE), 505 (SIP version), 513
             (message over MAX_MESSAGE_SIZE, too many or too long headers,
             out of memory)
    .reason  short text, safe to log (never contains message content)
    .message the Request/Response when the start line and headers could be
             read but a header failed validation (so a UAS can still build a
             stateless 400 from Via/From/To/Call-ID/CSeq); otherwise None
    .fatal   True for stream framing errors: the connection cannot be
             resynchronised and must be closed"""

    def __init__(self, status, reason, message=None, fatal=False):
        super().__init__("%d %s" % (status, reason))
        self.status = status
        self.reason = reason
        self.message = message
        self.fatal = fatal


class RemoteSipError(SipError):
    """The peer broke the protocol (used by the transaction/dialog layers)."""
