# SIP/SIPS URIs (RFC 3261 §19.1, §25.1), tel URIs (RFC 3966, kept simple)
# and opaque absolute URIs of other schemes (RFC 4475 §3.3.2-3.3.4).
# IPv6 references as RFC 5118 describes: the host is stored without brackets.
from hushphone.sip.errors import SipParseError
from hushphone.sip.syntax import ALNUM, DIGITS, HEXDIGITS, MAX_PARAMS, NO_PARAMS, Params, all_in, parse_uint, unescape

# Usual characters first (see syntax.ALNUM).
_UNRESERVED = ".-" + ALNUM + "_!~*'()"
_USER_CHARS = _UNRESERVED + "%&=+$,;?/"
_PASSWORD_CHARS = _UNRESERVED + "%&=+$,"
_HOST_CHARS = ".-" + ALNUM + "_"
_HOST_ENDS = (":", ";", "?", ">", " ", "\t", ",", "/", "@", "<", '"', "[", "]", "&", "=", "%")
_HOST_USUAL_ENDS = (":", ";", "?")
_HOST_BAD_STARTS = ("-", ".")
_IPV6_CHARS = HEXDIGITS + ":."
_PARAM_CHARS = _UNRESERVED + "%[]/:&+$"
_PARAM_LIST_CHARS = _PARAM_CHARS + ";="
_HEADER_CHARS = _UNRESERVED + "%[]/?:+$"
_SCHEME_CHARS = ALNUM + "+-."
# Characters of an absolute URI of an unknown scheme (RFC 2396 uric).
_OPAQUE_CHARS = _UNRESERVED + "%;/?:@&=+$,[]#"
# Parameters that must match when present in either URI (§19.1.4).
_STRICT_PARAMS = ("user", "ttl", "method", "maddr", "transport")


def _bad(reason):
    return SipParseError(400, reason)


def _check(text, allowed, what):
    if not all_in(text, allowed):
        raise _bad("bad character in " + what)


def _as_params(value):
    return value if isinstance(value, Params) else Params(value)


class SipUri:
    """A parsed URI. For sip/sips: user, password, host (IPv6 without
    brackets), port (int or None), params (Params; values as received, None
    for a flag such as lr), headers (Params). For tel: user holds the number.
    For other schemes only .opaque (everything after 'scheme:') is set.
    Escaped text is kept as received so str() reproduces it; compare with
    uri_equal(), which unescapes as §19.1.4 says."""

    # Absent parts are class attributes: an instance holds only what the URI
    # has (a smaller attribute table per parsed URI on the handset's heap).
    user = password = host = port = opaque = None

    def __init__(self, scheme, user=None, host=None, port=None, params=None, headers=None, password=None, opaque=None):
        # (statements kept shallow: the frame stays off the heap)
        if not scheme.islower():
            scheme = scheme.lower()
        self.scheme = scheme
        if user is not None:
            self.user = user
        if password is not None:
            self.password = password
        if host is not None:
            self.host = host
        if port is not None:
            self.port = port
        self.params = _as_params(params)
        self.headers = _as_params(headers)
        if opaque is not None:
            self.opaque = opaque

    def host_port(self):
        """'host[:port]' with IPv6 in brackets (for Via sent-by, Host lookups)."""
        host = self.host or ""
        if ":" in host:
            host = "[" + host + "]"
        if self.port is not None:
            return "%s:%d" % (host, self.port)
        return host

    def __str__(self):
        if self.scheme not in ("sip", "sips", "tel"):
            return self.scheme + ":" + (self.opaque or "")
        out = [self.scheme, ":"]
        if self.scheme == "tel":
            out.append(self.user or "")
        else:
            if self.user is not None:
                out.append(self.user)
                if self.password is not None:
                    out.append(":")
                    out.append(self.password)
                out.append("@")
            out.append(self.host_port())
        out.append(self.params.to_str(";"))
        if len(self.headers):
            out.append("?")
            out.append("&".join(["%s=%s" % (n, v or "") for n, v in self.headers.items()]))
        return "".join(out)

    def __repr__(self):
        return "SipUri(%r)" % str(self)

    def copy(self):
        return SipUri(
            self.scheme, self.user, self.host, self.port, self.params.copy(), self.headers.copy(), self.password, self.opaque
        )


def _scan_params(text, i, end, build=True):
    """';name[=value]' URI parameters in text[i:end]. build=False checks
    them the same way without building Params (returns None)."""
    if i >= end:
        return NO_PARAMS
    count = text.count(";", i, end)
    if count > MAX_PARAMS:
        raise SipParseError(513, "too many URI parameters")
    if not build:
        return _check_params(text, i, end, count)
    params = Params()
    while i < end:
        if not text.startswith(";", i):
            raise _bad("junk in URI")
        j = text.find(";", i + 1, end)
        if j < 0:
            j = end
        eq = text.find("=", i + 1, j)  # cut name and value out of text: no slice of the item
        name = text[i + 1 : j if eq < 0 else eq]
        value = None if eq < 0 else text[eq + 1 : j]
        if not name:
            raise _bad("empty URI parameter")
        _check(name, _PARAM_CHARS, "URI parameter")
        if value is not None:
            if not value:
                raise _bad("empty URI parameter value")
            _check(value, _PARAM_CHARS, "URI parameter")
        params.append(name, value)
        i = j
    params.check_unique()
    return params


