# A simulated handset for the demo and the end-to-end tests: the firmware's
# SIP user agent, TLS transport, SDP offer/answer and media engine in one
# process on the MicroPython unix port (CPython runs it too).
#
#   micropython softphone.py CONFIG.json
#
# CONFIG: {"name", "aor", "username", "password", "proxy_host", "proxy_port",
# "server_hostname", "ca_der" (path), "media_host", "tone_hz" (0: silence),
# "listen_hz", "codecs", "suites", "report_ms"}.
# Commands on stdin, one per line: "call USER", "answer", "hangup", "quit".
# Output: display lines "[name] text" for people, and lines "@{json}" with
# the same facts for a program (the demo) to follow. Never prints secrets:
# no password, no SRTP key.
import json
import sys

import asyncio

from hushphone import sdp
from hushphone.app.media import MediaSession, UdpMediaDriver, bind_random_port, sockaddr, srtp_pair
from hushphone.audio.tone import ToneDetector, ToneGenerator, fill_silence
from hushphone.compat import IS_MICROPYTHON
from hushphone.crypto.random import random_below, random_bytes
from hushphone.sip import events
from hushphone.sip.message import SipError, parse_name_addr, parse_uri
from hushphone.sip.transport import SipTlsTransport, make_tls_context
from hushphone.sip.useragent import UaConfig, UserAgent
from hushphone.srtp.suites import SUITES

_SKIP_MS = 300  # let the jitter buffer fill before judging the tone
# SDES keys travel inside SIP, which the proxy reads: say so (DESIGN: shown
# to the user as weaker than end-to-end keys).
_SDES_LABEL = "SRTP (provider can decrypt)"


def _user_of(header_value):
    try:
        uri = parse_name_addr(header_value).uri
    except SipError:  # the peer's text, shown only: never fatal
        return "unknown"
    return uri.user or uri.host


