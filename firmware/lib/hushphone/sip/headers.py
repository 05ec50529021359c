# SIP header fields: the ordered, case-insensitive Headers multi-map with
# compact forms (RFC 3261 §7.3.3, §20), and parsers for the structured values
# the core needs: name-addr (From/To/Contact/Route), Via, CSeq and the
# authentication challenge/credential syntax (§25.1, RFC 7616 grammar).
from hushphone.sip.errors import SipParseError
from hushphone.sip.syntax import (
    DIGITS,
    NO_PARAMS,
    WSP_CHARS,
    Params,
    is_token,
    parse_header_params,
    parse_uint,
    quote,
    scan_quoted,
    scan_token,
    skip_lws,
    span,
    split_commas,
)
from hushphone.sip.uri import parse_host_port, parse_uri_at

# Compact form -> canonical name (RFC 3261 §7.3.3 and the IANA registry).
COMPACT = {
    "v": "Via",
    "f": "From",
    "t": "To",
    "i": "Call-ID",
    "m": "Contact",
    "l": "Content-Length",
    "c": "Content-Type",
    "k": "Supported",
    "s": "Subject",
    "e": "Content-Encoding",
    "o": "Event",
    "r": "Refer-To",
    "b": "Referred-By",
    "u": "Allow-Events",
    "x": "Session-Expires",
    "a": "Accept-Contact",
    "j": "Reject-Contact",
    "d": "Request-Disposition",
    "y": "Identity",
    "n": "Identity-Info",
}

# Canonical spelling of known headers, looked up by lower-case name.
_KNOWN = (
    "Accept Accept-Contact Accept-Encoding Accept-Language Alert-Info Allow Allow-Events "
    "Authentication-Info Authorization Call-ID Call-Info Contact Content-Disposition "
    "Content-Encoding Content-Language Content-Length Content-Type CSeq Date Error-Info Event "
    "Expires Identity Identity-Info In-Reply-To Max-Forwards Min-Expires Min-SE MIME-Version "
    "Organization P-Asserted-Identity P-Preferred-Identity Path Priority Privacy "
    "Proxy-Authenticate Proxy-Authorization Proxy-Require RAck Reason Record-Route Refer-To "
    "Referred-By Reject-Contact Replaces Reply-To Request-Disposition Require Retry-After "
    "Route RSeq Security-Client Security-Server Security-Verify Server Service-Route "
    "Session-Expires Subject Subscription-State Supported Timestamp To Unsupported "
    "User-Agent Via Warning WWW-Authenticate From"
).split()
# lower-case name or compact form -> (lookup key, canonical spelling)
_NAMES = {}
for _name in _KNOWN:
    _NAMES[_name.lower()] = (_name.lower(), _name)
for _short, _name in COMPACT.items():
    _NAMES[_short] = (_name.lower(), _name)
# The same, looked up by the name exactly as received (no lower()).
_EXACT = {}
for _name in _KNOWN:
    _EXACT[_name] = _NAMES[_name.lower()]
for _short in COMPACT:
    _EXACT[_short] = _NAMES[_short]
    _EXACT[_short.upper()] = _NAMES[_short]
# The same for the parser reading names in place: first octet << 8 | length
# -> ((octets, key, canonical), ...); a small int key needs no slice.
EXACT_OCTETS = {}
for _name, _known in _EXACT.items():
    _k = ord(_name[0]) << 8 | len(_name)
    EXACT_OCTETS[_k] = EXACT_OCTETS.get(_k, ()) + ((_name.encode(), _known[0], _known[1]),)

# Headers whose grammar is a comma-separated list (get_all splits them).
# Never the auth headers (commas inside challenges) nor Date.
LIST_HEADERS = (
    "via route record-route contact allow supported require proxy-require unsupported accept "
    "accept-encoding accept-language content-encoding content-language allow-events path "
    "service-route accept-contact reject-contact in-reply-to call-info alert-info error-info "
    "security-client security-server security-verify"
).split()


def canonical_name(name):
    """The canonical spelling of a header name (compact forms expanded);
    unknown names are returned unchanged."""
    known = _NAMES.get(name.lower())
    return name if known is None else known[1]


def _key(name):
    known = _EXACT.get(name)  # the usual spelling: no lower() copy per lookup
    if known is not None:
        return known[0]
    low = name.lower()
    known = _NAMES.get(low)
    return low if known is None else known[0]


