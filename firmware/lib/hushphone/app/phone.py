# The phone application: the asyncio driver that joins the sans-IO cores
# (call control, SIP user agent, SDP, media sessions, security policy,
# display model) to the hardware (the HAL) and the network.
#
#   await run(hal, config)
#
# One task runs the SIP/TLS transport; the main loop ticks every 20 ms on
# an absolute schedule: keys and console lines, UDP packets of every call,
# one microphone frame to the current call, one frame to the speaker, the
# screen. Each call's media (app/callmedia.py) has its own random UDP port
# and SSRC, every packet the same size (no voice-activity detection).
#
# config (a dict; the simulation reads it from phone.json):
#   account            {registrar, user, password, display}: written to NVS
#   proxy_host/proxy_port/server_hostname   where the TLS proxy is
#   ca_der             [paths of DER CA certificates] (else NVS hush_trust)
#   media_host         our media address (127.0.0.1 in the simulation)
#   allow_insecure_media  accept plain RTP, shown NOT ENCRYPTED (default off)
#   zrtp               offer and prefer ZRTP end-to-end keys (default on); the
#                      ZID cache (retained secrets) lives in the secrets store
#   zrtp_only          ZRTP or no call: offers without SDES keys (default off)
#   codecs, max_calls, calllog_path, contacts_path, log_max, name
import gc
import json
import sys

import asyncio

from hushphone import sdp
from hushphone.app import callcontrol as cc
from hushphone.app import display_model as dm
from hushphone.app.calllog import CallLog
from hushphone.app.console import ConsoleError, LineReader, event_line, parse
from hushphone.app.contacts import Contacts, ContactsError, dial_target
from hushphone.app.callmedia import CallMedia
from hushphone.app.media import FRAME_BYTES
from hushphone.app.security import ZRTP, MediaPolicy, PolicyRefused
from hushphone.app.settings import Settings
from hushphone.audio.tone import ToneGenerator, fill_silence
from hushphone.compat import sleep_ms
from hushphone.hal import interfaces as hw
from hushphone.sip import events
from hushphone.sip.message import LocalSipError, SipError, parse_name_addr, parse_uri
from hushphone.sip.transport import (MonotonicMs, SipTlsListener, SipTlsTransport, make_tls_context,
                                     make_tls_server_context)
from hushphone.sip.useragent import UaConfig, UserAgent

VERSION = "0.1"
TICK_MS = 20
_RESYNC_AFTER_MS = 200
_REFILL_EVERY_TICKS = 10  # ZRTP key pool: one pair per 200 ms while idle
_REFILL_PAUSE_TICKS = 1500  # ... and a 30 s pause after one found no memory
_SCREEN_EVERY_MS = 1000
_WAITING_TONE_EVERY_MS = 3000  # call waiting: a short beep in the earpiece
_WAITING_TONE_MS = 200
# The supervisor: one failure ends the call it happened in; this many
# failures within the window re-initialise SIP (new UA, new connection);
# that many re-initialisations within the window and a handset resets
# (an unconfirmed new firmware that crash-loops is then rolled back).
_FAULTS_BEFORE_RESTART = 5
_RESTARTS_BEFORE_RESET = 3
_FAULT_WINDOW_MS = 30000
_RESTART_BACKOFF_MS = (1000, 5000, 20000)

# HAL keys -> call-control keys (soft keys are mapped by the display model).
_KEY_ALIASES = {hw.OFFHOOK: "CALL", hw.ONHOOK: "HANGUP", hw.OK: "OK", hw.BACK: "BACK", hw.MUTE: "MUTE",
                hw.HOLD: "HOLD"}
_SOFT = (hw.SOFT1, hw.SOFT2, hw.SOFT3)


def _user_of(header_value):
    try:
        uri = parse_name_addr(header_value).uri
    except SipError:  # the peer's text, shown only: never fatal
        return "unknown"
    return uri.user or uri.host


def _read_file(path):
    with open(path, "rb") as f:
        return f.read()


def _device_identity(hal, config):
    """(certificate DER, private key DER) the handset shows in TLS, or
    (None, None): files named by the configuration (the simulation), else
    what the factory provisioned into NVS (hush_id)."""
    if config.get("tls_cert_der") and config.get("tls_key_der"):
        return _read_file(config["tls_cert_der"]), _read_file(config["tls_key_der"])
    if hal.board == "sim":
        return None, None
    from hushphone.hal.esp32.nvs_store import open_store
    from hushphone.storage_layout import KEY_DEV_CERT, KEY_DEV_KEY, NS_IDENTITY, is_missing

    store = open_store(NS_IDENTITY)
    try:
        return store.get_bytes(KEY_DEV_CERT), store.get_bytes(KEY_DEV_KEY)
    except OSError as e:
        if is_missing(e):
            return None, None
        raise


def _trust_store(hal):
    """hush_trust (the CA slots): the HAL's if it has one, else the
    handset's own NVS namespace (the simulation passes CA files instead)."""
    store = getattr(hal, "trust", None)
    if store is None and hal.board != "sim":
        from hushphone.hal.esp32.nvs_store import open_store
        from hushphone.storage_layout import NS_TRUST

        store = open_store(NS_TRUST)
    return store