class Softphone:
    def __init__(self, config, out=None):
        self.name = config["name"]
        self._out = out or self._print
        self.ua = UserAgent(
            UaConfig(config["aor"], config["username"], config["password"], expires=config.get("expires", 300)),
            random_bytes,
        )
        ctx = make_tls_context([_read(config["ca_der"])])
        self.transport = SipTlsTransport(
            self.ua, config["proxy_host"], config["proxy_port"], ctx, config["server_hostname"], on_event=self._on_sip
        )
        self.codecs = config.get("codecs", ["PCMU", "PCMA"])
        self.suites = config.get("suites", ["AES_CM_128_HMAC_SHA1_80"])
        self.media_host = config.get("media_host", "127.0.0.1")
        self.call = None
        self.peer = None
        self._offer = None
        self._sock = None
        self._port = None
        self._driver = None
        self._media_task = None
        self._pending_incoming = None
        self._unregistered = asyncio.Event()
        tone_hz = config.get("tone_hz", 0)
        self._tone = ToneGenerator(tone_hz, 0.5) if tone_hz else None
        self.listen_hz = config.get("listen_hz", 1000)
        self.report_ms = config.get("report_ms", 1000)
        self._window = ToneDetector(self.listen_hz)
        self._whole = ToneDetector(self.listen_hz)
        self._window_start = None

    # -- output ------------------------------------------------------------

    @staticmethod
    def _print(line):
        print(line)

    def display(self, text):
        self._out("[%s] %s" % (self.name, text))

    def report(self, event, **fields):
        fields["event"] = event
        fields["name"] = self.name
        self._out("@" + json.dumps(fields))

    # -- SIP events ----------------------------------------------------------

    def _on_sip(self, ev):
        if isinstance(ev, events.Registered):
            uri = parse_uri(ev.aor)
            self.display("Registered as %s@%s" % (uri.user, uri.host))
            self.report("registered", aor=ev.aor)
        elif isinstance(ev, events.Unregistered):
            self._unregistered.set()
        elif isinstance(ev, events.RegistrationFailed):
            self.display("Registration failed: %s %s" % (ev.status, ev.reason))
            self.report("registration_failed", status=ev.status, reason=ev.reason)
        elif isinstance(ev, events.ConnectionLost):
            self.display("Connection to the proxy lost: %s" % ev.reason)
            self.report("connection_lost", reason=ev.reason)
        elif isinstance(ev, events.IncomingCall):
            self._incoming(ev)
        elif isinstance(ev, events.CallProgress):
            self.display("Ringing at %s ..." % self.peer)
        elif isinstance(ev, events.CallAnswered):
            self._answered(ev)
        elif isinstance(ev, events.CallFailed):
            self.display("Call to %s failed: %s %s" % (self.peer, ev.status, ev.reason))
            self.report("call_failed", status=ev.status, reason=ev.reason)
            self._close_media()
            self.call = None
        elif isinstance(ev, events.CallEnded):
            self._ended(ev)
        elif isinstance(ev, events.UpdateRequested):
            # Hold/resume and re-keying are not part of this simulated
            # handset: say no clearly (RFC 3261 §14.2) and keep the call.
            self.ua.reject_update(ev.call, self.transport.now(), 488)
            self.transport.wakeup()
            self.display("%s tried to change the call: refused (not supported here)" % self.peer)

    def _incoming(self, ev):
        peer = _user_of(ev.call.invite.headers.get("From"))
        if self.call is not None:
            self.ua.reject(ev.call, self.transport.now(), 486)
            self.transport.wakeup()
            return
        self.call = ev.call
        self.peer = peer
        self._pending_incoming = ev.body
        self.ua.ringing(ev.call, self.transport.now())
        self.transport.wakeup()
        self.display("Incoming call from %s" % peer)
        self.report("incoming", peer=peer)

    def _answered(self, ev):
        try:
            neg = sdp.process_answer(self._offer, ev.body)
        except sdp.SdpError as e:
            self.display("Unusable answer from %s (%s): hanging up" % (self.peer, e))
            self.ua.hangup(ev.call, self.transport.now())
            self.transport.wakeup()
            return
        self._start_media(neg)

    def _ended(self, ev):
        stats = self._close_media()
        result = self._whole.result()
        self.display("Call with %s ended (%s)" % (self.peer, "we hung up" if ev.how == "local" else ev.how))
        fields = {"how": ev.how, "stats": stats}
        if result.samples:
            fields["tone"] = _tone_fields(result)
        self.report("ended", **fields)
        self.call = None
        self._pending_incoming = None

    # -- media ---------------------------------------------------------------

    def _open_port(self):
        self._sock, self._port = bind_random_port(self.media_host, random_below)

    def _start_media(self, neg):
        if neg.rejected or neg.encrypted_by != "sdes":
            # No plaintext media path exists: refuse rather than fall back.
            self.display("No acceptable encrypted media with %s: hanging up" % self.peer)
            self.ua.hangup(self.call, self.transport.now())
            self.transport.wakeup()
            return
        key_len = SUITES[neg.crypto_suite][0]
        tx, rx = srtp_pair(
            neg.crypto_suite,
            neg.local_key[:key_len],
            neg.local_key[key_len:],
            neg.remote_key[:key_len],
            neg.remote_key[key_len:],
        )
        session = MediaSession(neg.codec, tx, rx, random_bytes, payload_type=neg.payload_type)
        self._driver = UdpMediaDriver(session, self._sock, sockaddr(neg.remote_addr, neg.remote_port))
        self._window.reset()
        self._whole.reset()
        self._window_start = None
        self._media_task = asyncio.create_task(self._driver.run(self._source, self._sink))
        self.display("In call with %s \u00b7 %s" % (self.peer, _SDES_LABEL))
        self.display(
            "Media: %s %d ms, %s, sending %s"
            % (neg.codec, neg.ptime or 20, neg.crypto_suite, ("%d Hz tone" % self._tone.freq) if self._tone else "silence")
        )
        self.report(
            "in_call", peer=self.peer, security=neg.encrypted_by, suite=neg.crypto_suite, codec=neg.codec,
            local_port=self._port, remote_port=neg.remote_port,
        )

    def _source(self, frame):
        if self._tone is not None:
            self._tone.fill(frame)
        else:
            fill_silence(frame)

    def _sink(self, frame, now_ms):
        if now_ms < _SKIP_MS:
            return
        if self._window_start is None:
            self._window_start = now_ms
        self._window.add(frame)
        self._whole.add(frame)
        if now_ms - self._window_start >= self.report_ms:
            r = self._window.result()
            if r.present(min_snr_db=10):
                self.display("Receiving %d Hz tone, SNR %.1f dB" % (r.freq, r.snr_db))
            elif r.level_dbfs <= -100:
                self.display("No %d Hz tone (silence)" % r.freq)
            else:
                self.display("No %d Hz tone (SNR %.1f dB, level %.1f dBFS)" % (r.freq, r.snr_db, r.level_dbfs))
            self.report("tone", **_tone_fields(r))
            self._window.reset()
            self._window_start = now_ms

    def _close_media(self):
        stats = None
        if self._driver is not None:
            self._driver.stop()
            stats = self._driver.session.stats.as_dict()
            self._driver = None
        if self._media_task is not None:
            self._media_task.cancel()
            self._media_task = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        return stats

    # -- commands ------------------------------------------------------------

    def command(self, line):
        """One command line; returns False on "quit"."""
        words = line.split()
        if not words:
            return True
        verb = words[0]
        now = self.transport.now()
        if verb == "call" and len(words) == 2:
            if self.call is not None:
                self.display("Already in a call")
                return True
            self.peer = words[1]
            self._open_port()
            self._offer = sdp.build_offer(self.media_host, self._port, self.codecs, self.suites, random_bytes)
            self.display("Calling %s ..." % self.peer)
            self.call = self.ua.call(self.peer, self._offer.to_bytes(), now)
        elif verb == "answer":
            if self.call is None or self._pending_incoming is None:
                self.display("No call to answer")
                return True
            offer = self._pending_incoming
            self._pending_incoming = None
            self._open_port()
            try:
                answer, neg = sdp.answer(offer, self.media_host, self._port, self.codecs, self.suites, random_bytes)
            except sdp.SdpError as e:
                self.display("Unusable offer from %s (%s): refusing" % (self.peer, e))
                self.ua.reject(self.call, now, 488)
                self._close_media()
                self.call = None
                self.transport.wakeup()
                return True
            if neg.rejected:
                self.display("Offer from %s has no acceptable encrypted media (%s): refusing" % (self.peer, neg.reason))
                self.ua.reject(self.call, now, 488)
                self._close_media()
                self.call = None
            else:
                self.ua.answer(self.call, answer.to_bytes(), now)
                self._start_media(neg)
        elif verb == "hangup":
            if self.call is None:
                self.display("No call to hang up")
                return True
            self.display("Hanging up")
            self.ua.hangup(self.call, now)
        elif verb == "quit":
            return False
        else:
            self.display("Unknown command: %s" % line.strip())
        self.transport.wakeup()
        return True

    # -- life cycle ----------------------------------------------------------

    async def run(self, lines):
        """Register, then follow the commands from the async iterator
        `lines` until "quit" or its end; unregister and stop."""
        task = asyncio.create_task(self.transport.run())
        self.ua.register(self.transport.now())
        self.transport.wakeup()
        try:
            while True:
                line = await lines()
                if line is None or not self.command(line):
                    break
        finally:
            if self.call is not None:
                self.ua.hangup(self.call, self.transport.now())
                self._close_media()
            if self.ua.registration is not None and self.transport.connected:
                self.ua.unregister(self.transport.now())
                self.transport.wakeup()
                try:
                    await asyncio.wait_for(self._unregistered.wait(), 3)
                except asyncio.TimeoutError:
                    pass
            self.transport.stop()
            await task
            self.display("Switched off")
            self.report("stopped")


def _tone_fields(r):
    return {
        "freq": r.freq,
        "snr_db": round(r.snr_db, 1),
        "level_dbfs": round(r.level_dbfs, 1),
        "present": r.present(min_snr_db=10),
        "seconds": round(r.samples / 8000, 2),
    }


def _read(path):
    with open(path, "rb") as f:
        return f.read()


async def stdin_lines():
    """An async function returning the next stdin line (str), or None at
    the end of input."""
    if IS_MICROPYTHON:
        reader = asyncio.StreamReader(sys.stdin)
    else:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def next_line():
        data = await reader.readline()
        return data.decode() if data else None

    return next_line


async def _main(path):
    with open(path) as f:
        config = json.load(f)
    phone = Softphone(config)
    await phone.run(await stdin_lines())


def main(argv):
    if len(argv) != 2:
        print("usage: softphone.py CONFIG.json")
        return 2
    asyncio.run(_main(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