def field_name(name):
    """(lookup key, canonical name) of a header name: a name spelled
    canonically (or a compact form as sent) needs no lower() and no new
    object at all; an unknown name is its own canonical spelling."""
    known = _EXACT.get(name)
    if known is not None:
        return known
    low = name.lower()
    known = _NAMES.get(low)
    return (low, name) if known is None else known


def _select(keys, values, key):
    """The values whose key is key, in order."""
    out = []
    n = keys.count(key)
    i = -1
    while n:
        i = keys.index(key, i + 1)
        out.append(values[i])
        n -= 1
    return out


class Headers:
    """Ordered multi-map of header fields. Names compare case-insensitively
    and compact forms count as their full names; values are str, unfolded,
    without surrounding whitespace.
    Stored as three parallel lists (lookup keys, names, values): no list
    per field on the handset's heap, and a lookup is one C-level search
    of the keys (in/index/count) rather than a Python loop."""

    def __init__(self, items=None, keys=None, names=None, values=None):
        # keys/names/values: the parser's own lists, taken as they are.
        self._keys = [] if keys is None else keys
        self._names = [] if names is None else names
        self._values = [] if values is None else values
        if items is not None:
            self._add_items(items)

    def _add_items(self, items):
        if isinstance(items, dict):
            items = items.items()
        elif isinstance(items, Headers):
            items = items.items()
        for name, value in items:
            self.add(name, value)

    def _insert(self, i, name, value):
        key, canonical = field_name(name)
        self._keys.insert(i, key)
        self._names.insert(i, canonical)
        self._values.insert(i, value if isinstance(value, str) else str(value))

    def add(self, name, value):
        key, canonical = field_name(name)
        self._keys.append(key)
        self._names.append(canonical)
        self._values.append(value if isinstance(value, str) else str(value))

    def prepend(self, name, value):
        self._insert(0, name, value)

    def _delete(self, key, start):
        """Remove every field with this key at or after index start."""
        keys = self._keys
        i = len(keys) - 1
        while i >= start:
            if keys[i] == key:
                del keys[i]
                del self._names[i]
                del self._values[i]
            i -= 1

    def set(self, name, value):
        """Replace every field called name by one (at the first one's place)."""
        key = _key(name)
        keys = self._keys
        if key not in keys:
            self.add(name, value)
            return
        i = keys.index(key)
        self._values[i] = str(value)
        self._delete(key, i + 1)

    def remove(self, name):
        self._delete(_key(name), 0)

    def get(self, name, default=None):
        known = _EXACT.get(name)
        key = known[0] if known is not None else _key(name)
        keys = self._keys
        if key in keys:
            return self._values[keys.index(key)]
        return default

    def get_fields(self, name):
        """Every field value as received (list headers not split)."""
        known = _EXACT.get(name)
        return _select(self._keys, self._values, known[0] if known is not None else _key(name))

    def get_all(self, name):
        """Every value; comma lists split for list headers (empty elements
        dropped), except a lone '*' Contact."""
        key = _key(name)
        values = self.get_fields(name)
        if key not in LIST_HEADERS:
            return values
        out = []
        for value in values:
            for part in split_commas(value):
                if part:
                    out.append(part)
        return out

    def count(self, name):
        return self._keys.count(_key(name))

    def __contains__(self, name):
        return _key(name) in self._keys

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(self.items())

    def items(self):
        values = self._values
        out = []
        i = 0
        for name in self._names:
            out.append((name, values[i]))
            i += 1
        return out

    def copy(self):
        h = Headers()
        h._keys = list(self._keys)
        h._names = list(self._names)
        h._values = list(self._values)
        return h

    def __eq__(self, other):
        return isinstance(other, Headers) and self._keys == other._keys and self._values == other._values

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return "Headers(%r)" % (self.items(),)


def _bad(reason):
    return SipParseError(400, reason)


class NameAddr:
    """From/To/Contact/Route value: display name (unquoted str or None),
    uri (SipUri) and header parameters (Params: tag, expires, q, ...)."""

    def __init__(self, uri, display=None, params=None):
        self.uri = uri
        self.display = display
        self.params = params if isinstance(params, Params) else Params(params)

    @property
    def tag(self):
        return self.params.get("tag")

    def __str__(self):
        out = []
        if self.display is not None:
            out.append(quote(self.display))
            out.append(" ")
        out.append("<")
        out.append(str(self.uri))
        out.append(">")
        out.append(self.params.to_str(";"))
        return "".join(out)

    def __repr__(self):
        return "NameAddr(%r)" % str(self)

    def copy(self):
        return NameAddr(self.uri.copy(), self.display, self.params.copy())


