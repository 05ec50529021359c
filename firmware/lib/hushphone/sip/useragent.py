# The SIP user agent core (RFC 3261 UAC + UAS), sans-IO in the h11/aioquic
# style: the transport driver feeds it what arrived (`receive(item, now)`:
# a Request/Response, raw message bytes, or the framing layer's "ping" /
# "pong"), drains `data_to_send()`, and calls `handle_timer(now)` at
# `get_timer()`; the application calls the actions (register, call, answer,
# hangup, reinvite...) and reads `next_event()`. Time is integer
# milliseconds; randomness comes from the `random_bytes` passed in.
#
# Errors (errors.py): receive() and handle_timer() never raise for what a
# peer sends (RemoteSipError is answered or dropped and counted in
# bad_messages); the actions raise LocalSipError when the call is not in a
# state they fit (e.g. the peer's CANCEL came first: reject() is then a
# no-op returning False). Anything else that comes out is MemoryError or a
# bug: a local fault.
#
# One connection (the TLS flow to the outbound proxy) carries everything:
# requests to any Request-URI go out on it and incoming requests arrive on
# it (connection reuse), so our Contact and Via hosts are random ".invalid"
# names that carry no identity.
from hushphone.sip import events, identity, timers
from hushphone.sip.dialog import Dialog, route_set, via_value
from hushphone.sip.digest import DigestClient, DigestError, parse_challenges
from hushphone.sip.keepalive import PING, PONG, Keepalive
from hushphone.sip.message import (
    Headers,
    LocalSipError,
    RemoteSipError,
    Request,
    SipParseError,
    parse_message,
    parse_uri,
    parse_via,
)
from hushphone.sip.registration import Registration
from hushphone.sip.syntax import MAX_PARAMS
from hushphone.sip.parser import tag_of, top_value
from hushphone.sip.transaction import ServerTransaction, TransactionTable, cseq_of, make_error_response, make_response

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS"
ACCEPT = "application/sdp"
_KNOWN_METHODS = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "SUBSCRIBE", "NOTIFY", "REFER",
                  "MESSAGE", "INFO", "UPDATE", "PRACK", "PUBLISH")


def _routable(via):
    """Whether a response can find its way back along this top Via: its
    protocol and sent-by read (RFC 3261 §18.2.2), even if a parameter is
    bad (badinv01's ';;') or the version is not ours (badvers' SIP/7.0)."""
    for text in (via, via.split(";", 1)[0]):
        try:
            parse_via(text)
            return True
        except SipParseError as e:
            if e.status == 505:
                return True
    return False


_SDP_RANGES = ("application/sdp", "application/*", "*/*")


def _accepts_sdp(fields):
    """Whether Accept fields (an empty Accept means none) admit
    application/sdp with a q above 0. Only the elements naming a range
    that covers SDP are read (C-level finds): a list of thousands of other
    types costs no more than one."""
    for field in fields:
        low = field.lower()
        for kind in _SDP_RANGES:
            at = low.find(kind)
            for _ in range(MAX_PARAMS):  # look-alikes ("application/sdpx") read at most this often
                if at < 0:
                    break
                start = low.rfind(",", 0, at) + 1
                end = low.find(",", at)
                if end < 0:
                    end = len(low)
                parts = low[start:end].split(";")
                if parts[0].strip() == kind and not _q_zero(parts[1:]):
                    return True
                at = low.find(kind, end)
    return False


def _q_zero(params):
    for param in params:
        name, _, q = param.partition("=")
        q = q.strip()
        if name.strip() == "q" and q[:1] == "0" and not q.strip("0."):
            return True  # q=0, q=0.0, q=0.000
    return False


