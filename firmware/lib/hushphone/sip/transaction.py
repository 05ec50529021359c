# RFC 3261 §17 transactions for a reliable transport (TLS), with the RFC 6026
# "Accepted" states. Sans-IO: `now` is integer milliseconds; messages out are
# queued in the table's outbox as bytes, timers are absolute deadlines.
#
#   INVITE client:      calling -> proceeding -> accepted (2xx) | completed (>=300, ACK sent) -> terminated
#   non-INVITE client:  trying -> proceeding -> terminated
#   INVITE server:      proceeding -> accepted (2xx) | completed (>=300) -> confirmed (ACK) -> terminated
#   non-INVITE server:  trying -> proceeding -> terminated
#
# Over TLS the retransmission timers (A, E, G) never run and D/I/J/K are 0,
# so completed client and server non-INVITE transactions end at once.
from hushphone.sip import timers
from hushphone.sip.parser import tag_of, top_value
from hushphone.sip.message import (
    Headers,
    LocalSipError,
    RemoteSipError,
    Request,
    Response,
    parse_cseq,
    parse_name_addr,
    parse_via,
)

REASONS = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    183: "Session Progress",
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    415: "Unsupported Media Type",
    406: "Not Acceptable",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    481: "Call/Transaction Does Not Exist",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "Version Not Supported",
    513: "Message Too Large",
    603: "Decline",
}


def top_via(message):
    """The parsed top Via, kept on the message: matching and answering a
    request read it several times (set the headers before the first call)."""
    via = message.__dict__.get("_top_via")
    if via is None:
        text = top_value(message.headers, "Via")
        if not text:
            raise RemoteSipError("message without Via")
        via = message._top_via = parse_via(text)
    return via


def cseq_of(message):
    value = message.headers.get("CSeq")
    if value is None:
        raise RemoteSipError("message without CSeq")
    return parse_cseq(value)


def make_response(request, status, reason=None, to_tag=None, body=b""):
    """A response to `request` with the headers RFC 3261 §8.2.6.2 copies.
    RemoteSipError when the request lacks one of them (no response possible)."""
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        if request.headers.get(name) is None:
            raise RemoteSipError("cannot answer: no " + name)
    h = Headers()
    for via in request.headers.get_fields("Via"):  # copied as received, lists unsplit (§8.2.6.2)
        h.add("Via", via)
    h.add("From", request.headers.get("From"))
    to = request.headers.get("To")
    if to_tag is not None and status > 100 and parse_name_addr(to).params.get("tag") is None:
        to = to + ";tag=" + to_tag
    h.add("To", to)
    h.add("Call-ID", request.headers.get("Call-ID"))
    h.add("CSeq", request.headers.get("CSeq"))
    return Response(status, reason or REASONS.get(status, "Unknown"), h, body)


def make_error_response(request, status, reason=None, to_tag=None):
    """A stateless error response to a request that may be malformed: the
    §8.2.6.2 headers that are there are copied as received (RFC 4475 §3.3.1:
    answer 400 even when From/To/Call-ID are missing); a To that does not
    parse gets no tag. The caller checks that the top Via can route it."""
    h = Headers()
    for via in request.headers.get_fields("Via"):
        h.add("Via", via)
    for name in ("From", "To", "Call-ID", "CSeq"):
        value = request.headers.get(name)
        if value is None:
            continue
        if name == "To" and to_tag is not None and status > 100:
            try:
                if parse_name_addr(value).params.get("tag") is None:
                    value = value + ";tag=" + to_tag
            except RemoteSipError:
                pass
        h.add(name, value)
    return Response(status, reason or REASONS.get(status, "Unknown"), h)


def make_non2xx_ack(invite, response, branch):
    """The ACK for a non-2xx final response (RFC 3261 §17.1.1.3): part of the
    INVITE transaction, same branch and Request-URI, To from the response."""
    h = Headers()
    h.add("Via", invite.headers.get_all("Via")[0])
    for route in invite.headers.get_all("Route"):
        h.add("Route", route)
    h.add("Max-Forwards", "70")
    h.add("From", invite.headers.get("From"))
    h.add("To", response.headers.get("To"))
    h.add("Call-ID", invite.headers.get("Call-ID"))
    h.add("CSeq", "%d ACK" % cseq_of(invite)[0])
    return Request("ACK", invite.uri, h)


