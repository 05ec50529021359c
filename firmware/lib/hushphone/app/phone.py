# The phone application: the asyncio driver that joins the sans-IO cores
# (call control, SIP user agent, SDP, media sessions, security policy,
# display model) to the hardware (the HAL) and the network. Its parts:
#   app/supervisor.py  every failure: faults counted, a call ended, SIP
#                      restarted, the crash loop (the one place for them)
#   app/sipwiring.py   the UA and its TLS transport; SIP events -> calls
#   app/zrtpcalls.py   ZRTP: ZID cache, key pool, events, SAS verdict
#   app/ui.py          keys, menus, console commands, stats
# This module holds the app's state, the call-control actions and the
# 20 ms loop.
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
#   zrtp               offer ZRTP first, no keys in SIP, and prefer it (default
#                      on); the ZID cache (retained secrets) is in the secrets store
#   sdes_fallback      a peer without ZRTP gets SDES keys in SIP, shown "provider
#                      can decrypt" (default true; false = ZRTP or no call;
#                      zrtp_only: true is the same); saved to NVS
#   withhold_caller_id, turn {uri, user, password}, settings {NVS name: value}:
#                      saved to NVS (app/settings.py apply_config)
#   codecs, max_calls, calllog_path, contacts_path, log_max, name
import gc
import json
import sys

import asyncio

from hushphone.app import callcontrol as cc
from hushphone.app import display_model as dm
from hushphone.app.calllog import CallLog
from hushphone.app.console import LineReader, event_line
from hushphone.app.contacts import Contacts, ContactsError
from hushphone.app.callmedia import CallMedia
from hushphone.app.idlegc import idle_collect
from hushphone.app.media import FRAME_BYTES
from hushphone.app.offers import OfferPlan, plan_for
from hushphone.app.security import ZRTP, MediaPolicy
from hushphone.app.settings import Settings, SettingsError
from hushphone.app.sipwiring import SipWiring
from hushphone.app.supervisor import Supervisor
from hushphone.app.ui import Ui
from hushphone.app.zrtpcalls import ZrtpCalls
from hushphone.turn.callrelay import RelayError
from hushphone.audio.tone import ToneGenerator, fill_silence
from hushphone.compat import sleep_ms
from hushphone.sip.message import LocalSipError, parse_uri
from hushphone.sip.transport import MonotonicMs

VERSION = "0.1"
TICK_MS = 20
_RESYNC_AFTER_MS = 200
_SCREEN_EVERY_MS = 1000
_WAITING_TONE_EVERY_MS = 3000  # call waiting: a short beep in the earpiece
_WAITING_TONE_MS = 200


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