class UaConfig:
    """What the phone is told about its account. Privacy defaults: no
    User-Agent/Server header, caller ID shown unless `anonymous`, no
    P-Preferred-Identity unless `preferred_identity` is set."""

    def __init__(self, aor, username=None, password=None, registrar=None, display_name=None, route_set=(),
                 expires=timers.DEFAULT_EXPIRES, keepalive_interval=timers.KEEPALIVE_INTERVAL,
                 anonymous=False, privacy="id", preferred_identity=None, user_agent=None,
                 backoff_base=timers.BACKOFF_BASE, backoff_max=timers.BACKOFF_MAX,
                 invite_expiry=timers.INVITE_EXPIRY):
        uri = parse_uri(aor)
        self.aor = aor
        self.domain = uri.host_port()
        self.username = username
        self.password = password
        self.registrar = registrar or "%s:%s" % (uri.scheme, self.domain)
        self.display_name = display_name
        self.route_set = list(route_set)  # outbound proxy as a preloaded Route, e.g. "<sip:proxy;lr>"
        self.expires = expires
        self.keepalive_interval = keepalive_interval
        self.anonymous = anonymous
        self.privacy = privacy  # RFC 3323 Privacy header value for withheld calls: "id", "header", "header;id"
        self.preferred_identity = preferred_identity  # RFC 3325 P-Preferred-Identity, off by default
        self.user_agent = user_agent  # User-Agent and Server header value, off by default
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.invite_expiry = invite_expiry

    def __repr__(self):  # never show the password
        return "UaConfig(%r, username=%r)" % (self.aor, self.username)


class Call:
    """One call. `state`: outgoing "calling" -> "early" -> "confirmed";
    incoming "incoming" -> "answered" (2xx sent) -> "confirmed" (ACK came);
    "ended" at the end. `direction` is "out" or "in"."""

    def __init__(self, direction, call_id, local_tag, contact, via_host, anonymous):
        self.direction = direction
        self.call_id = call_id
        self.local_tag = local_tag
        self.contact = contact
        self.via_host = via_host
        self.anonymous = anonymous
        self.state = "calling" if direction == "out" else "incoming"
        self.dialog = None
        self.invite = None  # our INVITE (out) or theirs (in)
        self.invite_tx = None
        self.ack = None  # our ACK for the 2xx, sent again if the 2xx repeats
        self.cancel_wanted = False
        self.cancelled = False
        self.provisional = False  # a 1xx arrived: CANCEL may be sent (§9.1)
        self.update_tx = None  # a re-INVITE in progress (ours: client tx; theirs: server tx)
        self.ack_deadline = None  # we sent a 2xx and wait for its ACK
        self.remote_body = b""
        self.local_body = b""
        self.status = None  # final status of the initial INVITE
        self._auth = None

    def __repr__(self):
        return "Call(%s, %s)" % (self.direction, self.state)


