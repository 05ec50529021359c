# Low-level SIP grammar helpers (RFC 3261 §25.1): character classes, tokens,
# quoted strings, ;param lists, comma splitting and %-escapes.
# Hand-written scanning on str, no regular expressions (MicroPython's re is
# limited and slow); every helper raises SipParseError(400) on bad input.
from hushphone.sip.errors import SipParseError

# Parameters in one ;-list (a URI's or a header value's); beyond: 513.
# Real peers send fewer than 10 (linphone's Contact: 6, Kamailio's Record-Route: 5).
MAX_PARAMS = 16
# Backslashes (quoted-pairs) in one quoted string's value.
MAX_QUOTED_PAIRS = 16

# Character classes are the chars argument of str.strip/lstrip. MicroPython
# looks each character up in that string from its start (CPython uses a
# set), so the usual characters of SIP text come first: lower case, digits,
# '.', '-', then the rarer ones. Same classes, fewer steps per character.
ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
HEXDIGITS = "0123456789abcdefABCDEF"
TOKEN_CHARS = ".-" + ALNUM + "!%*_+`'~"
WSP = " \t"
# The same as a tuple, for startswith(WSP_CHARS, i): one call tests both.
WSP_CHARS = (" ", "\t")
# Characters allowed in an unquoted header-parameter value. RFC 3261 says
# token / host / quoted-string; ':' and '[]' admit IPv6 hosts (RFC 5118 §4.5
# received=2001:db8::1), '/' and '@' are common in the wild (e.g. +sip.instance
# values sent unquoted by old stacks).
PARAM_VALUE_CHARS = TOKEN_CHARS + ":[]/@"


def bad(reason):
    return SipParseError(400, reason)


# Character-class tests use str.strip/lstrip with the class as argument:
# one C-level pass on both runtimes instead of a Python loop per character
# (measured in bench/bench_sip.py).


def is_token(text):
    return bool(text) and not text.strip(TOKEN_CHARS)


def is_digits(text):
    """ASCII digits only (str.isdigit accepts other scripts on CPython)."""
    return bool(text) and not text.strip(DIGITS)


def all_in(text, chars):
    return not text.strip(chars)


_SPAN_CHUNK = 32


def span(text, i, chars):
    """Index of the first character at or after i that is not in chars.
    Looks at 32 characters at a time: the cost follows the run's length,
    never the rest of the text (a slice of text[i:] per token made a
    header with many parameters quadratic)."""
    n = len(text)
    while i < n:
        chunk = text[i : i + _SPAN_CHUNK]
        rest = len(chunk.lstrip(chars))
        if rest:
            return i + len(chunk) - rest
        i += len(chunk)
    return n


# Digits parse_uint reads at most (leading zeros allowed: RFC 4475 wsinv).
_MAX_DIGITS = 20


def parse_uint(text, max_value, what, message=None):
    """A non-negative decimal of at most max_value (bounded before int(), so
    a megabyte of digits costs nothing). message: the SipParseError's
    .message when it fails."""
    text = text.strip(WSP)
    if not is_digits(text) or len(text) > _MAX_DIGITS:
        raise SipParseError(400, "bad " + what, message)
    value = int(text)
    if value > max_value:
        raise SipParseError(400, what + " too large", message)
    return value


# Single characters are tested with startswith(c, i), not text[i]: on
# MicroPython text[i] makes a one-character str, which is looked up in
# the interned-string pools each time (profiled: ~10% of a parse).


def skip_lws(text, i):
    while text.startswith(WSP_CHARS, i):
        i += 1
    return i


def scan_quoted(text, i):
    """text[i] is '"'. Returns (unescaped content, index after closing quote).
    Header values never hold CR/LF here (parse_head refuses bare ones).
    Each quoted-pair costs a Python step: at most MAX_QUOTED_PAIRS in the
    rest of the value (513 beyond; real display names have none)."""
    if text.count("\\", i) > MAX_QUOTED_PAIRS:
        raise SipParseError(513, "too many quoted-pairs")
    close = text.find('"', i + 1)
    if close > 0 and text.find("\\", i + 1, close) < 0:
        return text[i + 1 : close], close + 1  # no quoted-pair: one slice
    out = []
    i += 1
    while True:
        close = text.find('"', i)
        if close < 0:
            raise bad("unterminated quoted string")
        backslash = text.find("\\", i, close)
        if backslash < 0:
            out.append(text[i:close])
            return "".join(out), close + 1
        # quoted-pair: the next character is literal (it may be '"').
        out.append(text[i:backslash])
        out.append(text[backslash + 1])
        i = backslash + 2


def quoted_end(text, i):
    """text[i] is '"': the index after the closing quote, as scan_quoted
    would return, without making the content (a value only checked)."""
    if text.count("\\", i) > MAX_QUOTED_PAIRS:
        raise SipParseError(513, "too many quoted-pairs")
    close = text.find('"', i + 1)
    if close > 0 and text.find("\\", i + 1, close) < 0:
        return close + 1
    return scan_quoted(text, i)[1]