class ClientTransaction:
    def __init__(self, request, now):
        self.request = request
        self.method = request.method
        self.is_invite = request.method == "INVITE"
        self.branch = top_via(request).params.get("branch")
        self.state = "calling" if self.is_invite else "trying"
        self.timer = now + (timers.TIMER_B if self.is_invite else timers.TIMER_F)
        self.cancelled = False
        self.ack = None
        self.owner = None  # the TU's callback owner(response, now)
        self.expiry = timers.INVITE_EXPIRY

    def key(self):
        return (self.branch, self.method)

    def on_response(self, response, now, outbox):
        """Returns True when the response goes up to the TU."""
        status = response.status
        state = self.state
        if self.is_invite:
            if state in ("calling", "proceeding"):
                if status < 200:
                    if state == "calling":
                        # Timer C-like expiry replaces Timer B once the far end answers.
                        self.timer = now + self.expiry
                    self.state = "proceeding"
                elif status < 300:
                    self.state = "accepted"
                    self.timer = now + timers.TIMER_M
                else:
                    self.state = "completed"
                    self.ack = make_non2xx_ack(self.request, response, self.branch)
                    outbox.append(self.ack.to_bytes())
                    self.timer = now + timers.TIMER_D
                return True
            if state == "accepted" and 200 <= status < 300:
                return True  # a retransmitted 2xx: the TU sends its ACK again
            if state == "completed" and status >= 300 and self.ack is not None:
                outbox.append(self.ack.to_bytes())
            return False
        if state in ("trying", "proceeding"):
            if status < 200:
                self.state = "proceeding"
            else:
                self.state = "terminated"
                self.timer = now + timers.TIMER_K
            return True
        return False

    def on_timer(self, now):
        """'timeout' (the TU sees a 408), 'expired' (the TU should CANCEL)
        or None when the transaction just ends."""
        state = self.state
        if state == "calling" or state == "trying" or (state == "proceeding" and not self.is_invite):
            self.state = "terminated"
            return "timeout"
        if state == "proceeding":  # INVITE: Timer C-like expiry
            if self.cancelled:
                self.state = "terminated"
                return "timeout"
            self.cancelled = True
            self.timer = now + timers.TIMER_B  # now wait for the 487
            return "expired"
        self.state = "terminated"
        return None


class ServerTransaction:
    def __init__(self, request, now):
        self.request = request
        self.method = request.method
        self.is_invite = request.method == "INVITE"
        via = top_via(request)
        self.branch = via.params.get("branch")
        self.sent_by = (via.host, via.port)
        self._key = request_key(request, via)
        self.state = "proceeding" if self.is_invite else "trying"
        self.timer = None
        self.last_response = None
        self.owner = None

    def key(self):
        return self._key

    def respond(self, response, now, outbox):
        if self.state not in ("trying", "proceeding"):
            raise LocalSipError("response after the final one")
        self.last_response = response
        outbox.append(response.to_bytes())
        status = response.status
        if status < 200:
            self.state = "proceeding"
        elif self.is_invite and status < 300:
            self.state = "accepted"
            self.timer = now + timers.TIMER_L
        elif self.is_invite:
            self.state = "completed"
            self.timer = now + timers.TIMER_H
        else:
            self.state = "terminated"
            self.timer = now + timers.TIMER_J

    def on_retransmission(self, request, now, outbox):
        """A request that matched this transaction. Returns True when it is
        the ACK of our non-2xx final response (absorbed here)."""
        if request.method == "ACK":
            if self.state == "completed":
                self.state = "terminated"
                self.timer = now + timers.TIMER_I
                return True
            return False
        if self.last_response is not None and self.state in ("proceeding", "completed", "trying"):
            outbox.append(self.last_response.to_bytes())
        return False

    def on_timer(self, now):
        """'no_ack' when Timer H fired (our final response was never acknowledged)."""
        state = self.state
        self.state = "terminated"
        if state == "completed":
            return "no_ack"
        return None


