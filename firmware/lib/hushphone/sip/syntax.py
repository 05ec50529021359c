# Low-level SIP grammar helpers (RFC 3261 §25.1): character classes, tokens,
# quoted strings, ;param lists, comma splitting and %-escapes.
# Hand-written scanning on str, no regular expressions (MicroPython's re is
# limited and slow); every helper raises SipParseError(400) on bad input.
from hushphone.sip.errors import SipParseError

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
DIGITS = "0123456789"
HEXDIGITS = "0123456789abcdefABCDEF"
TOKEN_CHARS = ALNUM + "-.!%*_+`'~"
WSP = " \t"
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


def span(text, i, chars):
    """Index of the first character at or after i that is not in chars."""
    rest = text[i:] if i else text
    return len(text) - len(rest.lstrip(chars))


def parse_uint(text, max_value, what):
    """A non-negative decimal of at most max_value (bounded before int(), so
    a megabyte of digits costs nothing)."""
    text = text.strip(WSP)
    if not is_digits(text) or len(text) > len(str(max_value)) + 8:
        raise bad("bad " + what)
    value = int(text)
    if value > max_value:
        raise bad(what + " too large")
    return value


def skip_lws(text, i):
    n = len(text)
    while i < n and text[i] in WSP:
        i += 1
    return i


def scan_quoted(text, i):
    """text[i] is '"'. Returns (unescaped content, index after closing quote).
    Header values never hold CR/LF here (parse_head refuses bare ones)."""
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
    <...>. Elements are stripped; empty elements are kept (callers decide)."""
    if '"' not in value and "<" not in value:
        return [v.strip(WSP) for v in value.split(",")]
    out = []
    start = i = 0
    n = len(value)
    while i < n:
        # Jump from one ',', '"' or '<' to the next (C-level finds).
        comma = value.find(",", i)
        quote_at = value.find('"', i)
        angle = value.find("<", i)
        nxt = n
        for k in (comma, quote_at, angle):
            if 0 <= k < nxt:
                nxt = k
        if nxt == n:
            break
        c = value[nxt]
        if c == '"':
            i = _skip_quoted(value, nxt)
        elif c == "<":
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
    unordered."""

    def __init__(self, items=None):
        self._items = []  # [name, value] in order
        if items is not None:
            if isinstance(items, (dict, Params)):
                items = items.items()
            for name, value in items:
                self[name] = value

    def _find(self, name):
        key = name.lower()
        for i, item in enumerate(self._items):
            if item[0].lower() == key:
                return i
        return -1

    def __getitem__(self, name):
        i = self._find(name)
        if i < 0:
            raise KeyError(name)
        return self._items[i][1]

    def __setitem__(self, name, value):
        i = self._find(name)
        if i < 0:
            self._items.append([name, value])
        else:
            self._items[i][1] = value

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
        return iter([item[0] for item in self._items])

    def __eq__(self, other):
        if isinstance(other, dict):
            other = Params(other)
        if not isinstance(other, Params) or len(other) != len(self):
            return False
        for name, value in self._items:
            if name not in other or other[name] != value:
                return False
        return True

    def __ne__(self, other):
        return not self.__eq__(other)

    def get(self, name, default=None):
        i = self._find(name)
        return default if i < 0 else self._items[i][1]

    def pop(self, name, default=None):
        i = self._find(name)
        if i < 0:
            return default
        value = self._items[i][1]
        del self._items[i]
        return value

    def keys(self):
        return [item[0] for item in self._items]

    def values(self):
        return [item[1] for item in self._items]

    def items(self):
        return [(item[0], item[1]) for item in self._items]

    def copy(self):
        return Params(self.items())

    def __repr__(self):
        return "Params(%r)" % (self.items(),)

    def to_str(self, sep=";"):
        out = []
        for name, value in self._items:
            out.append(sep)
            out.append(name)
            if value is not None:
                out.append("=")
                out.append(value)
        return "".join(out)


def parse_header_params(text, i):
    """Parse ';name[=value]' pairs from text[i:] to its end (LWS allowed
    around ';' and '='). Returns (Params, len(text))."""
    params = Params()
    n = len(text)
    while True:
        i = skip_lws(text, i)
        if i >= n:
            return params, i
        if text[i] != ";":
            raise bad("junk after value")
        i = skip_lws(text, i + 1)
        name, i = scan_token(text, i)
        if not name:
            raise bad("empty parameter")
        j = skip_lws(text, i)
        value = None
        if j < n and text[j] == "=":
            i = skip_lws(text, j + 1)
            if i < n and text[i] == '"':
                end = scan_quoted(text, i)[1]
                value = text[i:end]
                i = end
            else:
                start = i
                i = span(text, i, PARAM_VALUE_CHARS)
                value = text[start:i]
                if not value:
                    raise bad("empty parameter value")
        params[name] = value


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