def _check_params(text, i, end, count):
    """_scan_params without objects: the characters of all the parameters
    in one strip, their shape by finds; names cut out only to find a
    repeat among several."""
    if not text.startswith(";", i):
        raise _bad("junk in URI")
    if text[i:end].strip(_PARAM_LIST_CHARS):
        raise _bad("bad character in URI parameter")
    names = [] if count > 1 else None
    while i < end:
        j = text.find(";", i + 1, end)
        if j < 0:
            j = end
        eq = text.find("=", i + 1, j)
        if eq == i + 1 or j == i + 1:
            raise _bad("empty URI parameter")
        if eq >= 0:
            if eq + 1 == j:
                raise _bad("empty URI parameter value")
            if text.find("=", eq + 1, j) >= 0:  # '=' only between name and value
                raise _bad("bad character in URI parameter")
        if names is not None:
            name = text[i + 1 : j if eq < 0 else eq]
            names.append(name if name.islower() else name.lower())
        i = j
    if names is not None and len(set(names)) != len(names):
        raise _bad("repeated parameter")
    return None


def _scan_headers(text):
    headers = Params()
    if text.count("&") >= MAX_PARAMS:
        raise SipParseError(513, "too many URI headers")
    for item in text.split("&"):
        eq = item.find("=")
        if eq <= 0:
            raise _bad("bad URI header")
        name = item[:eq]
        value = item[eq + 1 :]
        _check(name, _HEADER_CHARS, "URI header")
        _check(value, _HEADER_CHARS, "URI header")
        headers.append(name, value)
    headers.check_unique()
    return headers


def parse_host_port(text, i=0, n=-1):
    """host[:port] at text[i:n] (n: its end, -1 for len(text)) ->
    (host, port or None, index after). The host is stored without the
    brackets of an IPv6 reference."""
    if n < 0:
        n = len(text)
    if text.startswith("[", i):
        return _ipv6_host_port(text, i, n)
    # The host runs to the first delimiter that can follow it (finds, no
    # scan per character); then it must be host characters only. The
    # usual ends first: when what they cut is all host characters no other
    # delimiter (none is a host character) comes before, so 3 finds do.
    end = text.find(":", i, n)
    if end < 0:
        end = n
    k = text.find(";", i, end)
    if k >= 0:
        end = k
    k = text.find("?", i, end)
    if k >= 0:
        end = k
    host = text[i:end]
    if host.strip(_HOST_CHARS):
        end = _host_any_end(text, i, end)
        host = text[i:end]
    if not host or host.startswith(_HOST_BAD_STARTS) or ".." in host:
        raise _bad("bad host")
    if text.startswith(":", end, n):
        return _with_port(text, host, end + 1, n)
    return host, None, end


def _host_any_end(text, i, end):
    """The end of the host at text[i:end] cut at any delimiter (not only
    the usual ones); 400 unless it is host characters only."""
    for c in _HOST_ENDS:
        k = text.find(c, i, end)
        if k >= 0:
            end = k
    if text[i:end].strip(_HOST_CHARS):
        raise _bad("bad host")
    return end


def _ipv6_host_port(text, i, n):
    close = text.find("]", i, n)
    if close < 0:
        raise _bad("unterminated IPv6 reference")
    host = text[i + 1 : close]
    if ":" not in host:
        raise _bad("bad IPv6 reference")
    _check(host, _IPV6_CHARS, "IPv6 reference")
    if text.startswith(":", close + 1, n):
        return _with_port(text, host, close + 2, n)
    return host, None, close + 1


def _with_port(text, host, start, n):
    """(host, the port at text[start:n], index after it)."""
    # The usual port: digits up to a ';' or the end (one slice).
    k = text.find(";", start, n)
    if k < 0:
        k = n
    port = text[start:k]  # (one local for the digits and their value: a small frame)
    if 0 < len(port) <= 5 and not port.strip(DIGITS):
        port = int(port)
        if port > 65535:
            raise _bad("port too large")
        return host, port, k
    return _port_by_digits(text, host, start, n)


def _port_by_digits(text, host, start, n):
    # Looked at one by one, at most 21 (parse_uint refuses more than 20).
    k = start
    while k < n and k - start <= 20 and text[k] in DIGITS:
        k += 1
    return host, parse_uint(text[start:k], 65535, "port"), k