def parse_name_addr(text, build=True):
    """name-addr or addr-spec with header parameters (RFC 3261 §20.10,
    §20.20, §20.39). In the addr-spec form everything after the first ';'
    is a header parameter and the URI may not contain '?' or ','.
    build=False only checks it (returns None, builds no objects)."""
    if not isinstance(text, str):
        raise _bad("value is not text")
    n = len(text)
    i = 0
    while text.startswith(WSP_CHARS, i):  # (inline: a call costs more on MicroPython)
        i += 1
    display = None
    if text.startswith('"', i):
        display, i = scan_quoted(text, i)
        while text.startswith(WSP_CHARS, i):
            i += 1
        if not text.startswith("<", i):
            raise _bad("display name without <uri>")
    else:
        lt = text.find("<", i)
        # A '<' after a ':' belongs to a parameter of an addr-spec (e.g.
        # ;+sip.instance="<urn:...>"): display names have no ':'.
        if lt >= 0 and text.find(":", i, lt) < 0:
            if lt > i:
                words = text[i:lt].split()
                for word in words:
                    if not is_token(word):
                        raise _bad("bad display name")
                if words:
                    display = " ".join(words)
            i = lt
    if text.startswith("<", i):
        gt = text.find(">", i)
        if gt < 0:
            raise _bad("unterminated <uri>")
        uri = parse_uri_at(text, i + 1, gt, build)
        i = gt + 1
    else:
        start = i
        while i < n and text[i] not in " \t;,?<>\"":
            i += 1
        if i < n and text[i] not in " \t;":
            raise _bad("bad addr-spec")
        uri = parse_uri_at(text, start, i, build)
    if i < n:
        params = parse_header_params(text, i, build)
    elif not build:
        return None
    else:
        params = NO_PARAMS  # (no call for the usual value without parameters)
    if not build:
        return None
    return NameAddr(uri, display, params)


class Via:
    """One Via value: transport (upper case), host (IPv6 without brackets),
    port (int or None) and params (branch, received, rport (None when empty),
    maddr, ttl, ...)."""

    def __init__(self, transport, host, port=None, params=None):
        self.transport = transport if transport.isupper() else transport.upper()
        self.host = host
        self.port = port
        self.params = params if isinstance(params, Params) else Params(params)

    @property
    def branch(self):
        return self.params.get("branch")

    def sent_by(self):
        host = "[" + self.host + "]" if ":" in self.host else self.host
        return host if self.port is None else "%s:%d" % (host, self.port)

    def __str__(self):
        return "SIP/2.0/%s %s%s" % (self.transport, self.sent_by(), self.params.to_str(";"))

    def __repr__(self):
        return "Via(%r)" % str(self)

    def copy(self):
        return Via(self.transport, self.host, self.port, self.params.copy())


_TRANSPORTS = ("TLS", "TCP", "UDP")
_LWS_OR_COLON = (" ", "\t", ":")


def parse_via(text, build=True):
    """One via-parm: 'SIP / 2.0 / transport sent-by *(; param)' with LWS
    allowed around '/', ':', ';' and '=' (RFC 3261 §25.1, RFC 4475 wsinv).
    build=False only checks it (returns None)."""
    if not isinstance(text, str):
        raise _bad("value is not text")
    n = len(text)
    i = 0
    while text.startswith(WSP_CHARS, i):  # (inline: a call costs more on MicroPython)
        i += 1
    if text.startswith("SIP/2.0/", i):
        # The usual spelling: no LWS around '/' (one slice, no list).
        j = text.find(" ", i + 8)
        transport = None
        for known in _TRANSPORTS:  # no string of its own for the usual ones
            if j - i - 8 == len(known) and text.startswith(known, i + 8):
                transport = known
                break
        else:
            if j > i + 8:
                transport = text[i + 8 : j]
                if not is_token(transport):
                    transport = None
        if transport is not None:
            return _parse_via_rest(text, skip_lws(text, j), transport, build)
    parts = []
    for k in range(3):
        token, i = scan_token(text, i)
        if not token:
            raise _bad("bad Via protocol")
        parts.append(token)
        i = skip_lws(text, i)
        if k < 2:
            if i >= n or text[i] != "/":
                raise _bad("bad Via protocol")
            i = skip_lws(text, i + 1)
    if parts[0].upper() != "SIP" or parts[1] != "2.0":
        raise SipParseError(505, "Version Not Supported") if parts[0].upper() == "SIP" else _bad("bad Via protocol")
    return _parse_via_rest(text, i, parts[2], build)