def quote(text):
    """A quoted-string for text (escaping '"' and '\\')."""
    if '"' in text or "\\" in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text + '"'


def unquote(value):
    """The content of a quoted-string value, or value itself if unquoted."""
    if value is not None and len(value) >= 2 and value[0] == '"':
        try:
            return scan_quoted(value, 0)[0]
        except SipParseError:
            return value
    return value


def scan_token(text, i, extra=""):
    j = span(text, i, TOKEN_CHARS + extra if extra else TOKEN_CHARS)
    return text[i:j], j


def _skip_quoted(text, i):
    """text[i] is '"': index after the closing quote (or len(text))."""
    i += 1
    while True:
        close = text.find('"', i)
        if close < 0:
            return len(text)
        backslash = text.find("\\", i, close)
        if backslash < 0:
            return close + 1
        i = backslash + 2


def split_commas(value):
    """Split a header value at commas that are outside quoted strings and
    <...>. Elements are stripped; empty elements are kept (callers decide).
    Linear: the next ',', '"' and '<' are each found once and looked for
    again only when passed (a find per element from the same start made
    a long list quadratic)."""
    if '"' not in value and "<" not in value:
        return [v.strip(WSP) for v in value.split(",")]
    out = []
    start = i = 0
    n = len(value)
    comma = quote_at = angle = -1
    while i < n:
        # Jump from one ',', '"' or '<' to the next (C-level finds).
        if comma < i:
            comma = value.find(",", i)
            if comma < 0:
                comma = n
        if quote_at < i:
            quote_at = value.find('"', i)
            if quote_at < 0:
                quote_at = n
        if angle < i:
            angle = value.find("<", i)
            if angle < 0:
                angle = n
        nxt = min(comma, quote_at, angle)
        if nxt >= n:
            break
        if nxt == quote_at:
            i = _skip_quoted(value, nxt)
        elif nxt == angle:
            close = value.find(">", nxt)
            i = n if close < 0 else close + 1
        else:
            out.append(value[start:nxt].strip(WSP))
            start = i = nxt + 1
    out.append(value[start:].strip(WSP))
    return out


class Params:
    """Ordered parameters with case-insensitive names (dict-like).
    Values are kept as received (a quoted-string keeps its quotes, so the
    parameter serialises unchanged); a parameter without '=' has value None.
    Build from a list of pairs to fix the order: MicroPython dicts are
    unordered. Items are [lower-case name, name, value]: a lookup lowers
    the name asked for once, never the names stored. Lists are short
    (MAX_PARAMS), so a scan beats a dict's memory on the handset."""

    def __init__(self, items=None):
        self._items = []
        if items is not None:
            if isinstance(items, (dict, Params)):
                items = items.items()
            for name, value in items:
                self[name] = value

    def _find(self, name):
        key = name.lower()
        i = 0
        for item in self._items:
            if item[0] == key:
                return i
            i += 1
        return -1

    def append(self, name, value):
        """Add a parameter known to be new (the parsers check repeats)."""
        self._items.append([name if name.islower() else name.lower(), name, value])

    def __getitem__(self, name):
        i = self._find(name)
        if i < 0:
            raise KeyError(name)
        return self._items[i][2]

    def __setitem__(self, name, value):
        i = self._find(name)
        if i < 0:
            self._items.append([name.lower(), name, value])
        else:
            self._items[i][2] = value

    def __delitem__(self, name):
        i = self._find(name)
        if i < 0:
            raise KeyError(name)
        del self._items[i]

    def __contains__(self, name):
        return self._find(name) >= 0

    def __len__(self):
        return len(self._items)

    def __iter__(self):
        return iter([item[1] for item in self._items])

    def __eq__(self, other):
        if isinstance(other, dict):
            other = Params(other)
        if not isinstance(other, Params) or len(other) != len(self):
            return False
        for _, name, value in self._items:
            if name not in other or other[name] != value:
                return False
        return True

    def __ne__(self, other):
        return not self.__eq__(other)

    def get(self, name, default=None):
        i = self._find(name)
        return default if i < 0 else self._items[i][2]

    def pop(self, name, default=None):
        i = self._find(name)
        if i < 0:
            return default
        value = self._items[i][2]
        del self._items[i]
        return value

    def keys(self):
        return [item[1] for item in self._items]

    def values(self):
        return [item[2] for item in self._items]

    def items(self):
        return [(item[1], item[2]) for item in self._items]

    def copy(self):
        p = Params()
        p._items = [list(item) for item in self._items]
        return p

    def __repr__(self):
        return "Params(%r)" % (self.items(),)

    def to_str(self, sep=";"):
        out = []
        for _, name, value in self._items:
            out.append(sep)
            out.append(name)
            if value is not None:
                out.append("=")
                out.append(value)
        return "".join(out)

    def check_unique(self):
        """400 when a name appears twice (RFC 3261 §7.3.1, §19.1.1): one
        C-level set() instead of a scan per insert."""
        items = self._items
        if len(items) > 1 and len(set([item[0] for item in items])) != len(items):
            raise bad("repeated parameter")


