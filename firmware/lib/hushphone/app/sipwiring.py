# SIP for the phone app: builds the user agent and its TLS transport (a
# client to the proxy, or a listener for direct calls), runs the transport's
# task, and turns the UA's events into call control: incoming calls (the
# offer checked before ringing), answers, failures, hang-ups and the peer's
# re-INVITEs. What a call offers, and its fallback to SDES keys, follow
# the call's offer plan (app/offers.py). A failure here ends that call
# through the supervisor (app/supervisor.py), never the phone.
import gc

import asyncio

from hushphone import sdp
from hushphone.app import callcontrol as cc
from hushphone.app.offers import FALL_BACK, GIVE_UP
from hushphone.app.security import SDES, ZRTP, PolicyRefused
from hushphone.turn.callrelay import RelayError
from hushphone.sip import events
from hushphone.sip.message import SipError, parse_name_addr
from hushphone.sip.transport import (CertificateError, SipTlsListener, SipTlsTransport, make_tls_context,
                                     make_tls_server_context)
from hushphone.sip.useragent import UaConfig, UserAgent


def user_of(header_value):
    try:
        uri = parse_name_addr(header_value).uri
    except SipError:  # the peer's text, shown only: never fatal
        return "unknown"
    return uri.user or uri.host


class SipWiring:
    """The phone's SIP side; `phone` is the app (app/phone.py), whose `ua`
    and `transport` this sets."""

    def __init__(self, phone):
        self.phone = phone
        self.task = None  # the transport's asyncio task
        self.unregistered = asyncio.Event()

    # -- setting up ------------------------------------------------------------

    def make(self):
        """A fresh user agent and TLS transport (at start, and when the
        supervisor re-initialises SIP after repeated failures)."""
        phone = self.phone
        config = phone.config
        account = phone.settings.account
        phone.ua = UserAgent(
            UaConfig(phone.aor, account["user"], account["password"], registrar=phone.registrar,
                     display_name=account["display"] or None, anonymous=phone.settings.withhold_caller_id,
                     expires=config.get("expires", 300)),
            phone.hal.random_bytes,
        )
        cert, key = phone.identity
        if phone.listen_port is not None:
            phone.transport = SipTlsListener(phone.ua, config.get("listen_host", "127.0.0.1"),
                                             int(phone.listen_port), make_tls_server_context(phone.cas, cert, key),
                                             on_event=self.on_event, clock=phone.now,
                                             on_error=phone.supervisor.transport_fault, on_listening=self.listening)
            return
        host, port, server_name = self.proxy(account, phone.domain)
        # The device certificate is a lasting identifier (and TLS 1.2 sends
        # it in the clear): shown only to a handset called directly, or to a
        # proxy the configuration says wants it (mutual_tls), never to any
        # proxy that merely asks.
        if phone.registers and not config.get("mutual_tls", False):
            cert = key = None
        phone.transport = SipTlsTransport(phone.ua, host, port, make_tls_context(phone.cas, cert, key), server_name,
                                          on_event=self.on_event, clock=phone.now,
                                          on_error=phone.supervisor.transport_fault)

    def proxy(self, account, domain):
        """(address, port, TLS server name) of the outbound proxy: the
        configuration's, else the account's proxy "host[:port]" or the
        registrar's domain on 5061 (SIP over TLS)."""
        cfg = self.phone.config
        host, port = domain, 5061
        if account["proxy"]:
            text = account["proxy"]
            if text.startswith("sip:") or text.startswith("sips:"):
                text = text.split(":", 1)[1]
            host = text.split(";")[0]
            if ":" in host:
                host, port = host.rsplit(":", 1)
                port = int(port)
        return cfg.get("proxy_host", host), cfg.get("proxy_port", port), cfg.get("server_hostname", host)

    def start(self):
        phone = self.phone
        self.task = asyncio.create_task(phone.transport.run())
        if phone.registers:
            phone.ua.register(phone.now())
        elif phone.listen_port is None:
            self.listening()  # a direct caller: ready at once (a listener: once its port is open)
        phone.transport.wakeup()

    def listening(self):
        phone = self.phone
        phone.view.registration = "direct"
        phone.emit("direct", aor=phone.aor, listen_port=phone.listen_port)

    # -- the UA's events ---------------------------------------------------------

    def on_event(self, ev):
        phone = self.phone
        now = phone.now()
        try:
            self.sip_event(ev, now)
        except Exception as e:  # MemoryError or a bug: end that call, never the phone
            line = self.line_of(getattr(ev, "call", None))
            if line is not None:
                phone.supervisor.call_fault(line, e, "sip", now)
            else:
                phone.supervisor.orphan_fault(ev, e, now)
        phone.actions()
        phone.refresh()

    def sip_event(self, ev, now):
        phone = self.phone
        if phone.inject:
            phone.injected("sip")
        if isinstance(ev, events.Registered):
            phone.view.registration = "registered"
            phone.emit("registered", aor=ev.aor)
            gc.collect()  # phase boundary: the TLS handshake and REGISTER exchange are garbage now
        elif isinstance(ev, events.Unregistered):
            self.unregistered.set()
        elif isinstance(ev, events.RegistrationFailed):
            refused = self.certificate_refused(ev.reason)
            if refused is not None:  # our TLS refused the proxy (or it ours): no server status to show
                phone.view.registration = refused
                phone.emit("registration_failed", status=None, reason=ev.reason, cause="certificate")
            else:
                phone.view.registration = "failed"
                phone.emit("registration_failed", status=ev.status, reason=ev.reason)
        elif isinstance(ev, events.ConnectionLost):
            refused = self.certificate_refused(ev.reason)
            phone.view.registration = refused or "offline"
            if refused is not None:
                phone.emit("connection_lost", reason=ev.reason, cause="certificate")
            else:
                phone.emit("connection_lost", reason=ev.reason)
        elif isinstance(ev, events.IncomingCall):
            self.incoming(ev, now)
        else:
            line = self.line_of(getattr(ev, "call", None))
            if line is not None:
                self.call_event(ev, line, now)

    def certificate_refused(self, reason):
        """"cert_refused" when our TLS refused the proxy's certificate and
        `reason` is that error's text (the UA turns the lost connection
        into a local 503, which is no server's answer), else None. (A
        "client" certificate error is the transport's best guess for a
        proxy that hung up during the handshake, which an unreachable
        proxy can look like too: it stays "offline".)"""
        err = getattr(self.phone.transport, "last_error", None)
        if not isinstance(err, CertificateError) or err.kind == "client" or reason != err.reason:
            return None
        return "cert_refused"

    def line_of(self, call):
        for line in self.phone.calls.lines:
            if line.ref is not None and line.ref[0] is call:
                return line
        return None  # a call already ended here: nothing more to do

    def incoming(self, ev, now):
        phone = self.phone
        peer = user_of(ev.call.invite.headers.get("From"))
        # Check the offer before ringing: an offer the policy refuses is
        # answered 488 at once (no ringing for a call we cannot take).
        try:
            media = phone.new_media()
        except RelayError as e:
            phone.ua.reject(ev.call, now, 480)  # Temporarily Unavailable: no call without the relay
            phone.emit("refused", peer=peer, status=480, reason="TURN relay: %s" % e)
            return
        try:
            if not ev.body:
                raise PolicyRefused("no SDP offer")
            host, port = media.advertised()
            answer, neg = sdp.answer(ev.body, host, port, phone.codecs, phone.policy.suites,
                                     phone.hal.random_bytes, zrtp_hash=media.hello_hash(),
                                     allow_plain=phone.policy.allow_insecure)
            phone.policy.decide(neg)
        except (sdp.SdpError, PolicyRefused) as e:
            media.close()
            if ev.call.state == "incoming":  # (not when the peer's CANCEL came in the same read)
                phone.ua.reject(ev.call, now, 488)
            self.refused(peer, e)
            return
        media.pending_answer = (answer.to_bytes(), neg)
        phone.calls.incoming(peer, now, (ev.call, media))  # busy: refused 486 by the actions

    def call_event(self, ev, line, now):
        phone = self.phone
        calls = phone.calls
        call, media = line.ref
        if isinstance(ev, events.CallProgress):
            calls.remote_ringing(line)
            phone.emit("ringing", peer=line.peer)
        elif isinstance(ev, events.CallAnswered):
            calls.answered(line, now)
            agreed = self.take_answer(line, media, ev.body, now)
            if agreed is None:
                calls.hangup(now, "media refused")
                return
            media.start(agreed[0], agreed[1], phone.now())
            phone.in_call(line)
        elif isinstance(ev, events.CallFailed):
            if not self.offer_sdes(line, call, media, ev.status, now):
                calls.failed(line, ev.status, now)
        elif isinstance(ev, events.CallEnded):
            reason = {"cancelled": "missed" if line.direction == "in" else "cancelled",
                      "connection-lost": "connection lost", "no-ack": "no ACK"}.get(ev.how, "ended by peer")
            calls.remote_ended(line, now, reason)
        elif isinstance(ev, events.UpdateRequested):
            self.peer_update(ev, line, call, media, now)
        elif isinstance(ev, events.CallUpdated):
            was = media.security
            agreed = self.take_answer(line, media, ev.body, now, update=True)
            if agreed is None:
                calls.hangup(now, "media refused", line)
                return
            media.start(agreed[0], agreed[1], phone.now())
            if media.security is not was and agreed[1].kind == SDES and media.plan.fell_back == "no ZRTP":
                phone.emit("media_security", peer=line.peer, security=SDES, label=media.security.label(),
                           suite=agreed[0].crypto_suite)
        elif isinstance(ev, events.UpdateFailed):
            direction = "sendonly" if line.state == cc.HELD else "sendrecv"
            calls.update_failed(line, direction)
            phone.emit("update_failed", peer=line.peer, status=ev.status)

    def take_answer(self, line, media, body, now, update=False):
        """(Negotiated, CallSecurity) for the peer's answer to our offer
        (the call's offer plan decides), or None when it fails the policy
        (said as a "refused" event). The answer to our re-INVITE in a ZRTP
        call that says nothing about ZRTP (linphone's empty a=zrtp-hash)
        keeps the ZRTP session: its keys are in the media path."""
        try:
            neg = sdp.process_answer(media.offer, body)
            running = media.security
            if (update and running is not None and running.kind == ZRTP and media.plan.mode == ZRTP
                    and not neg.rejected and neg.zrtp_hash is None and neg.crypto_suite is None):
                return neg, running
            return neg, media.plan.answered(neg, now)
        except (sdp.SdpError, PolicyRefused) as e:
            self.refused(line.peer, e)
            return None

    def refused(self, peer, exc):
        self.phone.emit("refused", peer=peer, status=488, reason=getattr(exc, "reason", None) or str(exc))

    def offer(self, media, codecs, direction="sendrecv"):
        """Our offer in the call's mode (its plan): no keys while ZRTP is
        to agree them, SDES keys only once the plan fell back."""
        phone = self.phone
        host, port = media.advertised()  # the TURN relay's address when one carries the call
        media.offer = sdp.build_offer(host, port, codecs, media.plan.suites(),
                                      phone.hal.random_bytes, zrtp_hash=media.hello_hash(), direction=direction)
        return media.offer.to_bytes()

    def offer_sdes(self, line, call, media, status, now):
        """The peer refused our keyless ZRTP offer (488, 606): once per
        call, and only where the policy allows the fallback, a new INVITE
        with SDES keys (a=zrtp-hash still: ZRTP wins if the peer runs it).
        Returns whether it went out."""
        phone = self.phone
        if media.plan is None or not media.plan.refused(status):
            return False
        again = phone.ua.call(call.invite.uri, self.offer(media, phone.codecs), now, anonymous=call.anonymous)
        line.ref = (again, media)
        phone.emit("offer_again", peer=line.peer, status=status, offer="sdes")
        return True

    def waiting_for_zrtp(self, line, media, now):
        """Each tick of a call whose peer answered without ZRTP: after
        HELLO_WAIT_MS without a ZRTP message, a re-INVITE with SDES keys
        (if allowed), else the call ends. Nothing flows meanwhile."""
        phone = self.phone
        what = media.plan.silent(now, media.heard_zrtp())
        if what == FALL_BACK:
            phone.ua.reinvite(line.ref[0], self.offer(media, [media.neg.codec]), now)
            phone.emit("offer_again", peer=line.peer, status=None, offer="sdes", why="no ZRTP from the peer")
            phone.actions()
        elif what == GIVE_UP:
            phone.emit("refused", peer=line.peer, status=None, reason="ZRTP required, the peer has none")
            phone.calls.hangup(now, "no ZRTP", line)
            phone.actions()

    def peer_update(self, ev, line, call, media, now):
        """The peer's re-INVITE (hold, resume, new keys): answer with our
        own direction (we may hold too) and re-key the media."""
        phone = self.phone
        wanted = "sendonly" if line.state == cc.HELD else "sendrecv"
        try:
            host, port = media.advertised()
            answer, neg = sdp.answer(ev.body, host, port, [media.neg.codec], phone.policy.suites,
                                     phone.hal.random_bytes, zrtp_hash=media.hello_hash(), direction=wanted,
                                     allow_plain=phone.policy.allow_insecure)
            security = phone.policy.decide(neg)
        except (sdp.SdpError, PolicyRefused) as e:
            phone.ua.reject_update(call, now, 488)
            self.refused(line.peer, e)
            return
        phone.ua.accept_update(call, answer.to_bytes(), now)
        media.start(neg, security, phone.now())
        # The peer holds us when it no longer wants to receive.
        offered = sdp.SessionDescription.parse(ev.body)
        m = offered.audio()
        peer_holds = m is not None and m.direction(offered.direction()) in ("sendonly", "inactive")
        if peer_holds != line.remote_held:
            phone.calls.remote_hold(line, peer_holds)
            phone.emit("held" if peer_holds else "resumed", peer=line.peer, by="peer")
