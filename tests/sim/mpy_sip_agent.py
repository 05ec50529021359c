# A small SIP agent for the MicroPython unix port (also runs on CPython):
# the firmware's UserAgent on the firmware's TLS driver, driven by the
# command line, printing one "EVENT Name key=value ..." line per UA event.
#
#   micropython mpy_sip_agent.py CA.der PORT USER PASSWORD MODE [CLIENT.der KEY.der]
#   MODE register: register, unregister, exit
#   MODE answer:   register, answer one call (180 then 200), wait for its end
import sys

import asyncio

from hushphone.crypto.random import random_bytes
from hushphone.sip import events
from hushphone.sip.transport import SipTlsTransport, make_tls_context
from hushphone.sip.useragent import UaConfig, UserAgent

TOTAL_S = 60  # the whole run is bounded

ANSWER_SDP = (
    b"v=0\r\no=- 2890844527 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
)


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Agent:
    def __init__(self, argv):
        ca, port, user, password, self.mode = argv[1:6]
        client = (read(argv[6]), read(argv[7])) if len(argv) > 7 else (None, None)
        self.ua = UserAgent(UaConfig("sip:%s@localhost" % user, user, password, expires=300, backoff_base=500),
                            random_bytes)
        ctx = make_tls_context([read(ca)], client[0], client[1])
        self.transport = SipTlsTransport(self.ua, "127.0.0.1", int(port), ctx, "localhost", on_event=self.on_event)
        self.queue = []
        self.flag = asyncio.Event()

    def on_event(self, event):
        fields = []
        for key in ("status", "reason", "expires", "how", "retry_in"):
            if hasattr(event, key):
                fields.append("%s=%s" % (key, str(getattr(event, key)).replace(" ", "_")))
        print("EVENT", type(event).__name__, " ".join(fields))
        self.queue.append(event)
        self.flag.set()

    async def wait(self, kind):
        while True:
            for i in range(len(self.queue)):
                if isinstance(self.queue[i], kind):
                    return self.queue.pop(i)
            self.flag.clear()
            await self.flag.wait()

    def act(self, name, *args):
        result = getattr(self.ua, name)(*(args + (self.transport.now(),)))
        self.transport.wakeup()
        return result

    async def script(self):
        self.act("register")
        ev = await self.wait((events.Registered, events.RegistrationFailed))
        if isinstance(ev, events.Registered):
            if self.mode == "answer":
                incoming = await self.wait(events.IncomingCall)
                self.act("ringing", incoming.call)
                self.act("answer", incoming.call, ANSWER_SDP)
                await self.wait(events.CallConfirmed)
                await self.wait(events.CallEnded)
            self.act("unregister")
            await self.wait(events.Unregistered)

    async def main(self):
        runner = asyncio.create_task(self.transport.run())
        try:
            await asyncio.wait_for(self.script(), TOTAL_S)
            print("DONE")
        except asyncio.TimeoutError:
            print("TIMEOUT")
        self.transport.stop()
        await runner


asyncio.run(Agent(sys.argv).main())
