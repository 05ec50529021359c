# TURN server URIs (RFC 7065): turn:host[:port][?transport=udp|tcp] and
# turns:host[:port][?transport=tcp]. Sans-IO.
DEFAULT_PORT = 3478
DEFAULT_TLS_PORT = 5349


class TurnUriError(ValueError):
    pass


class TurnUri:
    """scheme "turn" or "turns"; host (an IPv6 host without brackets);
    port; transport "udp", "tcp" or "tls" (turns)."""

    def __init__(self, scheme, host, port, transport):
        self.scheme = scheme
        self.host = host
        self.port = port
        self.transport = transport

    def __repr__(self):
        return "TurnUri(%s %s:%d %s)" % (self.scheme, self.host, self.port, self.transport)


def parse(text):
    if text.startswith("turns:"):
        scheme, rest = "turns", text[6:]
    elif text.startswith("turn:"):
        scheme, rest = "turn", text[5:]
    else:
        raise TurnUriError("not a turn: or turns: URI")
    rest, _, query = rest.partition("?")
    transport = None
    if query:
        key, _, value = query.partition("=")
        if key != "transport" or value not in ("udp", "tcp"):
            raise TurnUriError("only ?transport=udp or ?transport=tcp")
        transport = value
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise TurnUriError("bad IPv6 host")
        host, port_text = rest[1:end], rest[end + 1:]
        if port_text and not port_text.startswith(":"):
            raise TurnUriError("bad port")
        port_text = port_text[1:]
    else:
        host, _, port_text = rest.partition(":")
    if not host:
        raise TurnUriError("no host")
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
            raise TurnUriError("bad port")
        port = int(port_text)
    else:
        port = DEFAULT_TLS_PORT if scheme == "turns" else DEFAULT_PORT
    if scheme == "turns":
        if transport == "udp":
            raise TurnUriError("turns: runs over TLS (TCP)")
        transport = "tls"
    return TurnUri(scheme, host, port, transport or "udp")