def _parse_sip(scheme, text, start, n, build=True):
    """The part of a sip/sips URI after 'scheme:' (text[start:n]), cut by
    index: no copy of the rest per part, nor of the URI out of a header
    value."""
    user = password = None
    at = text.find("@", start, n)
    if at >= 0:
        colon = text.find(":", start, at)
        if colon >= 0:
            user = text[start:colon]
            password = text[colon + 1 : at]
            _check(password, _PASSWORD_CHARS, "URI password")
        else:
            user = text[start:at]
        if not user:
            raise _bad("empty user in URI")
        if user.strip(_USER_CHARS):
            raise _bad("bad character in URI user")
        start = at + 1
    host, port, i = parse_host_port(text, start, n)
    q = text.find("?", i, n)
    end = n if q < 0 else q
    params = _scan_params(text, i, end, build) if i < end else NO_PARAMS
    headers = _scan_headers(text[q + 1 : n]) if q >= 0 else NO_PARAMS
    if not build:
        return q >= 0
    return SipUri(scheme, user, host, port, params, headers, password)


def parse_uri(text, build=True):
    """Parse a URI (no surrounding <>, no whitespace). Raises SipParseError.
    build=False only checks it (no objects): returns whether it has
    headers (?name=value)."""
    if not isinstance(text, str):
        raise _bad("URI is not text")
    return parse_uri_at(text, 0, len(text), build)


def parse_uri_at(text, start, end, build=True):
    """parse_uri of text[start:end], read in place (sip/sips) without
    cutting the URI out first."""
    # The usual spellings first: no slice or lower() for the scheme.
    if text.startswith("sip:", start, end):
        return _parse_sip("sip", text, start + 4, end, build)
    if text.startswith("sips:", start, end):
        return _parse_sip("sips", text, start + 5, end, build)
    return _parse_other_uri(text, start, end, build)


# Hot functions keep their arguments, locals and stack within 11 words:
# MicroPython puts a larger frame on the heap at every call.


def _parse_other_uri(text, start, end, build):
    """parse_uri_at for any other spelling or scheme (rare)."""
    if start or end != len(text):
        text = text[start:end]  # another scheme (rare): read from its own text
    colon = text.find(":")
    if colon <= 0 or text[0] not in ALNUM or text[0] in DIGITS:
        raise _bad("URI without scheme")
    scheme = text[:colon]
    _check(scheme, _SCHEME_CHARS, "URI scheme")
    scheme = scheme.lower()
    if scheme == "sip" or scheme == "sips":
        return _parse_sip(scheme, text, colon + 1, len(text), build)
    rest = text[colon + 1 :]
    _check(rest, _OPAQUE_CHARS, "URI")
    if not rest:
        raise _bad("empty URI")
    if scheme == "tel":
        semi = rest.find(";")
        number = rest if semi < 0 else rest[:semi]
        if not number:
            raise _bad("empty tel number")
        params = _scan_params(rest, semi, len(rest), build) if semi >= 0 else NO_PARAMS
        if not build:
            return False
        return SipUri(scheme, number, params=params, headers=NO_PARAMS)
    if not build:
        return False
    return SipUri(scheme, params=NO_PARAMS, headers=NO_PARAMS, opaque=rest)


def _norm_params(params):
    out = {}
    for name, value in params.items():
        out[unescape(name).lower()] = None if value is None else unescape(value).lower()
    return out


def uri_equal(a, b):
    """URI equality of RFC 3261 §19.1.4: user and password case-sensitive
    after unescaping, everything else case-insensitive; user, ttl, method,
    maddr and transport parameters must match when present in either URI,
    other parameters only when present in both; headers must all match."""
    if isinstance(a, str):
        a = parse_uri(a)
    if isinstance(b, str):
        b = parse_uri(b)
    if a.scheme != b.scheme:
        return False
    if a.scheme == "tel":
        return unescape(a.user) == unescape(b.user) and _norm_params(a.params) == _norm_params(b.params)
    if a.scheme not in ("sip", "sips"):
        return str(a).lower() == str(b).lower()
    if unescape(a.user or "") != unescape(b.user or "") or (a.user is None) != (b.user is None):
        return False
    if unescape(a.password or "") != unescape(b.password or ""):
        return False
    if (a.host or "").lower() != (b.host or "").lower() or a.port != b.port:
        return False
    pa = _norm_params(a.params)
    pb = _norm_params(b.params)
    for name in _STRICT_PARAMS:
        if (name in pa) != (name in pb):
            return False
    for name in pa:
        if name in pb and pa[name] != pb[name]:
            return False
    ha = {}
    hb = {}
    for name, value in a.headers.items():
        ha[unescape(name).lower()] = unescape(value or "")
    for name, value in b.headers.items():
        hb[unescape(name).lower()] = unescape(value or "")
    return ha == hb