class _StoreStorage:
    """The ZID cache's storage (get/set of blobs) on a HAL Store: the
    secrets store, as retained secrets are secrets."""

    def __init__(self, store):
        self._store = store

    def get(self, key):
        return self._store.get_bytes(key)

    def set(self, key, value):
        self._store.set_bytes(key, value)
        self._store.commit()


class CrashLoop(Exception):
    """The app kept failing even after SIP was re-initialised: on a
    handset the supervisor resets the board; the simulation exits."""


def fault_text(exc):
    """What the user and the log are told about a failure: never the
    exception's message (it may quote a peer's data or a key)."""
    return "out of memory" if isinstance(exc, MemoryError) else "internal error"


class Phone:
    def __init__(self, hal, config, out=None):
        self.hal = hal
        self.config = config
        self.name = config.get("name", "phone")
        self._out = out or _print
        # One clock for everything (calls, SIP timers, media): milliseconds
        # since start that never wrap, however long the phone runs.
        self.now = MonotonicMs()
        self.settings = Settings(hal.settings, hal.secrets, _trust_store(hal)).load()
        if config.get("account"):
            for key, value in config["account"].items():
                self.settings.set_account(key, value)
            self.settings.save()
        account = self.settings.account
        registrar = account["registrar"] or "sip:localhost"
        domain = parse_uri(registrar).host
        self.aor = "sip:%s@%s" % (account["user"], domain)
        cas = [_read_file(p) for p in config.get("ca_der", [])] or self.settings.ca_certs
        # Without an account or a CA to verify the proxy with, the phone
        # stays off the network (there is no unverified TLS) and says so.
        self.missing = "no SIP account" if not account["user"] else ("no CA certificate" if not cas else None)
        # Without a proxy (direct calls over mutual TLS): a handset with
        # listen_port takes calls on it; one with register: false calls
        # the handset at proxy_host:proxy_port. Neither registers.
        self._listen_port = config.get("listen_port")
        self._registers = config.get("register", True) and self._listen_port is None
        self._identity = _device_identity(hal, config)
        if self.missing is None and self._listen_port is not None and self._identity[0] is None:
            self.missing = "no device certificate"
        self.ua = None
        self.transport = None
        self._registrar = registrar
        self._domain = domain
        self._cas = cas
        if self.missing is None:
            self._make_sip()
        self.policy = MediaPolicy(allow_insecure=config.get("allow_insecure_media", False),
                                  zrtp=config.get("zrtp", True), zrtp_only=config.get("zrtp_only", False))
        self._zid_cache = None
        self._keypool = None
        if self.policy.zrtp:
            from hushphone.zrtp.cache import ZidCache
            from hushphone.zrtp.keypool import KeyPool

            self._zid_cache = ZidCache(_StoreStorage(hal.secrets), hal.random_bytes)
            self._keypool = KeyPool(hal.random_bytes)
        self.codecs = config.get("codecs", ["PCMU", "PCMA"])
        self.media_host = config.get("media_host", "127.0.0.1")
        self.calls = cc.CallControl(config.get("max_calls", 2))
        self.contacts = Contacts(config.get("contacts_path", "/data/contacts.vcf"))
        try:
            self.contacts.load()
        except (ContactsError, OSError) as e:
            self.emit("error", text="contacts: %s" % e)
        self.calllog = CallLog(config.get("calllog_path"), config.get("log_max", 100), self.settings.values["log_days"])
        self.calllog.load(hal.clock.unix_time())
        self.view = dm.View(self.calls, self._security_of, self._peer_name)
        self.view.account = "%s@%s" % (account["user"], domain) if self.missing is None else self.missing
        if self.missing is not None:
            self.view.registration = "unprovisioned"
        self.running = True
        self._mic = bytearray(FRAME_BYTES)
        self._silence = bytearray(FRAME_BYTES)
        self._beep = ToneGenerator(440, 0.2)
        self._screen = None
        self._ticks = 0
        self._refill_at = 0
        self._screen_at = -_SCREEN_EVERY_MS
        self._unregistered = asyncio.Event()
        self._faults = []  # times (ms) of recent failures, for the supervisor
        self._restarts = []
        self._sip_task = None
        self._restart_at = None  # when a pending SIP re-initialisation may run
        self._give_up = False
        # Fault injection for tests ("inject media|sip|loop [N]" on the
        # console): only when the configuration asks for it.
        self._test_hooks = bool(config.get("test_hooks"))
        self._inject = {}

    def _make_sip(self):
        """A fresh user agent and TLS transport (at start, and when the
        supervisor re-initialises SIP after repeated failures)."""
        account = self.settings.account
        self.ua = UserAgent(
            UaConfig(self.aor, account["user"], account["password"], registrar=self._registrar,
                     display_name=account["display"] or None, anonymous=self.settings.withhold_caller_id,
                     expires=self.config.get("expires", 300)),
            self.hal.random_bytes,
        )
        cert, key = self._identity
        if self._listen_port is not None:
            self.transport = SipTlsListener(self.ua, self.config.get("listen_host", "127.0.0.1"),
                                            int(self._listen_port), make_tls_server_context(self._cas, cert, key),
                                            on_event=self._on_sip, clock=self.now)
            return
        host, port, server_name = self._proxy(account, self._domain)
        # The device certificate is a lasting identifier (and TLS 1.2 sends
        # it in the clear): shown only to a handset called directly, or to a
        # proxy the configuration says wants it (mutual_tls), never to any
        # proxy that merely asks.
        if self._registers and not self.config.get("mutual_tls", False):
            cert = key = None
        self.transport = SipTlsTransport(self.ua, host, port, make_tls_context(self._cas, cert, key), server_name,
                                         on_event=self._on_sip, clock=self.now)

    def _proxy(self, account, domain):
        """(address, port, TLS server name) of the outbound proxy: the
        configuration's, else the account's proxy "host[:port]" or the
        registrar's domain on 5061 (SIP over TLS)."""
        cfg = self.config
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

    # -- output ------------------------------------------------------------

    def emit(self, what, **fields):
        self._out(event_line(what, fields))

    def refresh(self, force=False):
        d = self.hal.display
        lines = dm.render(self.view, self.now(), d.width, d.height)
        if force or lines != self._screen:
            self._screen = lines
            d.show(lines)

    def _security_of(self, line):
        media = line.ref[1] if line.ref is not None else None
        return media.security if media is not None else None

    def _peer_name(self, peer):
        return self.contacts.name_for(peer) or peer

    # -- keys and console ----------------------------------------------------

    def key(self, name):
        """One key press (a HAL key name, or a call-control name such as
        CALL, HANGUP, ANSWER, DECLINE)."""
        now = self.now()
        self.view.message = None
        name = _KEY_ALIASES.get(name, name)
        if name in _SOFT:
            name = dm.soft_keys(self.calls, self.view.menu.open, self._current_security())[_SOFT.index(name)][1]
            if name is None:
                return
        if name in (hw.HOOK, hw.SPEAKER):
            busy = self.calls.current is not None or self.calls.ringing_line() is not None
            name = "HANGUP" if busy and self.calls.ringing_line() is None else "CALL"
        if name in ("SAS_OK", "SAS_BAD"):
            self._sas_verdict(name == "SAS_OK", now)
        elif name == "MENU":
            self.view.menu.push("Menu", dm.main_menu_items())
        elif name == "LOG":
            self._menu_action("calllog")
        elif self.view.menu.open and self.calls.ringing_line() is None and name in ("UP", "DOWN", "OK", "BACK",
                                                                                    "CALL", "HANGUP"):
            action = self.view.menu.key(name)
            if action is not None:
                self._menu_action(action)
        else:
            try:
                self.calls.key(name, now)
            except cc.CallControlError as e:
                self.emit("error", text=str(e))
        self._actions()
        self.refresh()

    def _menu_action(self, action):
        menu = self.view.menu
        if action == "close":
            return
        if action == "contacts":
            menu.push("Contacts", dm.contacts_items(self.contacts.names()))
        elif action == "calllog":
            menu.push("Call log", dm.calllog_items(self.calllog.view(self.hal.clock.unix_time())))
        elif action == "settings":
            menu.push("Settings", self._settings_items())
        elif action == "about":
            menu.push("About", dm.about_items(self.protections(), VERSION))
        elif action == "toggle_withhold":
            self.settings.set("hide_callid", 0 if self.settings.withhold_caller_id else 1)
            self.settings.save()
            if self.ua is not None:
                self.ua.config.anonymous = self.settings.withhold_caller_id
            menu.replace("Settings", self._settings_items())
            self.emit("setting", name="withhold_caller_id", value=self.settings.withhold_caller_id)
        elif action == "clear_log":
            self.calllog.clear()
            self.view.message = "Call log cleared"
            self.emit("calllog_cleared")
        elif action.startswith("call:") or action.startswith("redial:"):
            name = action.split(":", 1)[1]
            contact = self.contacts.find(name) if action.startswith("call:") else None
            target = dial_target(contact) if contact is not None else name
            menu.close()
            if target:
                self.dial(target)

    def _current_security(self):
        line = self.calls.current
        return self._security_of(line) if line is not None else None

    def _zrtp_engine(self):
        """A fresh ZRTP engine for a call (our Hello hash goes into the SDP),
        or None when ZRTP is off."""
        if self._zid_cache is None:
            return None
        from hushphone.zrtp.engine import ZrtpEngine

        return ZrtpEngine(self._zid_cache, self.hal.random_bytes, keypool=self._keypool,
                          wall_time_s=self.hal.clock.unix_time() or 0)

    def _zrtp_event(self, line, media, e, now):
        from hushphone.zrtp import events as zev

        security = media.security
        if isinstance(e, zev.ZrtpSecure):
            # (the key agreement's garbage was collected as the session went
            # secure, before its SRTP contexts were made: zrtp/session.py)
            security.zrtp_secure(e.sas, e.verified)
            self.emit("secure", peer=line.peer, sas=e.sas, verified=e.verified, cache_matched=e.cache_matched,
                      suite=e.srtp_suite, agreement=e.agreement, label=security.label())
        elif isinstance(e, zev.ZrtpCacheMismatch):
            security.keys_changed = True
            self.emit("zrtp_warning", peer=line.peer, text=e.message)
        elif isinstance(e, zev.ZrtpHelloHashMismatch):
            # The Hello does not match the SDP: someone may be rewriting
            # the media path. No call rather than an unauthenticated one.
            self.emit("refused", peer=line.peer, status=None, reason="ZRTP Hello does not match the signalling")
            self.calls.hangup(now, "ZRTP mismatch", line)
        elif isinstance(e, zev.ZrtpFailed):
            self.emit("refused", peer=line.peer, status=None, reason="ZRTP failed: %s" % e.reason)
            self.calls.hangup(now, "ZRTP failed", line)
        self._actions()
        self.refresh()

    def _sas_verdict(self, confirmed, now):
        """The user compared the SAS with the peer: Confirm marks the peer
        verified in the ZID cache; Reject ends the call (a man in the middle
        may be listening)."""
        line = self.calls.current
        media = line.ref[1] if line is not None and line.ref is not None else None
        if media is None or media.engine is None or media.security is None or not media.security.secure:
            return
        media.engine.set_verified(confirmed)
        if confirmed:
            media.security.verified = True
            media.security.keys_changed = False
            self.emit("sas_confirmed", peer=line.peer, sas=media.security.sas)
        else:
            self.emit("sas_rejected", peer=line.peer, sas=media.security.sas)
            self.calls.hangup(now, "SAS rejected", line)

    def _settings_items(self):
        return dm.settings_items(self.settings.withhold_caller_id, self.calllog.max_days, self.calllog.max_entries)

    def protections(self):
        lines = self.policy.protections()
        lines.append("Caller ID withheld" if self.settings.withhold_caller_id else "Caller ID shown")
        lines += ["Random SSRC and ports", "Fixed-size packets", "No User-Agent",
                  "Log: %d days/%d calls" % (self.calllog.max_days, self.calllog.max_entries), "No telemetry"]
        return lines

    def dial(self, target):
        try:
            self.calls.dial(target, self.now())
        except cc.CallControlError as e:
            self.emit("error", text=str(e))
        self._actions()
        self.refresh()

    def command(self, line):
        """One console line."""
        if self._test_hooks and line.startswith("inject "):
            parts = line.split()
            try:
                self._inject[parts[1]] = int(parts[2]) if len(parts) > 2 else 1
            except (IndexError, ValueError):
                self.emit("error", text="inject WHERE [COUNT]")
            return
        try:
            cmd = parse(line)
        except ConsoleError as e:
            self.emit("error", text=str(e))
            return
        if cmd is None:
            return
        verb, arg = cmd
        if verb == "key":
            name = arg.upper()
            if name not in hw.KEYS and name not in ("CALL", "HANGUP", "ANSWER", "DECLINE", "MENU", "LOG"):
                self.emit("error", text="unknown key %r" % arg)
                return
            self.key(name)
        elif verb == "keys":
            try:
                self.hal.keypad.feed(arg, self.now())
            except (AttributeError, ValueError) as e:  # a keypad without scripts, or a bad script
                self.emit("error", text="keys: %s" % e)
        elif verb == "dial":
            self.dial(arg)
        elif verb == "dtmf":
            for k in arg:
                if k in cc.DTMF_KEYS:
                    self.key(k)
        elif verb in ("answer", "decline", "hangup", "hold", "mute"):
            self.key(verb.upper())
        elif verb == "stats":
            self.emit("stats", **self.stats())
        elif verb == "export":
            # Data portability from the handset itself: settings (never the
            # password) and the address book as vCard 4.
            self.emit("export", settings=self.settings.export(), contacts_vcf=self.contacts.export_vcard())
        elif verb == "quit":
            self.running = False

    def stats(self):
        lines = []
        for line in self.calls.lines:
            media = line.ref[1] if line.ref is not None else None
            lines.append({
                "peer": line.peer, "state": line.state, "muted": line.muted, "remote_held": line.remote_held,
                "security": media.security.label() if media is not None and media.security else None,
                "media": media.stats() if media is not None else None,
            })
        heap = None
        if hasattr(gc, "mem_alloc"):  # MicroPython: what the app holds (after a collection)
            gc.collect()
            heap = {"alloc": gc.mem_alloc(), "free": gc.mem_free()}
        return {"registration": self.view.registration, "state": self.calls.state, "lines": lines, "heap": heap,
                "screen": [s.rstrip() for s in dm.render(self.view, self.now(), self.hal.display.width,
                                                         self.hal.display.height)]}

    # -- call-control actions --------------------------------------------------

    def _actions(self):
        now = self.now()
        while True:
            action = self.calls.next_action()
            if action is None:
                break
            kind, line = action[0], action[1]
            try:
                getattr(self, "_do_" + kind)(line, action, now)
            except LocalSipError as e:  # a race with the network (e.g. the call just ended)
                self.emit("error", text="%s: %s" % (kind, e))
            except Exception as e:  # MemoryError or a bug: this call ends, the phone carries on
                self._call_fault(line, e, kind, now)
        if self.transport is not None:
            self.transport.wakeup()

    def _do_invite(self, line, action, now):
        if self.ua is None:
            self.emit("error", text="cannot call: %s" % self.missing)
            self.calls.remote_ended(line, now, self.missing)
            return
        media = CallMedia(self.media_host, self.hal.random_bytes, self._zrtp_engine())
        media.offer = sdp.build_offer(self.media_host, media.port, self.codecs, self.policy.offer_suites(),
                                      self.hal.random_bytes, zrtp_hash=media.hello_hash())
        call = self.ua.call(action[2], media.offer.to_bytes(), now)
        line.ref = (call, media)
        self.emit("calling", peer=line.peer, anonymous=call.anonymous)

    def _do_ring(self, line, action, now):
        call = line.ref[0]
        self.ua.ringing(call, now)
        self.emit("incoming", peer=line.peer, waiting=line.waiting)

    def _do_answer(self, line, action, now):
        call, media = line.ref
        body, neg = media.pending_answer
        media.pending_answer = None
        self.ua.answer(call, body, now)
        media.start(neg, self.policy.decide(neg), self.now())
        self._in_call(line)

    def _do_reject(self, line, action, now):
        if line.ref is None:
            return
        call, media = line.ref
        if call.state == "incoming":
            self.ua.reject(call, now, action[2])

    def _do_hangup(self, line, action, now):
        self.ua.hangup(line.ref[0], now)

    def _do_reinvite(self, line, action, now):
        call, media = line.ref
        direction = action[2]
        media.offer = sdp.build_offer(self.media_host, media.port, [media.neg.codec], self.policy.offer_suites(),
                                      self.hal.random_bytes, zrtp_hash=media.hello_hash(), direction=direction)
        try:
            self.ua.reinvite(call, media.offer.to_bytes(), now)
        except LocalSipError:  # the peer's re-INVITE is in progress (glare): try again later
            self.calls.update_failed(line, direction)
            self.emit("error", text="hold/resume not possible now")
            return
        self.emit("held" if direction == "sendonly" else "resumed", peer=line.peer, by="us")

    def _do_dtmf(self, line, action, now):
        media = line.ref[1]
        if media.session is None or media.session.dtmf_payload_type is None:
            self.emit("error", text="the peer did not accept telephone-event (RFC 4733)")
            return
        media.dtmf.press(action[2])
        self.emit("dtmf_sent", peer=line.peer, key=action[2])

    def _do_mute(self, line, action, now):
        self.emit("muted" if action[2] else "unmuted", peer=line.peer)

    def _do_ended(self, line, action, now):
        media = line.ref[1] if line.ref is not None else None
        try:
            stats = media.stats() if media is not None else None
        finally:
            if media is not None:
                media.release()  # the line stays as last_ended: keep none of the call's buffers
        if line.direction == "out":
            kind = "out" if line.answered_ms is not None else "failed"
        elif line.answered_ms is not None:
            kind = "in"
        else:
            kind = {"declined": "declined", "busy": "busy"}.get(line.end_reason, "missed")
        secs = line.duration_ms(now) // 1000
        self.calllog.add(kind, line.peer, secs, self.hal.clock.unix_time())
        self.emit("ended", peer=line.peer, reason=line.end_reason, kind=kind, secs=secs, stats=stats)
        gc.collect()  # phase boundary: the call's memory is free in one piece for the next

    def _in_call(self, line):
        media = line.ref[1]
        neg = media.neg
        sdes = media.security.kind != ZRTP  # ZRTP: keys and suite come with the "secure" event
        self.emit("in_call", peer=line.peer, security=media.security.kind, label=media.security.label(),
                  codec=neg.codec, suite=neg.crypto_suite if sdes else None, ptime=neg.ptime or 20,
                  local_port=media.port, ssrc=media.session.ssrc if media.session is not None else None,
                  dtmf=neg.dtmf_payload_type is not None)

    # -- SIP events ----------------------------------------------------------------

    def _on_sip(self, ev):
        now = self.now()
        try:
            self._sip_event(ev, now)
        except Exception as e:  # MemoryError or a bug: end that call, never the phone
            line = self._line_of(getattr(ev, "call", None))
            if line is not None:
                self._call_fault(line, e, "sip", now)
            else:
                self._orphan_fault(ev, e, now)
        self._actions()
        self.refresh()

    def _sip_event(self, ev, now):
        if self._inject:
            self._injected("sip")
        if isinstance(ev, events.Registered):
            self.view.registration = "registered"
            self.emit("registered", aor=ev.aor)
            gc.collect()  # phase boundary: the TLS handshake and REGISTER exchange are garbage now
        elif isinstance(ev, events.Unregistered):
            self._unregistered.set()
        elif isinstance(ev, events.RegistrationFailed):
            self.view.registration = "failed"
            self.emit("registration_failed", status=ev.status, reason=ev.reason)
        elif isinstance(ev, events.ConnectionLost):
            self.view.registration = "offline"
            self.emit("connection_lost", reason=ev.reason)
        elif isinstance(ev, events.IncomingCall):
            self._incoming(ev, now)
        else:
            line = self._line_of(getattr(ev, "call", None))
            if line is not None:
                self._call_event(ev, line, now)

    def _orphan_fault(self, ev, exc, now):
        """A failure on a SIP event with no line (yet): a new incoming
        call is refused 500; anything else is only logged."""
        self._note_fault(exc, "sip", now)
        call = getattr(ev, "call", None)
        if isinstance(ev, events.IncomingCall) and call is not None and call.state == "incoming":
            try:
                self.ua.reject(call, now, 500)
            except Exception:  # e.g. no memory for the response either: the caller times out
                pass

    # -- the supervisor ------------------------------------------------------------

    def _note_fault(self, exc, where, now, peer=None):
        """Log a failure (its kind and place, no data) and count it; too
        many in a short time and SIP is re-initialised."""
        gc.collect()  # a MemoryError: free what the failed work left behind
        fields = {"where": where, "error": type(exc).__name__, "reason": fault_text(exc)}
        if peer is not None:
            fields["peer"] = peer
        try:
            self.emit("fault", **fields)
        except Exception:  # even the log line failed: counting must still happen
            pass
        faults = [t for t in self._faults if now - t < _FAULT_WINDOW_MS]
        faults.append(now)
        self._faults = faults
        if len(faults) >= _FAULTS_BEFORE_RESTART and self._restart_at is None and self.ua is not None:
            self._faults = []
            self._schedule_restart(now)

    def _call_fault(self, line, exc, where, now):
        """A call's handler failed (MemoryError, a bug): end that call
        cleanly (BYE, CANCEL or an error response), free its media and
        say so; the phone stays registered for the next call."""
        text = fault_text(exc)
        self._note_fault(exc, where, now, peer=line.peer)
        if line.ref is not None:
            call, media = line.ref
            media.release()  # the session, ZRTP and buffers: the memory we need to send the BYE
            gc.collect()
            if call.state == "incoming" and self.ua is not None:
                try:
                    self.ua.reject(call, now, 500)  # 500 Server Internal Error, not 603
                except Exception:  # nothing more to do: the caller's transaction times out
                    pass
        if line.state != cc.ENDED:
            self.calls.hangup(now, text, line)
        self.view.message = "Call failed: " + text

    def _schedule_restart(self, now):
        restarts = [t for t in self._restarts if now - t < _FAULT_WINDOW_MS * len(_RESTART_BACKOFF_MS)]
        if len(restarts) >= _RESTARTS_BEFORE_RESET:
            self._give_up = True  # acted on by the main loop's supervisor, not inside a handler
            return
        backoff = _RESTART_BACKOFF_MS[min(len(restarts), len(_RESTART_BACKOFF_MS) - 1)]
        restarts.append(now)
        self._restarts = restarts
        self._restart_at = now + backoff
        self.emit("sip_restart", after_ms=backoff)

    def _last_resort(self):
        self.emit("crash_loop", restarts=len(self._restarts))
        if self.hal.board != "sim":
            import machine

            machine.reset()  # after the log line; OTA rolls back a new image that crash-loops
        raise CrashLoop("repeated failures after re-initialising SIP")

    async def _supervise(self, now):
        """Run from the main loop: restart SIP when its task died, or when
        repeated failures asked for a re-initialisation (after a backoff)."""
        if self._give_up:
            self._last_resort()
        if self.missing is not None:
            return  # no SIP to supervise
        sip = self._sip_task
        if self._restart_at is None and (self.transport is None or (sip is not None and sip.done())):
            # The SIP task ended on its own (it never should), or the last
            # re-initialisation failed half-way: (re)start it after a backoff.
            self._note_fault(RuntimeError(), "sip-task", now)
            self._schedule_restart(now)
        if self._restart_at is not None and now >= self._restart_at:
            self._restart_at = None
            try:
                await self._restart_sip(now)
            except Exception as e:  # e.g. no memory for the new TLS context: the next round tries again
                self._note_fault(e, "restart", now)

    async def _restart_sip(self, now):
        """Re-initialise SIP: end every call locally, drop the connection,
        start a new user agent and register again."""
        for line in list(self.calls.lines):
            if line.ref is not None:
                line.ref[1].release()
            self.calls.remote_ended(line, now, "internal error")
        self._actions_local()
        old = self._sip_task
        if self.transport is not None:  # None when the previous re-initialisation failed half-way
            self.transport.stop()
        if old is not None and not old.done():
            try:
                await asyncio.wait_for(old, 5)
            except Exception:  # a dying task may raise anything (or time out): it is replaced anyway
                pass
        self.ua = self.transport = None
        gc.collect()
        self._make_sip()
        self.view.registration = "offline"
        self._start_sip()

    def _actions_local(self):
        """Run the call-control actions without SIP (the UA is being
        replaced): only the local ones (logging the ended calls)."""
        now = self.now()
        while True:
            action = self.calls.next_action()
            if action is None:
                break
            if action[0] == "ended":
                try:
                    self._do_ended(action[1], action, now)
                except Exception as e:  # a bug in logging a call must not stop the restart
                    self._note_fault(e, "ended", now)

    def _start_sip(self):
        self._sip_task = asyncio.create_task(self.transport.run())
        if self._registers:
            self.ua.register(self.now())
        else:
            self.view.registration = "direct"
            self.emit("direct", aor=self.aor, listen_port=self._listen_port)
        self.transport.wakeup()

    def _line_of(self, call):
        for line in self.calls.lines:
            if line.ref is not None and line.ref[0] is call:
                return line
        return None  # a call already ended here: nothing more to do

    def _incoming(self, ev, now):
        peer = _user_of(ev.call.invite.headers.get("From"))
        # Check the offer before ringing: an offer the policy refuses is
        # answered 488 at once (no ringing for a call we cannot take).
        media = CallMedia(self.media_host, self.hal.random_bytes, self._zrtp_engine())
        try:
            if not ev.body:
                raise PolicyRefused("no SDP offer")
            answer, neg = sdp.answer(ev.body, self.media_host, media.port, self.codecs, self.policy.suites,
                                     self.hal.random_bytes, zrtp_hash=media.hello_hash(),
                                     allow_plain=self.policy.allow_insecure)
            self.policy.decide(neg)
        except (sdp.SdpError, PolicyRefused) as e:
            media.close()
            self.ua.reject(ev.call, now, 488)
            self._refused(peer, e)
            return
        media.pending_answer = (answer.to_bytes(), neg)
        self.calls.incoming(peer, now, (ev.call, media))  # busy: refused 486 by the actions

    def _call_event(self, ev, line, now):
        call, media = line.ref
        if isinstance(ev, events.CallProgress):
            self.calls.remote_ringing(line)
            self.emit("ringing", peer=line.peer)
        elif isinstance(ev, events.CallAnswered):
            self.calls.answered(line, now)
            agreed = self._take_answer(line, media, ev.body)
            if agreed is None:
                self.calls.hangup(now, "media refused")
                return
            media.start(agreed[0], agreed[1], self.now())
            self._in_call(line)
        elif isinstance(ev, events.CallFailed):
            if not self._offer_zrtp_alone(line, call, media, ev.status, now):
                self.calls.failed(line, ev.status, now)
        elif isinstance(ev, events.CallEnded):
            reason = {"cancelled": "missed" if line.direction == "in" else "cancelled",
                      "connection-lost": "connection lost", "no-ack": "no ACK"}.get(ev.how, "ended by peer")
            self.calls.remote_ended(line, now, reason)
        elif isinstance(ev, events.UpdateRequested):
            self._peer_update(ev, line, call, media, now)
        elif isinstance(ev, events.CallUpdated):
            agreed = self._take_answer(line, media, ev.body)
            if agreed is None:
                self.calls.hangup(now, "media refused", line)
                return
            media.start(agreed[0], agreed[1], self.now())
        elif isinstance(ev, events.UpdateFailed):
            direction = "sendonly" if line.state == cc.HELD else "sendrecv"
            self.calls.update_failed(line, direction)
            self.emit("update_failed", peer=line.peer, status=ev.status)

    def _take_answer(self, line, media, body):
        """(Negotiated, CallSecurity) for the peer's answer to our offer, or
        None when it fails the policy (said as a "refused" event)."""
        try:
            neg = sdp.process_answer(media.offer, body)
            return neg, self.policy.decide(neg)
        except (sdp.SdpError, PolicyRefused) as e:
            self._refused(line.peer, e)
            return None

    def _refused(self, peer, exc):
        self.emit("refused", peer=peer, status=488, reason=getattr(exc, "reason", None) or str(exc))

    def _offer_zrtp_alone(self, line, call, media, status, now):
        """A peer that requires ZRTP (e.g. linphone with ZRTP mandatory)
        refuses our usual offer, which carries SDES keys next to
        a=zrtp-hash, with 488. Once per call, offer again with ZRTP alone
        (RTP/AVP: no keys in SIP at all; audio flows only once ZRTP is
        secure, and an answer without ZRTP is refused as unencrypted).
        Returns whether the new INVITE went out."""
        if status != 488 or media.engine is None or media.zrtp_alone or not self.policy.offer_suites():
            return False
        media.zrtp_alone = True
        media.offer = sdp.build_offer(self.media_host, media.port, self.codecs, [], self.hal.random_bytes,
                                      zrtp_hash=media.hello_hash())
        again = self.ua.call(call.invite.uri, media.offer.to_bytes(), now, anonymous=call.anonymous)
        line.ref = (again, media)
        self.emit("offer_again", peer=line.peer, status=status, offer="zrtp")
        return True

    def _peer_update(self, ev, line, call, media, now):
        """The peer's re-INVITE (hold, resume, new keys): answer with our
        own direction (we may hold too) and re-key the media."""
        wanted = "sendonly" if line.state == cc.HELD else "sendrecv"
        try:
            answer, neg = sdp.answer(ev.body, self.media_host, media.port, [media.neg.codec], self.policy.suites,
                                     self.hal.random_bytes, zrtp_hash=media.hello_hash(), direction=wanted,
                                     allow_plain=self.policy.allow_insecure)
            security = self.policy.decide(neg)
        except (sdp.SdpError, PolicyRefused) as e:
            self.ua.reject_update(call, now, 488)
            self._refused(line.peer, e)
            return
        self.ua.accept_update(call, answer.to_bytes(), now)
        media.start(neg, security, self.now())
        # The peer holds us when it no longer wants to receive.
        offered = sdp.SessionDescription.parse(ev.body)
        m = offered.audio()
        peer_holds = m is not None and m.direction(offered.direction()) in ("sendonly", "inactive")
        if peer_holds != line.remote_held:
            self.calls.remote_hold(line, peer_holds)
            self.emit("held" if peer_holds else "resumed", peer=line.peer, by="peer")

    # -- the 20 ms loop --------------------------------------------------------------

    def _tick(self, now):
        hal = self.hal
        if self._inject:
            self._injected("loop")
        for _ in range(8):  # a few keys per tick at most
            k = hal.keypad.poll(now)
            if k is None:
                break
            self.key(k)
        self._ticks += 1
        current = self.calls.current
        active = None
        for line in list(self.calls.lines):  # a ZRTP failure may end a call here
            if line.ref is None:
                continue
            try:
                if self._line_media(line, now, line is current and line.state == cc.IN_CALL):
                    active = line
            except Exception as e:  # MemoryError or a bug: this call ends, the phone carries on
                self._call_fault(line, e, "media", now)
                self._actions()
        if active is not None:
            try:
                self._audio(active, now)
            except Exception as e:
                self._call_fault(active, e, "audio", now)
                self._actions()
        elif self._keypool is not None and not self.calls.lines and self._ticks >= self._refill_at:
            self._refill_keypool()
        if now - self._screen_at >= _SCREEN_EVERY_MS:
            self._screen_at = now
            self.refresh()

    def _refill_keypool(self):
        """One ephemeral ZRTP key pair made while idle (every 10 ticks). A
        pair that finds no memory is no fault: the pool pauses for a while
        and a call makes its pair when it needs one."""
        self._refill_at = self._ticks + _REFILL_EVERY_TICKS
        try:
            self._keypool.refill_one()
        except MemoryError:
            gc.collect()
            self._refill_at = self._ticks + _REFILL_PAUSE_TICKS

    def _injected(self, where):
        """A test asked for a MemoryError here (see command())."""
        n = self._inject.get(where)
        if n:
            if n > 1:
                self._inject[where] = n - 1
            else:
                del self._inject[where]
            raise MemoryError("injected")

    def _line_media(self, line, now, current):
        """One call's packets this tick; True when its audio is the one
        the handset plays."""
        if self._inject:
            self._injected("media")
        media = line.ref[1]
        for e in media.drain(now):
            self._zrtp_event(line, media, e, now)
        if media.keys_received:
            for k in media.keys_received:
                self.emit("dtmf", peer=line.peer, key=k)
            self.view.message = "DTMF " + "".join(media.keys_received)
            media.keys_received = []
        if media.session is None or line.ref is None:
            return False
        if current:
            return True
        if line.state == cc.HELD:
            media.send(self._silence)  # constant traffic to the held peer
            media.session.play_frame(now)
        return False

    def _audio(self, line, now):
        """One microphone frame to the current call, one frame to the speaker."""
        hal = self.hal
        media = line.ref[1]
        mic = self._mic
        if not hal.audio.read_frame(mic) or line.muted:
            fill_silence(mic)  # mute: silence frames of the same size
        media.send(mic)
        out = media.session.play_frame(now)
        waiting = self.calls.ringing_line()
        if waiting is not None and (now - waiting.created_ms) % _WAITING_TONE_EVERY_MS < _WAITING_TONE_MS:
            self._beep.fill(out)  # call waiting: a beep in the earpiece at once, then every 3 s
        hal.audio.write_frame(out)

    def call_up(self):
        """A call exists (ringing, dialling, up or held): the update agent
        defers to it (hushphone.ota.handset_agent asks through hal.app)."""
        return bool(self.calls.lines)

    def stop(self):
        """End run() at the next tick, as "quit" does (before a reset)."""
        self.running = False

    async def run(self, console=None):
        """Until "quit" on the console (or the end of its input)."""
        hal = self.hal
        hal.audio.start()
        if self.transport is not None:
            self._start_sip()
        self.emit("started", name=self.name, aor=self.aor, version=VERSION)
        if self.missing is not None:
            self.emit("not_provisioned", reason=self.missing)
        self.refresh(force=True)
        start = self.now()
        n = 0
        try:
            while self.running:
                now = self.now()
                try:
                    if console is not None:
                        for text in console.poll():
                            self.command(text)
                        if console.closed:
                            self.running = False
                    self._tick(now)
                except Exception as e:  # the supervisor: one bad event never ends the app
                    self._note_fault(e, "loop", now)
                await self._supervise(now)
                n += 1
                delay = start + n * TICK_MS - self.now()
                if delay < -_RESYNC_AFTER_MS:
                    n = (self.now() - start) // TICK_MS  # far behind: skip ahead, no burst
                    delay = 0
                await sleep_ms(delay if delay > 0 else 0)
        finally:
            await self._shutdown()

    async def _shutdown(self):
        sip = self._sip_task
        now = self.now()
        for line in list(self.calls.lines):
            if line.ref is not None and self.ua is not None:
                try:
                    self.ua.hangup(line.ref[0], now)
                except LocalSipError:
                    pass
                line.ref[1].close()
        if sip is not None and self.transport is not None:
            if self._registers and self.transport.connected:
                self.ua.unregister(now)
                self.transport.wakeup()
                try:
                    await asyncio.wait_for(self._unregistered.wait(), 3)
                except asyncio.TimeoutError:
                    pass
            self.transport.stop()
            try:
                await sip
            except Exception as e:  # the SIP task died earlier: the shutdown still completes
                self._note_fault(e, "sip-task", now)
        self.hal.audio.stop()
        close = getattr(self.hal.audio, "close", None)
        if close is not None:
            close()
        self.emit("stopped")


def _print(line):
    print(line)


async def run(hal, config, console=None, out=None):
    """Run the phone on `hal` with `config` until told to quit. On a handset
    (firmware/main.py) the console is the USB serial console."""
    if hal.board == "sim" and hal.clock.unix_time() is None:
        import time

        # The simulation trusts its host's clock (a handset learns the time
        # from the network); the call log's retention by days needs it.
        hal.clock.set_unix_time(time.time())
    phone = Phone(hal, config, out)
    hal.app = phone  # the hook the update agent asks "is a call up?" (firmware/main.py)
    if console is None and config.get("console", True):
        console = LineReader()
    await phone.run(console)
    return phone


def main(argv):
    """A simulated handset without the device entry point (firmware/main.py
    is the usual way): micropython -m hushphone.app.phone CONFIG.json"""
    if len(argv) != 2:
        print("usage: micropython -m hushphone.app.phone CONFIG.json")
        return 2
    with open(argv[1]) as f:
        config = json.load(f)
    from hushphone.hal.unix import board

    hal = board.build(config)
    asyncio.run(run(hal, config))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
