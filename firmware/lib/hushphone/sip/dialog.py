# RFC 3261 §12 dialogs: identity (Call-ID, local and remote tag), CSeq
# counters, remote target and route set, and in-dialog request building
# (loose routing; strict-routing next hops handled per §12.2.1.1).
from hushphone.sip.identity import new_branch
from hushphone.sip.message import Headers, RemoteSipError, Request, parse_name_addr, parse_uri
from hushphone.sip.transaction import cseq_of


def contact_uri(message):
    """The URI of the (first) Contact of a message, as text, or None."""
    contacts = message.headers.get_all("Contact")
    if not contacts:
        return None
    return str(parse_name_addr(contacts[0]).uri)


def _without_tag(value):
    addr = parse_name_addr(value)
    if addr.params.get("tag") is not None:
        del addr.params["tag"]  # a Params of its own (it had a tag)
    return str(addr)


def _tag_of(value):
    return parse_name_addr(value).params.get("tag")


# Record-Route values a dialog keeps (one outbound proxy adds 1-2; more is
# a peer making every request of the call cost more).
MAX_ROUTES = 8


def route_set(message):
    """The Record-Route values of a dialog-creating message, in received
    order, each checked to be a name-addr (parse_message leaves them to
    the place that uses them). RemoteSipError beyond MAX_ROUTES."""
    fields = message.headers.get_fields("Record-Route")
    commas = 0
    for field in fields:
        commas += field.count(",")
    if commas > 2 * MAX_ROUTES:  # C-level count first: never split a list a peer made long
        raise RemoteSipError("too many Record-Route values")
    routes = message.headers.get_all("Record-Route")
    if len(routes) > MAX_ROUTES:
        raise RemoteSipError("too many Record-Route values")
    for route in routes:
        parse_name_addr(route)
    return routes


def via_value(host, branch):
    # rport (RFC 3581): the proxy answers over the connection we opened.
    return "SIP/2.0/TLS %s;branch=%s;rport" % (host, branch)


class Dialog:
    """A dialog as one side sees it. `local`/`remote` are name-addr values
    without tags; `route_set` is a list of Route values in sending order.
    `remote_tag` is None when an RFC 2543 caller sent no From tag: a UAS
    must accept that (RFC 3261 §12.1.1, RFC 4475 §3.4.1) and the dialog
    is then identified by Call-ID and our tag alone."""

    def __init__(self, call_id, local, local_tag, remote, remote_tag, local_seq, remote_seq, remote_target,
                 route_set, contact, via_host, random_bytes):
        self.call_id = call_id
        self.local = local
        self.local_tag = local_tag
        self.remote = remote
        self.remote_tag = remote_tag
        self.local_seq = local_seq
        self.remote_seq = remote_seq
        self.remote_target = remote_target
        self.route_set = route_set
        self.contact = contact
        self.via_host = via_host
        self._random_bytes = random_bytes

    def id(self):
        return (self.call_id, self.local_tag, self.remote_tag)

    @classmethod
    def from_uac(cls, invite, response, contact, via_host, random_bytes):
        """The dialog a 2xx (or a tagged 1xx) to our INVITE creates (§12.1.2)."""
        remote_tag = _tag_of(response.headers.get("To"))
        target = contact_uri(response)
        if remote_tag is None or target is None:
            raise RemoteSipError("dialog-creating response without To tag or Contact")
        routes = route_set(response)
        routes.reverse()
        return cls(
            invite.headers.get("Call-ID"),
            _without_tag(invite.headers.get("From")),
            _tag_of(invite.headers.get("From")),
            _without_tag(response.headers.get("To")),
            remote_tag,
            cseq_of(invite)[0],
            None,
            target,
            routes,
            contact,
            via_host,
            random_bytes,
        )

    @classmethod
    def from_uas(cls, invite, local_tag, local_seq, contact, via_host, random_bytes):
        """The dialog our response to an INVITE creates (§12.1.1). An RFC
        2543 caller may send no Contact: its From URI is the target then."""
        target = contact_uri(invite)
        if target is None:
            target = str(parse_name_addr(invite.headers.get("From")).uri)
        return cls(
            invite.headers.get("Call-ID"),
            _without_tag(invite.headers.get("To")),
            local_tag,
            _without_tag(invite.headers.get("From")),
            _tag_of(invite.headers.get("From")),
            local_seq,
            cseq_of(invite)[0],
            target,
            route_set(invite),
            contact,
            via_host,
            random_bytes,
        )

    def create_request(self, method, body=b"", content_type=None, cseq=None, branch=None):
        """A request inside this dialog (§12.2.1.1). ACK passes the INVITE's
        CSeq number; other methods take the next local sequence number."""
        if cseq is None:
            self.local_seq += 1
            cseq = self.local_seq
        uri = self.remote_target
        routes = list(self.route_set)
        if routes and "lr" not in parse_name_addr(routes[0]).uri.params:
            # A strict router: it goes in the Request-URI, the target last.
            uri = str(parse_name_addr(routes[0]).uri)
            routes = routes[1:] + ["<%s>" % self.remote_target]
        h = Headers()
        h.add("Via", via_value(self.via_host, branch or new_branch(self._random_bytes)))
        for route in routes:
            h.add("Route", route)
        h.add("Max-Forwards", "70")
        h.add("From", self.local + ";tag=" + self.local_tag)
        # A peer of RFC 2543 sent no From tag: its tag is null (§12.1.1) and
        # our requests carry a To without one (§12.2.1.1).
        h.add("To", self.remote if self.remote_tag is None else self.remote + ";tag=" + self.remote_tag)
        h.add("Call-ID", self.call_id)
        h.add("CSeq", "%d %s" % (cseq, method))
        if method in ("INVITE", "UPDATE"):
            h.add("Contact", self.contact)
        if body:
            h.add("Content-Type", content_type or "application/sdp")
        return Request(method, uri, h, body)

    def check_request(self, request):
        """Validate the CSeq of an in-dialog request (§12.2.2). Returns None
        when acceptable, or the status code to answer with."""
        number, method = cseq_of(request)
        if method in ("ACK", "CANCEL"):
            return None
        if self.remote_seq is not None and number <= self.remote_seq:
            return 500
        self.remote_seq = number
        return None

    def refresh_target(self, message):
        """Remote target refresh from a re-INVITE or its 2xx (§12.2)."""
        target = contact_uri(message)
        if target is not None:
            parse_uri(target)  # must be a valid URI to be used as a target
            self.remote_target = target
