# Test doubles for the SIP core tests (both runtimes): a fake clock, a
# deterministic-per-seed but never-repeating random source, a registrar
# that really checks digest credentials, and a link that joins two user
# agents and the registrar the way one TLS proxy would (bytes through the
# real StreamParser framing on every hop).
import binascii
import hashlib

from hushphone.sip.digest import compute_response
from hushphone.sip.message import (
    Headers,
    Response,
    StreamParser,
    parse_auth_params,
    parse_message,
    parse_name_addr,
    parse_via,
)
from hushphone.sip.transaction import make_response


class Counter:
    """random_bytes stand-in: distinct output on every call (SHA-256 of a
    counter), so repeated identifiers are bugs, not luck."""

    def __init__(self, seed=b"seed"):
        self.seed = seed
        self.n = 0

    def __call__(self, n):
        out = b""
        while len(out) < n:
            self.n += 1
            out += hashlib.sha256(self.seed + str(self.n).encode()).digest()
        return out[:n]


class FakeRegistrar:
    """A REGISTER-only server: 401 with a Digest challenge (qop=auth), then
    checks the response with the user's password; 200 lists the binding.
    `stale_next` answers the next good credentials with a stale=true
    challenge (a nonce that expired)."""

    def __init__(self, users, realm="example.test", algorithm="MD5", expires=None):
        self.users = users
        self.realm = realm
        self.algorithm = algorithm
        self.expires = expires
        self.nonces = 0
        self.stale_next = False
        self.bindings = {}
        self.seen = []  # (status sent, request)

    def _challenge(self, request, stale=False, proxy=False):
        self.nonces += 1
        nonce = binascii.hexlify(hashlib.sha256(b"nonce%d" % self.nonces).digest()[:12]).decode()
        resp = make_response(request, 407 if proxy else 401, None, "regtag")
        value = 'Digest realm="%s", nonce="%s", qop="auth", algorithm=%s, opaque="op1"' % (
            self.realm, nonce, self.algorithm)
        if stale:
            value += ", stale=true"
        resp.headers.add("Proxy-Authenticate" if proxy else "WWW-Authenticate", value)
        return resp

    def _valid(self, request, auth):
        scheme, p = parse_auth_params(auth)
        password = self.users.get(p.get("username"))
        return password is not None and p.get("response") == compute_response(
            p.get("algorithm"), p["username"], p["realm"], password, request.method, p["uri"], p["nonce"],
            p.get("nc"), p.get("cnonce"), p.get("qop"))

    def proxy_check(self, request):
        """None when the request carries good Proxy-Authorization, else a 407."""
        auth = request.headers.get("Proxy-Authorization")
        if auth is not None and self._valid(request, auth):
            self.seen.append((0, request))
            return None
        resp = self._challenge(request, proxy=True)
        self.seen.append((407, request))
        return resp.to_bytes()

    def handle(self, request):
        auth = request.headers.get("Authorization")
        if auth is None:
            resp = self._challenge(request)
        else:
            good = self._valid(request, auth)
            if not good:
                resp = self._challenge(request)
            elif self.stale_next:
                self.stale_next = False
                resp = self._challenge(request, stale=True)
            else:
                contact = parse_name_addr(request.headers.get_all("Contact")[0])
                expires = int(request.headers.get("Expires"))
                if self.expires is not None and expires:
                    expires = self.expires
                aor = str(parse_name_addr(request.headers.get("To")).uri)
                if expires:
                    self.bindings[aor] = str(contact.uri)
                else:
                    self.bindings.pop(aor, None)
                resp = make_response(request, 200, None, "regtag")
                if expires:
                    resp.headers.add("Contact", "<%s>;expires=%d" % (contact.uri, expires))
        self.seen.append((resp.status, request))
        return resp.to_bytes()


class FakeLink:
    """Carries bytes between user agents `a` and `b` (and `registrar`):
    REGISTERs go to the registrar, every other message to the other UA.
    `log` keeps (sender name, bytes) of everything carried."""

    def __init__(self, a, b, registrar=None, record_route=None, proxy_auth=False):
        self.ua = {"a": a, "b": b}
        self.registrar = registrar
        self.proxy_auth = proxy_auth  # challenge new INVITEs with 407 (the registrar checks)
        self.challenged = set()  # branches we answered with 407 (their ACK stops here)
        self.record_route = record_route
        self.parsers = {"a": StreamParser(), "b": StreamParser()}
        self.log = []
        self.now = 0
        self.drop = None  # callable(sender, bytes) -> True to lose a message

    def _deliver(self, name, data):
        parser = self.parsers[name]
        parser.feed(data)
        while True:
            item = parser.next_event()
            if item is None:
                return
            self.ua[name].receive(item, self.now)

    def pump(self, rounds=50):
        """Move bytes until nobody has anything to send (bounded)."""
        for _ in range(rounds):
            moved = False
            for name, other in (("a", "b"), ("b", "a")):
                for data in self.ua[name].data_to_send():
                    moved = True
                    self.log.append((name, data))
                    if self.drop is not None and self.drop(name, data):
                        continue
                    if data.startswith(b"REGISTER ") and self.registrar is not None:
                        self._deliver(name, self.registrar.handle(parse_message(data)))
                    elif data.strip(b"\r\n") == b"":
                        if data == b"\r\n\r\n":  # a ping: the "proxy" answers it
                            self._deliver(name, b"\r\n")
                    elif self._proxy_absorbs(name, data):
                        pass
                    else:
                        if self.record_route and data.startswith(b"INVITE "):
                            msg = parse_message(data)
                            if parse_name_addr(msg.headers.get("To")).tag is None:
                                for rr in self.record_route:  # as a record-routing proxy would
                                    msg.headers.add("Record-Route", rr)
                                data = msg.to_bytes()
                        self._deliver(other, data)
            if not moved:
                return
        raise AssertionError("link did not settle")

    def _proxy_absorbs(self, name, data):
        """Plays the authenticating proxy: 407 to unauthorised new INVITEs,
        and swallows the ACK of that 407 (hop-by-hop)."""
        if not self.proxy_auth or not (data.startswith(b"INVITE ") or data.startswith(b"ACK ")):
            return False
        msg = parse_message(data)
        branch = parse_via(msg.headers.get_all("Via")[0]).branch
        if msg.method == "ACK":
            return branch in self.challenged
        if parse_name_addr(msg.headers.get("To")).tag is not None:
            return False
        reply = self.registrar.proxy_check(msg)
        if reply is None:
            return False
        self.challenged.add(branch)
        self._deliver(name, reply)
        return True

    def advance(self, ms):
        """Move the clock forward, firing timers on both sides."""
        end = self.now + ms
        for _ in range(1000):
            nxt = None
            for ua in self.ua.values():
                t = ua.get_timer()
                if t is not None and t <= end and (nxt is None or t < nxt):
                    nxt = t
            if nxt is None:
                break
            self.now = max(self.now, nxt)
            for ua in self.ua.values():
                t = ua.get_timer()
                if t is not None and t <= self.now:
                    ua.handle_timer(self.now)
            self.pump()
        self.now = end
        self.pump()

    def sent_by(self, name):
        return [parse_message(d) for n, d in self.log if n == name and d.strip(b"\r\n")]


def events_of(ua):
    out = []
    for _ in range(100):
        e = ua.next_event()
        if e is None:
            break
        out.append(e)
    return out


def names(evs):
    return [type(e).__name__ for e in evs]


def response(status, reason="", headers=()):
    h = Headers()
    for name, value in headers:
        h.add(name, value)
    return Response(status, reason, h)