class _NoParams(Params):
    """The empty parameter list the parsers share (most URIs and many
    values have none): one object instead of three per value. Read-only;
    copy() gives a Params to change."""

    def _frozen(self, *args):
        raise TypeError("NO_PARAMS is read-only: copy() it")

    __setitem__ = __delitem__ = append = pop = _frozen


NO_PARAMS = _NoParams()


# Header parameters in nearly every message, by length: matched in place
# (startswith), so the usual names need no new string.
_KNOWN_PARAMS = {}
for _name in ("tag", "branch", "rport", "received", "expires", "q", "+sip.instance", "reg-id", "maddr", "ttl"):
    _KNOWN_PARAMS[len(_name)] = _KNOWN_PARAMS.get(len(_name), ()) + (_name,)


def parse_header_params(text, i, build=True):
    """Parse ';name[=value]' pairs from text[i:] to its end (LWS allowed
    around ';' and '=') -> Params. Linear: each parameter is found with
    str.find and checked with C-level strips; at most MAX_PARAMS of them
    (513 beyond). build=False checks the same without building Params: it
    returns the lower-case names of the parameters without a value (None
    if there are none)."""
    n = len(text)
    while text.startswith(WSP_CHARS, i):
        i += 1
    if i >= n:
        return NO_PARAMS if build else None
    if not text.startswith(";", i):
        raise bad("junk after value")
    count = text.count(";", i)
    if count > MAX_PARAMS:
        raise SipParseError(513, "too many parameters")
    params = Params() if build else None
    names = [] if not build and count > 1 else None  # for the repeat check
    bare = None
    while i < n:
        # text[i] is ';'. The parameter runs to the next ';' unless a
        # quoted-string value holds one.
        j = text.find(";", i + 1)
        if j < 0:
            j = n
        quote_at = text.find('"', i + 1, j)
        if quote_at >= 0:
            # (checks that the value is a whole quoted string, LWS around)
            j = _quoted_param_end(text, i + 1, quote_at)
        eq = text.find("=", i + 1, j)
        name_end = j if eq < 0 else eq
        name = None
        for known in _KNOWN_PARAMS.get(name_end - i - 1, ()):
            if text.startswith(known, i + 1):
                name = known  # no string of its own, nothing to check
                break
        checked = name is not None
        if not checked:
            name = text[i + 1 : name_end].strip(WSP)
        if eq < 0:
            value = None
        elif quote_at >= 0 and not build:
            value = quote_at  # checked whole by _quoted_param_end: no string needed
        else:
            value = text[eq + 1 : j].strip(WSP)
            if not value:
                raise bad("empty parameter value")
            if quote_at < 0 and value.strip(PARAM_VALUE_CHARS):
                raise bad("bad parameter value")
        if not checked:
            if not name:
                raise bad("empty parameter")
            if name.strip(TOKEN_CHARS):
                raise bad("bad parameter name")
        if build:
            params.append(name, value)
        else:
            if not name.islower():
                name = name.lower()
            if names is not None:
                names.append(name)
            if value is None:
                if bare is None:
                    bare = [name]
                else:
                    bare.append(name)
        i = j
    if build:
        params.check_unique()
        return params
    if names is not None and len(names) > 1 and len(set(names)) != len(names):
        raise bad("repeated parameter")
    return bare


def _quoted_param_end(text, start, quote_at):
    """End of a parameter whose value is a quoted string opening at
    quote_at: the index of the ';' after the closing quote, or len(text);
    400 for anything but LWS between them."""
    eq = text.find("=", start, quote_at)
    if eq < 0 or skip_lws(text, eq + 1) != quote_at:
        raise bad("bad quoted parameter")
    end = skip_lws(text, quoted_end(text, quote_at))
    if end < len(text) and not text.startswith(";", end):
        raise bad("junk after quoted value")
    return end


def unescape(text):
    """Decode %XX escapes (RFC 3261 §19.1.4 comparison). Each escape becomes
    one character with that code; a '%' not followed by two hex digits is
    kept literally (esc02: '%Z' is not an escape)."""
    if "%" not in text:
        return text
    out = []
    i = 0
    n = len(text)
    start = 0
    while i < n:
        if text[i] == "%" and i + 2 < n and text[i + 1] in HEXDIGITS and text[i + 2] in HEXDIGITS:
            out.append(text[start:i])
            out.append(chr(int(text[i + 1 : i + 3], 16)))
            i += 3
            start = i
        else:
            i += 1
    out.append(text[start:])
    return "".join(out)
