# HTTP/SIP digest authentication, client side (RFC 7616, RFC 8760, with the
# RFC 2617 forms SIP registrars still send): MD5 and SHA-256 (and their
# -sess variants), qop=auth or no qop, nc/cnonce, stale nonces.
# SHA-512-256 is not offered: MicroPython's hashlib has no SHA-512.
# Sans-IO: the cnonce comes from the caller's random source.
import binascii
import hashlib

from hushphone.sip.message import RemoteSipError, SipParseError
from hushphone.sip.message import parse_challenges as parse_auth_list

# Our order of preference when a server offers several challenges.
_PREFERENCE = ("SHA-256", "SHA-256-sess", "MD5", "MD5-sess")


class DigestError(RemoteSipError):
    """A challenge we cannot answer (unknown algorithm, missing nonce...)."""


def _hash_hex(algorithm, text):
    data = text.encode() if isinstance(text, str) else text
    if algorithm.startswith("SHA-256"):
        h = hashlib.sha256(data)
    else:
        h = hashlib.md5(data)
    return binascii.hexlify(h.digest()).decode()


def _canonical_algorithm(name):
    upper = (name or "MD5").upper()
    for known in _PREFERENCE:
        if known.upper() == upper:
            return known
    return None


class Challenge:
    """One parsed Digest challenge from WWW-Authenticate/Proxy-Authenticate."""

    def __init__(self, params, proxy=False):
        self.realm = params.get("realm")
        self.nonce = params.get("nonce")
        self.opaque = params.get("opaque")
        self.algorithm = _canonical_algorithm(params.get("algorithm"))
        self.stale = (params.get("stale") or "").lower() == "true"
        qop = params.get("qop")
        self.qop_options = [q.strip().lower() for q in qop.split(",")] if qop else []
        self.proxy = proxy
        if self.realm is None or not self.nonce:
            raise DigestError("digest challenge without realm or nonce")
        if self.algorithm is None:
            raise DigestError("unsupported digest algorithm %r" % params.get("algorithm"))
        if self.qop_options and "auth" not in self.qop_options:
            raise DigestError("digest challenge offers no qop=auth")

    def qop(self):
        return "auth" if self.qop_options else None


def parse_challenges(headers, proxy=False):
    """Every Digest challenge in a 401 (WWW-Authenticate) or 407
    (Proxy-Authenticate) response's headers, answerable ones only, best first.
    Raises DigestError when none can be answered."""
    name = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
    found = []
    reasons = []
    for value in headers.get_all(name):
        try:
            parsed = parse_auth_list(value)
        except SipParseError as e:
            reasons.append("malformed %s (%s)" % (name, e.reason))
            continue
        for scheme, params in parsed:
            if scheme.lower() != "digest":
                reasons.append("scheme " + scheme)
                continue
            try:
                found.append(Challenge(params, proxy))
            except DigestError as e:
                reasons.append(str(e))
    if not found:
        raise DigestError("no usable digest challenge (%s)" % (", ".join(reasons) or "none sent"))
    found.sort(key=lambda c: _PREFERENCE.index(c.algorithm))
    return found


def compute_response(algorithm, username, realm, password, method, uri, nonce, nc=None, cnonce=None, qop=None):
    """The request-digest (RFC 7616 §3.4.1, RFC 2617 §3.2.2.1) as lower-case hex."""
    algorithm = _canonical_algorithm(algorithm)
    if algorithm is None:
        raise DigestError("unsupported digest algorithm")
    ha1 = _hash_hex(algorithm, "%s:%s:%s" % (username, realm, password))
    if algorithm.endswith("-sess"):
        ha1 = _hash_hex(algorithm, "%s:%s:%s" % (ha1, nonce, cnonce))
    ha2 = _hash_hex(algorithm, "%s:%s" % (method, uri))
    if qop:
        return _hash_hex(algorithm, "%s:%s:%s:%s:%s:%s" % (ha1, nonce, nc, cnonce, qop, ha2))
    return _hash_hex(algorithm, "%s:%s:%s" % (ha1, nonce, ha2))


def _quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class DigestClient:
    """Answers challenges for one set of credentials and counts nonce use.

    `authorization(challenge, method, uri, random_bytes)` returns the header
    value for Authorization/Proxy-Authorization. `accept(challenges)` decides
    whether a fresh challenge is worth answering: a repeated challenge for a
    realm we already answered means wrong credentials, unless it is stale."""

    def __init__(self, username, password):
        self.username = username
        self._password = password
        self._nc = {}  # nonce -> last nc used
        self._answered = {}  # realm -> nonce answered last

    def __repr__(self):  # never show the password
        return "DigestClient(%r)" % self.username

    def accept(self, challenge):
        previous = self._answered.get(challenge.realm)
        if previous is None or challenge.stale:
            return True
        # A new challenge for a realm we answered, not marked stale: the
        # server rejected our credentials.
        return False

    def reset(self):
        self._answered = {}

    def authorization(self, challenge, method, uri, random_bytes):
        qop = challenge.qop()
        nc = cnonce = None
        if qop:
            count = self._nc.get(challenge.nonce, 0) + 1
            if len(self._nc) > 8:  # keep memory bounded: old nonces are dead
                self._nc = {}
            self._nc[challenge.nonce] = count
            nc = "%08x" % count
            cnonce = binascii.hexlify(random_bytes(12)).decode()
        response = compute_response(
            challenge.algorithm, self.username, challenge.realm, self._password, method, uri, challenge.nonce, nc, cnonce, qop
        )
        self._answered[challenge.realm] = challenge.nonce
        parts = [
            "username=" + _quote(self.username),
            "realm=" + _quote(challenge.realm),
            "nonce=" + _quote(challenge.nonce),
            "uri=" + _quote(uri),
            "response=" + _quote(response),
            "algorithm=" + challenge.algorithm,
        ]
        if challenge.opaque is not None:
            parts.append("opaque=" + _quote(challenge.opaque))
        if qop:
            parts += ["qop=" + qop, "nc=" + nc, "cnonce=" + _quote(cnonce)]
        return "Digest " + ", ".join(parts)
