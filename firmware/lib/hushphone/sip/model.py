# SIP Request/Response objects, their serialisation, and the size limits
# every parser in this package enforces.
from hushphone.compat import const
from hushphone.sip.errors import LocalSipError
from hushphone.sip.headers import Headers

# Limits: a peer cannot make us hold more than this. 8 KiB covers a
# linphone/Kamailio INVITE with SDES+ZRTP SDP (~2-3 KiB) several times over;
# parsing briefly needs ~3x the message size on the ~100 KiB handset heap.
MAX_MESSAGE_SIZE = const(8192)
# Header fields (after unfolding); RFC 4475 longreq has 46.
MAX_HEADERS = const(64)
# One start line or unfolded header field, in octets.
MAX_LINE = const(2048)
# Physical lines of the header block (continuation lines included).
MAX_LINES = const(128)


def _check_field(name, value):
    if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
        raise LocalSipError("CR/LF or ':' in header field " + repr(name))


class _Message:
    is_request = False

    def __init__(self, headers, body):
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        if isinstance(body, str):
            body = body.encode()
        self.body = bytes(body)

    def start_line(self):
        raise NotImplementedError

    def to_bytes(self):
        """Wire form: canonical header names, CRLF line ends, Content-Length
        set from the body (in place of any received one, else appended)."""
        start = self.start_line()
        if "\r" in start or "\n" in start:
            raise LocalSipError("CR/LF in start line")
        # One bytes join at the end: a single large block, no str copy of
        # the whole message (the handset heap is small and fragments).
        out = [start.encode(), b"\r\n"]
        length_done = False
        for name, value in self.headers.items():
            if name == "Content-Length":
                if length_done:
                    continue
                value = str(len(self.body))
                length_done = True
            _check_field(name, value)
            out.append(("%s: %s\r\n" % (name, value)).encode())
        if not length_done:
            out.append(("Content-Length: %d\r\n" % len(self.body)).encode())
        out.append(b"\r\n")
        out.append(self.body)
        return b"".join(out)


class Request(_Message):
    is_request = True

    def __init__(self, method, uri, headers=None, body=b""):
        _Message.__init__(self, headers, body)
        self.method = method
        self.uri = str(uri)

    def start_line(self):
        return "%s %s SIP/2.0" % (self.method, self.uri)

    def __repr__(self):
        return "<Request %s %s>" % (self.method, self.uri)


class Response(_Message):
    def __init__(self, status, reason, headers=None, body=b""):
        _Message.__init__(self, headers, body)
        self.status = int(status)
        self.reason = reason

    def start_line(self):
        return "SIP/2.0 %d %s" % (self.status, self.reason)

    def __repr__(self):
        return "<Response %d %s>" % (self.status, self.reason)