def _parse_via_rest(text, i, transport, build=True):
    """sent-by and parameters of a Via from text[i] on."""
    n = len(text)
    if i >= n:
        raise _bad("Via without sent-by")
    host, port, i = parse_host_port(text, i)
    if port is None and text.startswith(_LWS_OR_COLON, i):
        j = skip_lws(text, i)
    else:
        j = i
    if port is None and text.startswith(":", j):
        # LWS around the port colon (sent-by = host [ COLON port ]).
        start = skip_lws(text, j + 1)
        i = span(text, start, DIGITS)
        port = parse_uint(text[start:i], 65535, "port")
    params = parse_header_params(text, i, build)  # consumes the rest or raises
    if not build:
        if params is not None and "branch" in params:  # (the names without a value)
            raise _bad("branch without value")
        return None
    if "branch" in params and params["branch"] is None:
        raise _bad("branch without value")
    return Via(transport, host, port, params)


# Methods by length: a known one is matched in place (no new string).
METHODS_BY_LENGTH = {}
for _method in ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "UPDATE", "INFO", "REFER", "NOTIFY", "SUBSCRIBE", "MESSAGE"):
    METHODS_BY_LENGTH[len(_method)] = METHODS_BY_LENGTH.get(len(_method), ()) + (_method,)


def parse_cseq(text):
    """'CSeq: 0009 INVITE' -> (9, 'INVITE'). Sequence numbers are 32-bit."""
    if not isinstance(text, str):
        raise _bad("value is not text")
    # The usual form, 'digits SP method': cut by index (no list), the
    # method matched in place when it is a known one.
    sp = text.find(" ")
    for method in METHODS_BY_LENGTH.get(len(text) - sp - 1, ()) if 0 < sp <= 10 else ():
        if text.startswith(method, sp + 1):
            digits = text[:sp]
            if digits.strip(DIGITS):
                break
            number = int(digits)
            if number > 0xFFFFFFFF:
                raise _bad("CSeq too large")
            return number, method
    parts = text.split()
    if len(parts) != 2:
        raise _bad("bad CSeq")
    number = parse_uint(parts[0], 0xFFFFFFFF, "CSeq")
    if not is_token(parts[1]):
        raise _bad("bad CSeq method")
    return number, parts[1]


def _scan_auth_param(text, i):
    """name = (token | quoted-string) at text[i:] -> (name, value, i)."""
    n = len(text)
    name, i = scan_token(text, i)
    if not name:
        raise _bad("bad auth parameter")
    i = skip_lws(text, i)
    if i >= n or text[i] != "=":
        raise _bad("bad auth parameter")
    i = skip_lws(text, i + 1)
    if i < n and text[i] == '"':
        value, i = scan_quoted(text, i)
    else:
        # token68-style values may carry '/' and '=' (base64 in Basic).
        value, i = scan_token(text, i, "/=:@")
    return name.lower(), value, skip_lws(text, i)


def parse_challenges(text):
    """Every challenge or credential in one header value ->
    [(scheme, {lower-case name: unquoted value})]. A new challenge starts
    where a comma is followed by 'token SP token =' (RFC 7235 §4.1)."""
    if not isinstance(text, str):
        raise _bad("value is not text")
    out = []
    n = len(text)
    i = skip_lws(text, 0)
    while i < n:
        scheme, i = scan_token(text, i)
        if not scheme:
            raise _bad("bad auth scheme")
        params = {}
        out.append((scheme, params))
        i = skip_lws(text, i)
        while i < n:
            if text[i] == ",":
                i = skip_lws(text, i + 1)
                # Another challenge: 'scheme SP name=' rather than 'name='.
                word, j = scan_token(text, i)
                k = skip_lws(text, j)
                if word and k > j and k < n and text[k] != "=":
                    break
                continue
            name, value, i = _scan_auth_param(text, i)
            if name in params:
                raise _bad("repeated auth parameter")
            params[name] = value
            if i < n and text[i] != ",":
                raise _bad("junk in auth parameters")
    if not out:
        raise _bad("empty auth header")
    return out


def parse_auth_params(text):
    """The first challenge/credential of a WWW-Authenticate,
    Proxy-Authenticate, Authorization or Proxy-Authorization value ->
    (scheme, {lower-case name: unquoted value})."""
    return parse_challenges(text)[0]