class UserAgent:
    def __init__(self, config, random_bytes):
        self.config = config
        self._rb = random_bytes
        self._tx = TransactionTable()
        self._events = []
        self._calls = []
        self._keepalive = Keepalive(config.keepalive_interval)
        self._close_wanted = False
        self.connected = False
        self.bad_messages = 0  # peer messages dropped or refused as malformed
        self.registration = Registration(
            config.aor, config.registrar, config.username, config.password, random_bytes, config.expires,
            config.route_set, config.backoff_base, config.backoff_max, config.user_agent)

    # -- transport side ---------------------------------------------------

    def data_to_send(self):
        out = self._tx.outbox
        self._tx.outbox = []
        return out

    def has_pending_output(self):
        return bool(self._tx.outbox)

    def wants_close(self):
        """True once when the keepalive found the flow dead: the driver
        closes the connection and reports connection_lost."""
        wanted = self._close_wanted
        self._close_wanted = False
        return wanted

    def connection_made(self, now):
        self.connected = True
        self._keepalive.start(now)

    def connection_lost(self, now, reason=None):
        self.connected = False
        self._keepalive.stop()
        for tx in self._tx.connection_lost():
            if tx.owner is not None:
                tx.owner(make_response(tx.request, 503, reason or "Connection lost"), now)
        for call in list(self._calls):
            if call.state != "ended":
                self._end(call, "connection-lost")
        self._events.append(events.ConnectionLost(reason or "connection lost"))
        event = self.registration.connection_lost(now, reason)
        if event is not None:
            self._events.append(event)

    def next_event(self):
        if self._events:
            return self._events.pop(0)
        return None

    def get_timer(self):
        best = None
        for t in (self._tx.get_timer(), self.registration.timer, self._keepalive.get_timer()):
            if t is not None and (best is None or t < best):
                best = t
        for call in self._calls:
            t = call.ack_deadline
            if t is not None and (best is None or t < best):
                best = t
        return best

    def handle_timer(self, now):
        """Everything due at `now`. Each timer is handled on its own: a
        peer's data that makes one fail (RemoteSipError) ends that call or
        transaction only, and nothing of the peer's is raised."""
        for tx, what in self._tx.handle_timer(now):
            try:
                if what == "timeout" and tx.owner is not None:
                    tx.owner(make_response(tx.request, 408), now)
                elif what == "expired":
                    self._send_cancel(tx, now)
            except RemoteSipError:
                self._peer_fault(tx)
        request = self.registration.handle_timer(now)
        if request is not None:
            self._send_register(request, now)
        what = self._keepalive.handle_timer(now)
        if what == "ping":
            self._tx.outbox.append(PING)
        elif what == "dead":
            self._close_wanted = True
        for call in list(self._calls):
            if call.ack_deadline is not None and now >= call.ack_deadline:
                call.ack_deadline = None
                try:
                    self._send_in_dialog(call, "BYE", now)
                except RemoteSipError:  # the peer's dialog data cannot carry a BYE: the call ends all the same
                    self.bad_messages += 1
                self._end(call, "no-ack")

    def _peer_fault(self, tx):
        """A peer's data made a timer's work impossible: count it and end
        the call of that transaction (its state cannot be trusted)."""
        self.bad_messages += 1
        for call in list(self._calls):
            if call.invite_tx is tx or call.update_tx is tx:
                self._end(call, "remote")

    def receive(self, item, now):
        """One item from the framing layer: a message (object or bytes),
        "ping", "pong", or a SipParseError the StreamParser returned for a
        well-framed bad message. Nothing a peer sends makes this raise
        (errors.py): a bad message is answered with the status it earns
        where a response can be routed back (its top Via parses), else
        dropped, and counted in bad_messages. Other calls and transactions
        are not touched by it."""
        if isinstance(item, str):
            if item == "ping":
                self._tx.outbox.append(PONG)
            elif item == "pong":
                self._keepalive.pong(now)
            return
        message = item
        try:
            if isinstance(item, SipParseError):
                raise item
            if isinstance(item, (bytes, bytearray, memoryview)):
                message = parse_message(bytes(item))
            if message.is_request:
                self._on_request(message, now)
            else:
                self._on_response(message, now)
        except RemoteSipError as e:
            self.bad_messages += 1
            if isinstance(e, SipParseError) and e.message is not None:
                message = e.message
            if message is not None and not isinstance(message, (bytes, bytearray, memoryview, SipParseError)):
                self._refuse(message, getattr(e, "status", 400), getattr(e, "reason", "Bad Request"))

    def _refuse(self, message, status, reason):
        """A stateless error response to a bad request, if it can be routed:
        never to an ACK (§17.2.1), never when the top Via is unusable."""
        if not message.is_request or message.method == "ACK":
            return
        try:
            if cseq_of(message)[1] == "ACK":
                return
        except RemoteSipError:
            pass  # no usable CSeq: still answerable
        via = top_value(message.headers, "Via")
        if not via or not _routable(via):
            return
        try:
            self._tx.send_stateless(make_error_response(message, status, reason, identity.new_tag(self._rb)))
        except RemoteSipError:
            pass  # not even the headers a response needs: drop it

    # -- registration -----------------------------------------------------

    def register(self, now):
        """Start a new registration (fresh Call-ID, tag, contact)."""
        self._send_register(self.registration.start(now), now)

    def unregister(self, now):
        request = self.registration.stop(now)
        if request is not None:
            self._send_register(request, now)

    def _send_register(self, request, now):
        self._tx.send_request(request, now, self._on_register_response)

    def _on_register_response(self, response, now):
        request, event = self.registration.on_response(response, now)
        if request is not None:
            self._send_register(request, now)
        if event is not None:
            self._events.append(event)

    # -- outgoing calls ---------------------------------------------------

    def _target_uri(self, target):
        if ":" not in target:
            target = "sip:%s@%s" % (target, self.config.domain)
        try:
            parse_uri(target)  # refuse a malformed target before anything is sent
        except SipParseError:
            raise LocalSipError("not a SIP address: %r" % target)
        return target

    def _new_call(self, direction, anonymous):
        rb = self._rb
        host = identity.new_host(rb)
        contact = "<sip:%s@%s;transport=tls>" % (identity.new_contact_user(rb), host)
        return Call(direction, None, identity.new_tag(rb), contact, host, anonymous)

    def call(self, target, body, now, anonymous=None):
        """Call `target` (a SIP URI or a user at our domain) with the SDP
        offer `body`. `anonymous` withholds our identity (RFC 3323);
        None means the configured default. Returns the Call."""
        if anonymous is None:
            anonymous = self.config.anonymous
        uri = self._target_uri(target)
        call = self._new_call("out", anonymous)
        call.call_id = identity.new_call_id(self._rb)
        call.local_body = body
        cfg = self.config
        h = Headers()
        for route in cfg.route_set:
            h.add("Route", route)
        h.add("Max-Forwards", "70")
        if anonymous:
            h.add("From", identity.ANONYMOUS_FROM + ";tag=" + call.local_tag)
        elif cfg.display_name:
            h.add("From", '"%s" <%s>;tag=%s' % (cfg.display_name.replace('"', ""), cfg.aor, call.local_tag))
        else:
            h.add("From", "<%s>;tag=%s" % (cfg.aor, call.local_tag))
        h.add("To", "<%s>" % uri)
        h.add("Call-ID", call.call_id)
        h.add("CSeq", "%d INVITE" % identity.new_cseq(self._rb))
        h.add("Contact", call.contact)
        h.add("Allow", ALLOW)
        if anonymous:
            h.add("Privacy", cfg.privacy)
        if cfg.preferred_identity:
            h.add("P-Preferred-Identity", cfg.preferred_identity)
        if cfg.user_agent:
            h.add("User-Agent", cfg.user_agent)
        if body:
            h.add("Content-Type", "application/sdp")
        invite = Request("INVITE", uri, h, body)
        self._calls.append(call)
        self._send_invite(call, invite, now)
        return call

    def _send_invite(self, call, invite, now):
        invite.headers.prepend("Via", via_value(call.via_host, identity.new_branch(self._rb)))
        call.invite = invite
        call.invite_tx = self._tx.send_request(invite, now, lambda r, n: self._on_invite_response(call, r, n))
        call.invite_tx.expiry = self.config.invite_expiry

    def _authorized_retry(self, call, request, response, now):
        """The request again with credentials (new CSeq and branch, same
        Call-ID and tags), or None when we cannot or must not answer."""
        cfg = self.config
        if not cfg.username or response.status not in (401, 407):
            return None
        if call._auth is None:
            call._auth = DigestClient(cfg.username, cfg.password)
        try:
            challenges = parse_challenges(response.headers, proxy=response.status == 407)
        except DigestError:
            return None
        for challenge in challenges:
            if call._auth.accept(challenge):
                h = request.headers.copy()
                h.remove("Via")
                header = "Proxy-Authorization" if response.status == 407 else "Authorization"
                h.remove(header)
                h.add(header, call._auth.authorization(challenge, request.method, request.uri, self._rb))
                number, method = cseq_of(request)
                if call.dialog is not None:
                    call.dialog.local_seq += 1
                    number = call.dialog.local_seq
                else:
                    number += 1
                h.set("CSeq", "%d %s" % (number, method))
                return Request(request.method, request.uri, h, request.body)
        return None

    def _on_invite_response(self, call, response, now):
        status = response.status
        if status < 200:
            call.provisional = True
            if status > 100 and call.state == "calling":
                call.state = "early"
                self._events.append(events.CallProgress(call, status, response.body))
            if call.cancel_wanted and not call.cancelled:
                self._send_cancel(call.invite_tx, now)
            return
        if status < 300:
            self._on_invite_2xx(call, response, now)
            return
        if call.state == "ended":
            return
        retry = self._authorized_retry(call, call.invite, response, now) if not call.cancel_wanted else None
        if retry is not None:
            self._send_invite(call, retry, now)
            return
        call.status = status
        if call.cancelled or call.cancel_wanted:
            self._end(call, "cancelled")
        else:
            self._events.append(events.CallFailed(call, status, response.reason))
            self._end(call, None)

    def _on_invite_2xx(self, call, response, now):
        tag = tag_of(response, "To")
        if call.dialog is not None:
            if tag == call.dialog.remote_tag and call.ack is not None:
                self._tx.send_stateless(call.ack)  # the 2xx was retransmitted
            else:
                # A second (forked) answer: acknowledge it and hang it up.
                other = Dialog.from_uac(call.invite, response, call.contact, call.via_host, self._rb)
                self._tx.send_stateless(other.create_request("ACK", cseq=cseq_of(call.invite)[0]))
                self._tx.send_request(other.create_request("BYE"), now)
            return
        try:
            call.dialog = Dialog.from_uac(call.invite, response, call.contact, call.via_host, self._rb)
        except RemoteSipError:
            # No dialog can be made of this answer (no To tag or Contact, a
            # bad or too long route set): the call fails here rather than
            # ring on for ever; the peer, never ACKed, gives up too.
            if call.state != "ended":
                self._events.append(events.CallFailed(call, 500, "unusable answer"))
                self._end(call, None)
            raise
        call.dialog.local_seq = cseq_of(call.invite)[0]
        call.ack = call.dialog.create_request("ACK", cseq=call.dialog.local_seq)
        self._tx.send_stateless(call.ack)
        call.status = response.status
        call.remote_body = response.body
        if call.cancel_wanted:  # we hung up while it was being answered
            call.state = "confirmed"
            self._send_in_dialog(call, "BYE", now)
            self._end(call, "local")
            return
        call.state = "confirmed"
        self._events.append(events.CallAnswered(call, response.body))

    def _send_cancel(self, invite_tx, now):
        """CANCEL our INVITE (§9.1): same branch, Request-URI, Call-ID,
        From, To and CSeq number; its own non-INVITE transaction."""
        invite = invite_tx.request
        h = Headers()
        h.add("Via", invite.headers.get_all("Via")[0])
        for route in invite.headers.get_all("Route"):
            h.add("Route", route)
        h.add("Max-Forwards", "70")
        for name in ("From", "To", "Call-ID"):
            h.add(name, invite.headers.get(name))
        h.add("CSeq", "%d CANCEL" % cseq_of(invite)[0])
        invite_tx.cancelled = True
        for call in self._calls:
            if call.invite_tx is invite_tx:
                call.cancelled = True
        self._tx.send_request(Request("CANCEL", invite.uri, h), now)

    # -- incoming calls ---------------------------------------------------

    def ringing(self, call, now, status=180, body=b""):
        """Tell the caller we are ringing (180), or 183 Session Progress
        with an early-media SDP `body`."""
        if call.direction != "in" or call.state != "incoming" or not 100 < status < 200:
            raise LocalSipError("ringing() needs an unanswered incoming call and a 1xx status")
        self._respond_invite(call, status, body, now)

    def answer(self, call, body, now):
        """Accept an incoming call with the SDP answer `body`."""
        if call.direction != "in" or call.state != "incoming":
            raise LocalSipError("answer() needs an unanswered incoming call")
        call.local_body = body
        self._respond_invite(call, 200, body, now)
        call.state = "answered"
        call.ack_deadline = now + timers.ACK_WAIT

    def reject(self, call, now, status=486):
        """Refuse an incoming call: 486 Busy Here, 603 Decline, 488... A
        call the peer has already ended (its CANCEL came first) needs no
        refusal: nothing is sent and False is returned."""
        if call.direction == "in" and call.state == "ended":
            return False
        if call.direction != "in" or call.state != "incoming":
            raise LocalSipError("reject() needs an unanswered incoming call")
        self._respond_invite(call, status, b"", now)
        call.status = status
        self._end(call, None)
        return True

    def _respond_invite(self, call, status, body, now):
        response = make_response(call.invite, status, None, call.local_tag, body)
        if 100 < status < 300:
            for rr in call.invite.headers.get_all("Record-Route"):
                response.headers.add("Record-Route", rr)
            response.headers.add("Contact", call.contact)
        if status >= 200 and status < 300:
            response.headers.add("Allow", ALLOW)
        self._decorate(response, body)
        self._tx.respond(call.invite_tx, response, now)
        if 100 < status < 300 and call.dialog is None:
            call.dialog = Dialog.from_uas(call.invite, call.local_tag, identity.new_cseq(self._rb), call.contact,
                                          call.via_host, self._rb)

    def _decorate(self, response, body):
        if self.config.user_agent:
            response.headers.add("Server", self.config.user_agent)
        if body:
            response.headers.add("Content-Type", "application/sdp")

    def _content_ok(self, request, tx, now):
        """An INVITE's body must be SDP (415, RFC 4475 §3.3.6 invut) and
        its Accept must allow the SDP our answer carries (406 with a
        Warning, RFC 3261 §21.4.7, RFC 4475 §3.3.15 sdp01)."""
        ctype = request.headers.get("Content-Type")
        if request.body and (ctype is None or ctype.split(";")[0].strip().lower() != "application/sdp"):
            resp = make_response(request, 415, None, identity.new_tag(self._rb))
            resp.headers.add("Accept", ACCEPT)
            self._tx.respond(tx, resp, now)
            return False
        if "Accept" in request.headers and not _accepts_sdp(request.headers.get_fields("Accept")):
            resp = make_response(request, 406, None, identity.new_tag(self._rb))
            resp.headers.add("Accept", ACCEPT)
            resp.headers.add("Warning", '399 invalid.invalid "our answers are application/sdp"')
            self._tx.respond(tx, resp, now)
            return False
        return True

    def _on_new_invite(self, request, tx, now):
        # No Contact (RFC 2543, RFC 4475 §3.4.1 inv2543): the dialog's
        # remote target is the From URI (Dialog.from_uas).
        route_set(request)  # a bad route set is refused now (400), not when the user answers
        call = self._new_call("in", False)
        call.call_id = request.headers.get("Call-ID")
        call.invite = request
        call.invite_tx = tx
        call.remote_body = request.body
        tx.owner = call
        self._calls.append(call)
        self._tx.respond(tx, make_response(request, 100), now)
        self._events.append(events.IncomingCall(call, request.body))

    def _on_cancel(self, request, tx, now):
        invite_tx = self._tx.find_invite_server(request)
        if invite_tx is None or invite_tx.state != "proceeding" or not isinstance(invite_tx.owner, Call):
            self._tx.respond(tx, make_response(request, 481, None, identity.new_tag(self._rb)), now)
            return
        call = invite_tx.owner
        self._tx.respond(tx, make_response(request, 200, None, call.local_tag), now)
        self._tx.respond(invite_tx, make_response(call.invite, 487, None, call.local_tag), now)
        call.status = 487
        self._end(call, "cancelled")

    # -- in-dialog ----------------------------------------------------------

    def hangup(self, call, now):
        """End a call in whatever state it is: CANCEL a ringing outgoing
        call, decline an unanswered incoming one, BYE an established one."""
        state = call.state
        if state == "ended":
            return
        if call.direction == "in" and state == "incoming":
            self.reject(call, now, 603)
        elif call.direction == "out" and state in ("calling", "early"):
            call.cancel_wanted = True
            # Before any provisional response a CANCEL must wait (§9.1).
            if call.provisional and not call.cancelled:
                self._send_cancel(call.invite_tx, now)
        else:
            self._send_in_dialog(call, "BYE", now, self._on_bye_response)
            call.state = "ending"

    def _on_bye_response(self, call, response, now):
        if response.status >= 200:
            if call.state != "ended":
                self._end(call, "local")

    def reinvite(self, call, body, now):
        """Offer new SDP in the established call (hold: a=sendonly or
        a=inactive, resume: a=sendrecv)."""
        if call.state != "confirmed" or call.update_tx is not None:
            raise LocalSipError("reinvite() needs an established call without a pending update")
        call.local_body = body
        call.update_tx = self._send_in_dialog(call, "INVITE", now, self._on_update_response, body)

    def _on_update_response(self, call, response, now):
        status = response.status
        if status < 200:
            return
        request = call.update_tx.request if call.update_tx is not None else None
        if 200 <= status < 300:
            if request is not None and call.dialog is not None:
                call.dialog.refresh_target(response)
                self._tx.send_stateless(call.dialog.create_request("ACK", cseq=cseq_of(request)[0]))
            call.update_tx = None
            call.remote_body = response.body
            self._events.append(events.CallUpdated(call, response.body))
            return
        retry = self._authorized_retry(call, request, response, now) if request is not None else None
        if retry is not None:
            retry.headers.prepend("Via", via_value(call.via_host, identity.new_branch(self._rb)))
            call.update_tx = self._tx.send_request(retry, now, lambda r, n: self._on_update_response(call, r, n))
            return
        call.update_tx = None
        self._events.append(events.UpdateFailed(call, status, response.reason))
        if status in (408, 481):  # §12.2.1.2: the dialog is gone
            self._send_in_dialog(call, "BYE", now)
            self._end(call, "remote")

    def accept_update(self, call, body, now):
        """Answer the peer's re-INVITE with the SDP `body`."""
        tx = call.update_tx
        if tx is None or tx.state != "proceeding":
            raise LocalSipError("no re-INVITE to answer")
        response = make_response(tx.request, 200, None, call.local_tag, body)
        response.headers.add("Contact", call.contact)
        self._decorate(response, body)
        self._tx.respond(tx, response, now)
        call.local_body = body
        call.update_tx = None
        call.ack_deadline = now + timers.ACK_WAIT

    def reject_update(self, call, now, status=488):
        tx = call.update_tx
        if tx is None or tx.state != "proceeding":
            raise LocalSipError("no re-INVITE to answer")
        self._tx.respond(tx, make_response(tx.request, status, None, call.local_tag), now)
        call.update_tx = None

    def _send_in_dialog(self, call, method, now, handler=None, body=b""):
        request = call.dialog.create_request(method, body)
        if self.config.user_agent:
            request.headers.add("User-Agent", self.config.user_agent)
        owner = None
        if handler is not None:
            owner = lambda r, n: handler(call, r, n)  # noqa: E731
        return self._tx.send_request(request, now, owner)

    def _find_dialog_call(self, request):
        call_id = request.headers.get("Call-ID")
        to_tag = tag_of(request, "To")
        from_tag = tag_of(request, "From")
        for call in self._calls:
            d = call.dialog
            if d is not None and d.call_id == call_id and d.local_tag == to_tag and d.remote_tag == from_tag:
                return call
        return None

    def _on_request(self, request, now):
        for name in ("Call-ID", "From", "To", "CSeq"):
            if request.headers.get(name) is None:
                raise SipParseError(400, "missing " + name)
        number, method = cseq_of(request)
        if method != request.method:
            raise SipParseError(400, "CSeq method does not match")
        tx, is_new = self._tx.match_request(request, now)
        if not is_new:
            if tx is None and request.method == "ACK":
                self._on_2xx_ack(request, now)
            return
        try:
            self._on_new_request(request, tx, now)
        except RemoteSipError as e:
            # The request's own transaction answers (so it ends, and no
            # second, stateless answer goes out); a call it started ends.
            self.bad_messages += 1
            if isinstance(tx.owner, Call):
                self._end(tx.owner, "remote")
            if tx.state in ("trying", "proceeding") and (tx.last_response is None or tx.last_response.status < 200):
                status = getattr(e, "status", 400)
                self._tx.respond(tx, make_error_response(request, status, getattr(e, "reason", None),
                                                         identity.new_tag(self._rb)), now)

    def _on_new_request(self, request, tx, now):
        """A request that opened a server transaction, in the order of RFC
        3261 §8.2 (and the answers RFC 4475 §3.3 asks of a UAS)."""
        method = request.method
        if method == "CANCEL":
            self._on_cancel(request, tx, now)
            return
        if parse_uri(request.uri).scheme not in ("sip", "sips"):
            # §8.2.2.1, RFC 4475 §3.3.2/3.3.3: unkscm, novelsc.
            self._tx.respond(tx, make_response(request, 416, None, identity.new_tag(self._rb)), now)
            return
        require = request.headers.get_fields("Require")
        if require:
            # We support no extension: every option tag is unsupported; the
            # fields are echoed whole (no split of a list a peer made long).
            resp = make_response(request, 420, None, identity.new_tag(self._rb))
            resp.headers.add("Unsupported", ", ".join(require))
            self._tx.respond(tx, resp, now)
            return
        if method == "INVITE" and not self._content_ok(request, tx, now):
            return
        to_tag = tag_of(request, "To")
        if to_tag is not None:
            self._on_in_dialog(request, tx, now)
        elif method == "INVITE":
            self._on_new_invite(request, tx, now)
        elif method == "OPTIONS":
            self._answer_options(request, tx, now, identity.new_tag(self._rb))
        elif method == "BYE":
            self._tx.respond(tx, make_response(request, 481, None, identity.new_tag(self._rb)), now)
        else:
            self._not_allowed(request, tx, now, identity.new_tag(self._rb))

    def _not_allowed(self, request, tx, now, tag):
        status = 405 if request.method in _KNOWN_METHODS else 501
        resp = make_response(request, status, None, tag)
        resp.headers.add("Allow", ALLOW)
        self._tx.respond(tx, resp, now)

    def _answer_options(self, request, tx, now, tag):
        resp = make_response(request, 200, None, tag)
        resp.headers.add("Allow", ALLOW)
        resp.headers.add("Accept", ACCEPT)
        self._decorate(resp, b"")
        self._tx.respond(tx, resp, now)

    def _on_in_dialog(self, request, tx, now):
        call = self._find_dialog_call(request)
        if call is None or call.state == "ended":
            self._tx.respond(tx, make_response(request, 481), now)
            return
        status = call.dialog.check_request(request)
        if status is not None:
            self._tx.respond(tx, make_response(request, status), now)
            return
        method = request.method
        if method == "BYE":
            self._tx.respond(tx, make_response(request, 200), now)
            self._answer_pending(call, now)
            self._end(call, "remote")
        elif method == "INVITE":
            if call.update_tx is not None or call.state not in ("confirmed", "answered"):
                self._tx.respond(tx, make_response(request, 491), now)  # glare (RFC 3261 §14.2)
                return
            call.dialog.refresh_target(request)
            call.update_tx = tx
            tx.owner = call
            self._events.append(events.UpdateRequested(call, request.body))
        elif method == "OPTIONS":
            self._answer_options(request, tx, now, None)
        else:
            self._not_allowed(request, tx, now, None)

    def _answer_pending(self, call, now):
        """A BYE ends the dialog (even an early one): the INVITE we have not
        answered and a re-INVITE in progress get 487 (RFC 3261 §15.1.2), or
        their transactions would wait for ever."""
        for tx in (call.invite_tx if call.direction == "in" else None, call.update_tx):
            if isinstance(tx, ServerTransaction) and tx.state == "proceeding":
                self._tx.respond(tx, make_response(tx.request, 487, None, call.local_tag), now)
        call.update_tx = None

    def _on_2xx_ack(self, request, now):
        call = self._find_dialog_call(request)
        if call is None or call.ack_deadline is None:
            return  # an ACK for nothing we wait for: dropped (§17.2.3)
        call.ack_deadline = None
        if call.state == "answered":
            call.state = "confirmed"
            self._events.append(events.CallConfirmed(call))

    def _on_response(self, response, now):
        tx, deliver = self._tx.match_response(response, now)
        if tx is None:
            return  # stray response: no transaction (§18.1.2 says discard)
        if deliver and tx.owner is not None:
            tx.owner(response, now)

    def _end(self, call, how):
        call.state = "ended"
        call.ack_deadline = None
        if call in self._calls:
            self._calls.remove(call)
        if how is not None:
            self._events.append(events.CallEnded(call, how))

    @property
    def calls(self):
        return list(self._calls)
