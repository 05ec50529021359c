# Stream framing (RFC 3261 §18.3, RFC 5626 §3.5.1) for SIP over TLS/TCP:
# bytes in through feed(), whole messages and keepalives out of next_event().
from hushphone.sip.errors import SipParseError
from hushphone.sip.model import MAX_HEADERS, MAX_LINE, MAX_MESSAGE_SIZE
from hushphone.sip.parser import content_length, parse_head, validate

_CRLF = b"\r\n"
_CRLFCRLF = b"\r\n\r\n"


class StreamParser:
    """feed(data) then call next_event() until it returns None. Events:
    a Request/Response; "ping" (CRLFCRLF keepalive from the peer, answer with
    CRLF); "pong" (a lone CRLF, the answer to our ping).

    Content-Length is mandatory on streams. The contract with the
    transport, the two kinds of bad input:
    - the message is bad, the stream is fine: a complete, well-framed
      message with a bad start line or header is consumed and RETURNED as
      an event, the SipParseError itself (.fatal False, .message holding
      what could be read, for a 4xx). Hand it to UserAgent.receive() like
      any event; the connection and its calls go on.
    - the stream framing is lost (no or bad Content-Length, unreadable
      header block, over a size cap): next_event()/feed() RAISE
      SipParseError with .fatal True; close the connection. The parser
      refuses further use."""

    def __init__(self, max_message=MAX_MESSAGE_SIZE, max_headers=MAX_HEADERS, max_line=MAX_LINE):
        self.max_message = max_message
        self.max_headers = max_headers
        self.max_line = max_line
        self._buf = bytearray()
        self._pos = 0  # start of unconsumed data in _buf
        self._pending = None  # (message without body, body start, length)
        self._error = None

    def buffered(self):
        """Octets received but not yet returned as events."""
        return len(self._buf) - self._pos

    def feed(self, data):
        if self._error is not None:
            raise self._error
        if self._pos and self._pos >= len(self._buf) // 2 and self._pending is None:
            # Drop consumed octets now and then, not on every read (never
            # under a pending message: its body offsets point into _buf).
            self._buf = self._buf[self._pos :]
            self._pos = 0
        try:
            self._buf.extend(data)
        except MemoryError:
            self._fail(513, "out of memory")  # the heap, not the peer: still, this stream is lost
        # Bound memory even if the caller feeds without draining events.
        if len(self._buf) - self._pos > 2 * self.max_message + 4:
            self._fail(513, "Message Too Large")

    def _fail(self, status, reason):
        self._error = SipParseError(status, reason, None, True)
        raise self._error

    def next_event(self):
        if self._error is not None:
            raise self._error
        try:
            return self._next()
        except SipParseError as e:
            if e.fatal:
                self._error = e
            raise
        except MemoryError:
            self._fail(513, "out of memory")
        except Exception:
            self._fail(400, "internal parser error")

    def _next(self):
        buf = self._buf
        pos = self._pos
        if self._pending is None:
            avail = len(buf) - pos
            if avail >= 2 and buf[pos : pos + 2] == _CRLF:
                if avail >= 4 and buf[pos : pos + 4] == _CRLFCRLF:
                    self._pos = pos + 4
                    return "ping"
                if avail == 3 and buf[pos + 2] == 13:
                    return None  # maybe the first 3 octets of a ping
                # A whole TLS record holding "\r\n" is a pong (RFC 5626
                # §4.4.1); a ping is never split across records by our peers.
                self._pos = pos + 2
                return "pong"
            end = buf.find(_CRLFCRLF, pos)
            if end < 0:
                if avail > self.max_message:
                    self._fail(513, "Message Too Large")
                return None
            if end - pos > self.max_message:
                self._fail(513, "Message Too Large")
            view = memoryview(buf)  # decode in place, no copy of the header
            refused = None
            try:
                try:
                    msg = parse_head(view[pos:end], self.max_headers, self.max_line)
                except SipParseError as e:
                    if e.message is None:
                        raise
                    refused, msg = e, e.message  # a refused request line: framed by its Content-Length
                length = content_length(msg)
            except SipParseError as e:
                e.fatal = True  # the parser is closed: buf never grows again
                raise
            view = None  # CPython: release the export so buf can grow
            if length is None:
                self._fail(400, "missing Content-Length")
            if length > self.max_message - (end - pos):
                self._fail(413, "Request Entity Too Large")
            self._pending = (msg, end + 4, length, refused)
        msg, start, length, refused = self._pending
        if len(buf) - start < length:
            return None
        self._pending = None
        self._pos = start + length
        msg.body = bytes(memoryview(buf)[start : start + length])
        if refused is not None:
            return refused
        try:
            validate(msg)
        except SipParseError as e:
            return e  # well framed: the message is bad, the stream is fine
        return msg
