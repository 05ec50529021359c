"""A CPython test phone: the firmware's UserAgent on the firmware's TLS
driver, in an asyncio task, with helpers to act and to wait for events.

    async with Phone(kamailio, pki, "alice", "pw") as alice:
        await alice.register()
        call = alice.act("call", "bob", sdp)
        ev = await alice.expect(events.CallAnswered)
"""
import asyncio
import os
import sys

from tests.support.runtimes import FIRMWARE_LIB, REPO

if str(FIRMWARE_LIB) not in sys.path:
    sys.path.insert(0, str(FIRMWARE_LIB))

from hushphone.sip import events  # noqa: E402
from hushphone.sip.transport import SipTlsTransport, make_tls_context  # noqa: E402
from hushphone.sip.useragent import UaConfig, UserAgent  # noqa: E402

WAIT_S = 20.0  # generous: CI machines are loaded
MPY_AGENT = str(REPO / "tests" / "sim" / "mpy_sip_agent.py")


def agent_args(pki, kamailio, user, password, mode):
    """Command line of the MicroPython SIP agent (tests/sim/mpy_sip_agent.py)."""
    return [MPY_AGENT, str(pki.ca.cert_der), str(kamailio.port), user, password, mode]


def event_lines(output):
    """The agent's "EVENT Name key=value" lines, split."""
    return [line.split()[1:] for line in output.splitlines() if line.startswith("EVENT ")]


def simple_sdp(port, direction="sendrecv", session_id=None):
    """A minimal valid SDP offer/answer for signalling-only tests."""
    sid = session_id if session_id is not None else int.from_bytes(os.urandom(4), "big")
    return (
        "v=0\r\no=- %d 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=%s\r\n" % (sid, port, direction)
    ).encode()


class Phone:
    def __init__(self, kamailio, pki, user, password, ca_der=None, server_hostname=None, client_keys=None,
                 **config):
        self.kamailio = kamailio
        self.user = user
        self.aor = "sip:%s@%s" % (user, kamailio.host)
        cfg = dict(expires=300, backoff_base=500, backoff_max=4000)
        cfg.update(config)
        self.ua = UserAgent(UaConfig(self.aor, user, password, **cfg), os.urandom)
        ctx = make_tls_context(
            [ca_der if ca_der is not None else pki.ca.cert_der.read_bytes()],
            client_keys.cert_der.read_bytes() if client_keys else None,
            client_keys.key_der.read_bytes() if client_keys else None,
        )
        self.transport = SipTlsTransport(
            self.ua, "127.0.0.1", kamailio.port, ctx, server_hostname or kamailio.host, on_event=self._on_event
        )
        self.events = []
        self._new = None
        self._task = None

    def _on_event(self, event):
        self.events.append(event)
        self._new.set()

    async def __aenter__(self):
        self._new = asyncio.Event()
        self._task = asyncio.create_task(self.transport.run())
        return self

    async def __aexit__(self, *exc):
        self.transport.stop()
        await asyncio.wait_for(self._task, WAIT_S)

    def act(self, action, *args, **kwargs):
        """Call a UserAgent action with the driver's clock, then send at once."""
        result = getattr(self.ua, action)(*(args + (self.transport.now(),)), **kwargs)
        self.transport.wakeup()
        return result

    async def expect(self, kinds, timeout=WAIT_S, where=None):
        """The first not yet consumed event of the given type(s)."""
        if not isinstance(kinds, tuple):
            kinds = (kinds,)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, event in enumerate(self.events):
                if isinstance(event, kinds) and (where is None or where(event)):
                    del self.events[i]
                    return event
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError("%s: no %s within %ss; events: %r; last transport error: %r" % (
                    self.user, [k.__name__ for k in kinds], timeout, self.events, self.transport.last_error))
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def register(self):
        self.act("register")
        return await self.expect((events.Registered, events.RegistrationFailed))