MAGIC_COOKIE = "z9hG4bK"


def request_key(request, via, method=None):
    """The server transaction a request belongs to (§17.2.3). An ACK or a
    CANCEL (method="INVITE") finds its INVITE. RFC 3261 branches start with
    the magic cookie; an RFC 2543 peer's (or none at all) are not unique,
    so Call-ID, CSeq number and From tag join the key."""
    method = method or request.method
    if method == "ACK":
        method = "INVITE"
    branch = via.params.get("branch")
    sent_by = (via.host, via.port)
    if branch is not None and branch.startswith(MAGIC_COOKIE):
        return (branch, sent_by, method)
    from_tag = tag_of(request, "From")
    return (branch, sent_by, method, request.headers.get("Call-ID"), cseq_of(request)[0], from_tag)


class TransactionTable:
    """All live transactions of one user agent, matched per RFC 3261
    §17.1.3 (client) and §17.2.3 (server, RFC 3261 branches only)."""

    def __init__(self):
        self.client = {}
        self.server = {}
        self.outbox = []

    def send_request(self, request, now, owner=None):
        tx = ClientTransaction(request, now)
        tx.owner = owner
        self.client[tx.key()] = tx
        self.outbox.append(request.to_bytes())
        return tx

    def send_stateless(self, message):
        self.outbox.append(message.to_bytes())

    def respond(self, tx, response, now):
        tx.respond(response, now, self.outbox)
        if tx.state == "terminated" and tx.timer is not None and tx.timer <= now:
            self.server.pop(tx.key(), None)

    def match_response(self, response, now):
        """(transaction, deliver) for a response; (None, True) for a stray
        response (e.g. a 2xx retransmission after the transaction ended)."""
        via = top_via(response)
        _, method = cseq_of(response)
        tx = self.client.get((via.params.get("branch"), method))
        if tx is None:
            return None, True
        deliver = tx.on_response(response, now, self.outbox)
        if tx.state == "terminated" or (tx.state == "completed" and tx.timer <= now):
            tx.state = "terminated"
            self.client.pop(tx.key(), None)
        return tx, deliver

    def match_request(self, request, now):
        """(transaction, is_new). A retransmission (or the ACK of a non-2xx)
        returns (tx, False) and is handled here; a 2xx ACK returns (None, False)
        so the dialog layer gets it; a new request gets a new transaction."""
        key = request_key(request, top_via(request))
        tx = self.server.get(key)
        if tx is not None:
            absorbed = tx.on_retransmission(request, now, self.outbox)
            if absorbed:
                self.server.pop(key, None)
                return tx, False
            if request.method != "ACK":
                return tx, False
            return None, False
        if request.method == "ACK":
            return None, False
        tx = ServerTransaction(request, now)
        self.server[key] = tx
        return tx, True

    def find_invite_server(self, cancel):
        """The INVITE server transaction a CANCEL refers to (same branch and sent-by)."""
        return self.server.get(request_key(cancel, top_via(cancel), "INVITE"))

    def get_timer(self):
        best = None
        for table in (self.client, self.server):
            for tx in table.values():
                if tx.timer is not None and (best is None or tx.timer < best):
                    best = tx.timer
        return best

    def handle_timer(self, now):
        """[(tx, what)] for every transaction whose timer fired."""
        fired = []
        for table in (self.client, self.server):
            for key in list(table.keys()):
                tx = table[key]
                if tx.timer is not None and tx.timer <= now:
                    what = tx.on_timer(now)
                    if tx.state == "terminated":
                        del table[key]
                    fired.append((tx, what))
        return fired

    def connection_lost(self):
        """Every pending client transaction fails (RFC 3261 §8.1.3.1: a
        transport error is treated as a 503); server ones cannot answer."""
        failed = [tx for tx in self.client.values() if tx.state in ("calling", "trying", "proceeding")]
        self.client = {}
        self.server = {}
        self.outbox = []
        return failed
