# RFC 3261 §10 registration of one address-of-record, sans-IO.
#
# Every new registration (first one, after a lost connection, after a
# failure) draws a fresh Call-ID, From tag, Contact user and host: nothing
# links it to the previous one except the AOR and the credentials. Refreshes
# of a live registration keep its Call-ID and contact (§10.2.4).
#
# Refresh: at the smaller of expires/2 and expires-30 s, but not before
# expires/4 (so a short grant such as 40 s is refreshed after 10 s).
# Retry after a failure or a lost connection: exponential backoff
# (RFC 5626 §4.5) base*2**n capped at `backoff_max`, then a uniform random
# 50-100 % of it drawn from the random source (jitter spreads reconnects).
# Wrong credentials (a second challenge for an answered realm, or 403) stop
# retrying: the user must fix them.
from hushphone.sip import events, identity, timers
from hushphone.sip.dialog import via_value
from hushphone.sip.digest import DigestClient, DigestError, parse_challenges
from hushphone.sip.message import Headers, Request, SipError, parse_name_addr


def refresh_delay(expires_s):
    ms = expires_s * 1000
    return max(min(ms // 2, ms - timers.REFRESH_MARGIN), ms // 4)


class Registration:
    def __init__(self, aor, registrar, username, password, random_bytes, expires=timers.DEFAULT_EXPIRES,
                 route_set=(), backoff_base=timers.BACKOFF_BASE, backoff_max=timers.BACKOFF_MAX, user_agent=None):
        self.aor = aor  # "sip:alice@example.org"
        self.registrar = registrar  # Request-URI, "sip:example.org"
        self.expires = expires
        self.route_set = list(route_set)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.user_agent = user_agent
        self._random_bytes = random_bytes
        self._auth = DigestClient(username, password) if username else None
        self.state = "idle"  # idle registering registered unregistering waiting failed
        self.timer = None
        self.failures = 0
        self.granted = None
        self.contact_user = None
        self.host = None
        self._call_id = None
        self._tag = None
        self._cseq = 0
        self._want = False  # the user asked to be registered

    # -- requests ---------------------------------------------------------

    def _new_identity(self):
        rb = self._random_bytes
        self._call_id = identity.new_call_id(rb)
        self._tag = identity.new_tag(rb)
        self.contact_user = identity.new_contact_user(rb)
        self.host = identity.new_host(rb)
        self._cseq = identity.new_cseq(rb)

    def contact_uri(self):
        return "sip:%s@%s;transport=tls" % (self.contact_user, self.host)

    def _request(self, expires, authorization=None):
        self._cseq += 1
        h = Headers()
        h.add("Via", via_value(self.host, identity.new_branch(self._random_bytes)))
        for route in self.route_set:
            h.add("Route", route)
        h.add("Max-Forwards", "70")
        h.add("From", "<%s>;tag=%s" % (self.aor, self._tag))
        h.add("To", "<%s>" % self.aor)
        h.add("Call-ID", self._call_id)
        h.add("CSeq", "%d REGISTER" % self._cseq)
        h.add("Contact", "<%s>;expires=%d" % (self.contact_uri(), expires))
        h.add("Expires", str(expires))
        if self.user_agent:
            h.add("User-Agent", self.user_agent)
        if authorization is not None:
            h.add(authorization[0], authorization[1])
        return Request("REGISTER", self.registrar, h)

    def start(self, now):
        """Begin a new registration (fresh identifiers). Returns the REGISTER."""
        self._want = True
        self._new_identity()
        if self._auth is not None:
            self._auth.reset()
        self.state = "registering"
        self.timer = None
        return self._request(self.expires)

    def stop(self, now):
        """Remove our binding. Returns the REGISTER (Expires: 0) or None."""
        self._want = False
        self.timer = None
        if self.state in ("registered", "registering") and self._call_id is not None:
            self.state = "unregistering"
            if self._auth is not None:
                self._auth.reset()
            return self._request(0)
        self.state = "idle"
        return None

    # -- responses and time ----------------------------------------------

    def _retry_later(self, now, status, reason):
        bound = min(self.backoff_max, self.backoff_base << min(self.failures, 20))
        wait = identity.random_fraction(self._random_bytes, 50, 100, bound)
        self.failures += 1
        self.state = "waiting"
        self.timer = now + wait
        return None, events.RegistrationFailed(status, reason, wait)

    def _granted_expires(self, response):
        for value in response.headers.get_all("Contact"):
            try:
                addr = parse_name_addr(value)
            except SipError:
                continue
            if addr.uri.user == self.contact_user:
                exp = addr.params.get("expires")
                if exp is not None and exp.isdigit():
                    return int(exp)
        value = response.headers.get("Expires")
        if value is not None and value.strip().isdigit():
            return int(value.strip())
        return self.expires

    def on_response(self, response, now):
        """(request to send or None, event or None)."""
        status = response.status
        if status < 200 or self.state not in ("registering", "unregistering"):
            return None, None
        unregistering = self.state == "unregistering"
        if status < 300:
            self.failures = 0
            if self._auth is not None:
                self._auth.reset()
            if unregistering:
                self.state = "idle"
                return None, events.Unregistered(self.aor)
            self.granted = self._granted_expires(response)
            self.state = "registered"
            self.timer = now + refresh_delay(self.granted)
            return None, events.Registered(self.aor, self.granted)
        if status in (401, 407) and self._auth is not None:
            try:
                challenges = parse_challenges(response.headers, proxy=status == 407)
            except DigestError as e:
                return self._fail(status, str(e), unregistering)
            for challenge in challenges:
                if self._auth.accept(challenge):
                    header = "Proxy-Authorization" if status == 407 else "Authorization"
                    value = self._auth.authorization(challenge, "REGISTER", self.registrar, self._random_bytes)
                    return self._request(0 if unregistering else self.expires, (header, value)), None
            return self._fail(status, "authentication failed (wrong user name or password)", unregistering)
        if status in (401, 407):  # challenged, but we have no credentials
            return self._fail(status, "the registrar wants credentials and none are configured", unregistering)
        if status == 403:
            return self._fail(status, "registration forbidden: " + response.reason, unregistering)
        if status == 423 and not unregistering:
            value = response.headers.get("Min-Expires")
            if value is not None and value.strip().isdigit():
                self.expires = int(value.strip())
                return self._request(self.expires), None
        if unregistering:
            self.state = "idle"
            return None, events.Unregistered(self.aor)
        return self._retry_later(now, status, response.reason)

    def _fail(self, status, reason, unregistering):
        self.state = "idle" if unregistering else "failed"
        self.timer = None
        return None, events.RegistrationFailed(status, reason, None)

    def handle_timer(self, now):
        """The REGISTER to send when the refresh or retry time came, else None."""
        if self.timer is None or now < self.timer:
            return None
        self.timer = None
        if self.state == "registered":
            self.state = "registering"
            return self._request(self.expires)
        if self.state == "waiting" and self._want:
            return self.start(now)
        return None

    def connection_lost(self, now, reason):
        """Our flow died: the binding points at a dead connection. Retry
        with backoff (a new registration on a new connection)."""
        if not self._want or self.state in ("failed", "idle", "waiting"):
            return None
        if self.state == "unregistering":
            self.state = "idle"
            return events.Unregistered(self.aor)
        return self._retry_later(now, 503, reason or "connection lost")[1]