class Phone:
    version = VERSION

    def __init__(self, hal, config, out=None):
        self.hal = hal
        self.config = config
        self.name = config.get("name", "phone")
        self._out = out or _print
        # One clock for everything (calls, SIP timers, media): milliseconds
        # since start that never wrap, however long the phone runs.
        self.now = MonotonicMs()
        self.settings = Settings(hal.settings, hal.secrets, _trust_store(hal)).load()
        config_error = None
        try:
            self.settings.apply_config(config)  # checked whole: a bad value changes nothing
            self.settings.save()
        except SettingsError as e:
            config_error = "config: %s" % e
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
        self.listen_port = config.get("listen_port")
        self.registers = config.get("register", True) and self.listen_port is None
        self.identity = _device_identity(hal, config)
        if self.missing is None and self.listen_port is not None and self.identity[0] is None:
            self.missing = "no device certificate"
        self.ua = None
        self.transport = None
        self.registrar = registrar
        self.domain = domain
        self.cas = cas
        self.supervisor = Supervisor(self)
        self.sip = SipWiring(self)
        self.ui = Ui(self)
        if self.missing is None:
            self.sip.make()
        self.policy = MediaPolicy(allow_insecure=config.get("allow_insecure_media", False),
                                  zrtp=config.get("zrtp", True), sdes_fallback=self.settings.sdes_fallback)
        self.zrtp = ZrtpCalls(self, self.policy.zrtp)
        self.codecs = config.get("codecs", ["PCMU", "PCMA"])
        self.media_host = config.get("media_host", "127.0.0.1")
        self.calls = cc.CallControl(config.get("max_calls", 2))
        if config_error is not None:
            self.emit("error", text=config_error)
        self.contacts = Contacts(config.get("contacts_path", "/data/contacts.vcf"))
        try:
            self.contacts.load()
        except (ContactsError, OSError) as e:
            self.emit("error", text="contacts: %s" % e)
        self.calllog = CallLog(config.get("calllog_path"), config.get("log_max", 100), self.settings.values["log_days"])
        self.calllog.load(hal.clock.unix_time())
        self.view = dm.View(self.calls, self.security_of, self._peer_name)
        self.view.account = "%s@%s" % (account["user"], domain) if self.missing is None else self.missing
        if self.missing is not None:
            self.view.registration = "unprovisioned"
        self.running = True
        self._mic = bytearray(FRAME_BYTES)
        self._silence = bytearray(FRAME_BYTES)
        self._beep = ToneGenerator(440, 0.2)
        self._screen = None
        self._ticks = 0
        self._screen_at = -_SCREEN_EVERY_MS
        # Fault injection for tests ("inject media|sip|loop [N]" on the
        # console): only when the configuration asks for it.
        self.test_hooks = bool(config.get("test_hooks"))
        self.inject = {}

    # -- output ------------------------------------------------------------

    def emit(self, what, **fields):
        self._out(event_line(what, fields))

    def refresh(self, force=False):
        d = self.hal.display
        lines = dm.render(self.view, self.now(), d.width, d.height)
        if force or lines != self._screen:
            self._screen = lines
            d.show(lines)

    def security_of(self, line):
        media = line.ref[1] if line.ref is not None else None
        return media.security if media is not None else None

    def _peer_name(self, peer):
        return self.contacts.name_for(peer) or peer

    # -- keys, console, dialling (app/ui.py) ---------------------------------------

    def key(self, name):
        self.ui.key(name)

    def command(self, line):
        self.ui.command(line)

    def dial(self, target):
        self.ui.dial(target)

    def stats(self):
        return self.ui.stats()

    def protections(self):
        return self.ui.protections()

    # -- call-control actions --------------------------------------------------

    def actions(self):
        """Carry out what call control decided (INVITE, answer, BYE...);
        a failure ends that call (the supervisor), never the phone."""
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
                self.supervisor.call_fault(line, e, kind, now)
        if self.transport is not None:
            self.transport.wakeup()

    def _do_invite(self, line, action, now):
        if self.ua is None:
            self.emit("error", text="cannot call: %s" % self.missing)
            self.calls.remote_ended(line, now, self.missing)
            return
        try:
            media = self.new_media()
        except RelayError as e:
            self.emit("refused", peer=line.peer, status=None, reason="TURN relay: %s" % e)
            self.calls.remote_ended(line, now, "no TURN relay")
            return
        media.plan = OfferPlan(self.policy)  # ZRTP first: no keys in SIP
        call = self.ua.call(action[2], self.sip.offer(media, self.codecs), now)
        line.ref = (call, media)
        self.emit("calling", peer=line.peer, anonymous=call.anonymous)

    def new_media(self):
        """A call's media: its own UDP port, and with a TURN relay
        configured an allocation on it (turn: over UDP on that port, turns:
        over its own TLS connection), made before the SDP (RelayError: no
        call, rather than one that shows our address)."""
        media = CallMedia(self.media_host, self.hal.random_bytes, self.zrtp.engine())
        turn = self.settings.turn
        if turn is None:
            return media
        try:
            media.relay = self._relay_for(media, turn)
            media.relay.allocate(self.now, self._media_readable(media), sleep_ms_blocking)
        except Exception:
            media.close()
            raise
        return media

    def _relay_for(self, media, turn):
        from hushphone.app.media import sockaddr
        from hushphone.turn import uri as turn_uri
        from hushphone.turn.callrelay import TlsRelay, UdpRelay, connect_tls

        try:
            u = turn_uri.parse(turn[0])
        except turn_uri.TurnUriError as e:
            raise RelayError("bad TURN URI: %s" % e)
        if u.transport == "tls":
            # (turn_server_hostname: the name on the relay's certificate
            # where the URI names it by address, as the simulation does)
            tls = connect_tls(u.host, u.port, self.config.get("turn_server_hostname", u.host), self.cas)
            return TlsRelay(tls, turn[1], turn[2], self.hal.random_bytes)
        if u.transport != "udp":
            raise RelayError("TURN over TCP is not supported for calls (use UDP or turns: over TLS)")
        try:
            server = sockaddr(u.host, u.port)
        except OSError as e:
            raise RelayError("cannot resolve %s: %s" % (u.host, e))
        return UdpRelay(media.sock, server, turn[1], turn[2], self.hal.random_bytes)

    def _media_readable(self, media):
        import select

        poll = select.poll()
        poll.register(media.sock, select.POLLIN)
        return lambda ms: bool(poll.poll(ms))

    def _do_ring(self, line, action, now):
        call = line.ref[0]
        self.ua.ringing(call, now)
        self.emit("incoming", peer=line.peer, waiting=line.waiting)

    def _do_answer(self, line, action, now):
        call, media = line.ref
        body, neg = media.pending_answer
        media.pending_answer = None
        self.ua.answer(call, body, now)
        security = self.policy.decide(neg)
        media.plan = plan_for(self.policy, security)  # our re-INVITEs offer in the call's mode
        media.start(neg, security, self.now())
        self.in_call(line)

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
        try:
            self.ua.reinvite(call, self.sip.offer(media, [media.neg.codec], direction), now)
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

    def in_call(self, line):
        media = line.ref[1]
        neg = media.neg
        sdes = media.security.kind != ZRTP  # ZRTP: keys and suite come with the "secure" event
        self.emit("in_call", peer=line.peer, security=media.security.kind, label=media.security.label(),
                  codec=neg.codec, suite=neg.crypto_suite if sdes else None, ptime=neg.ptime or 20,
                  local_port=media.port, ssrc=media.session.ssrc if media.session is not None else None,
                  dtmf=neg.dtmf_payload_type is not None)

    # -- the 20 ms loop --------------------------------------------------------------

    def _tick(self, now):
        hal = self.hal
        if self.inject:
            self.injected("loop")
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
                self.supervisor.call_fault(line, e, "media", now)
                self.actions()
        if active is not None:
            try:
                self._audio(active, now)
            except Exception as e:
                self.supervisor.call_fault(active, e, "audio", now)
                self.actions()
        elif not self.calls.lines and self.zrtp.refill_due(self._ticks):
            self.zrtp.refill(self._ticks)
        if now - self._screen_at >= _SCREEN_EVERY_MS:
            self._screen_at = now
            self.refresh()

    def injected(self, where):
        """A test asked for a MemoryError here (see command())."""
        n = self.inject.get(where)
        if n:
            if n > 1:
                self.inject[where] = n - 1
            else:
                del self.inject[where]
            raise MemoryError("injected")

    def _line_media(self, line, now, current):
        """One call's packets this tick; True when its audio is the one
        the handset plays."""
        if self.inject:
            self.injected("media")
        media = line.ref[1]
        for e in media.drain(now):
            self.zrtp.on_event(line, media, e, now)
        if media.plan is not None and media.plan.hello_deadline is not None and line.ref is not None:
            self.sip.waiting_for_zrtp(line, media, now)
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
            self.sip.start()
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
                    self.supervisor.note_fault(e, "loop", now)
                await self.supervisor.supervise(now)
                n += 1
                idle_collect(start + n * TICK_MS - self.now())  # collect in the tick's spare time (app/idlegc.py)
                delay = start + n * TICK_MS - self.now()
                if delay < -_RESYNC_AFTER_MS:
                    n = (self.now() - start) // TICK_MS  # far behind: skip ahead, no burst
                    delay = 0
                await sleep_ms(delay if delay > 0 else 0)
        finally:
            await self._shutdown()

    async def _shutdown(self):
        sip = self.sip.task
        now = self.now()
        for line in list(self.calls.lines):
            if line.ref is not None and self.ua is not None:
                try:
                    self.ua.hangup(line.ref[0], now)
                except LocalSipError:
                    pass
                line.ref[1].close()
        if sip is not None and self.transport is not None:
            if self.registers and self.transport.connected:
                self.ua.unregister(now)
                self.transport.wakeup()
                try:
                    await asyncio.wait_for(self.sip.unregistered.wait(), 3)
                except asyncio.TimeoutError:
                    pass
            self.transport.stop()
            try:
                await sip
            except Exception as e:  # the SIP task died earlier: the shutdown still completes
                self.supervisor.note_fault(e, "sip-task", now)
        self.hal.audio.stop()
        close = getattr(self.hal.audio, "close", None)
        if close is not None:
            close()
        self.emit("stopped")


def sleep_ms_blocking(ms):
    """The relay's allocation waits before the SDP exists (bounded)."""
    import time

    if hasattr(time, "sleep_ms"):
        time.sleep_ms(ms)
    else:
        time.sleep(ms / 1000)


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
