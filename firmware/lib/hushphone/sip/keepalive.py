# RFC 5626 §3.5.1 CRLF keepalive on the TLS flow: we send a double-CRLF
# "ping" every interval and expect a single-CRLF "pong" within 10 s; a
# missing pong means the flow is dead. Pings from the peer are answered by
# the user agent (it queues the pong). The pings are whole writes between
# messages, so they never split a SIP message.
from hushphone.sip import timers

PING = b"\r\n\r\n"
PONG = b"\r\n"


class Keepalive:
    def __init__(self, interval_ms=timers.KEEPALIVE_INTERVAL, pong_timeout_ms=timers.PONG_TIMEOUT):
        self.interval = interval_ms
        self.pong_timeout = pong_timeout_ms
        self.next_ping = None
        self.pong_deadline = None
        self.pongs = 0  # answers received (a statistic for the status screen and tests)

    def start(self, now):
        self.next_ping = now + self.interval if self.interval else None
        self.pong_deadline = None

    def stop(self):
        self.next_ping = None
        self.pong_deadline = None

    def pong(self, now):
        self.pongs += 1
        self.pong_deadline = None

    def get_timer(self):
        if self.pong_deadline is not None and (self.next_ping is None or self.pong_deadline < self.next_ping):
            return self.pong_deadline
        return self.next_ping

    def handle_timer(self, now):
        """"dead" when a pong is overdue, "ping" when one must be sent, else None."""
        if self.pong_deadline is not None and now >= self.pong_deadline:
            self.stop()
            return "dead"
        if self.next_ping is not None and now >= self.next_ping:
            self.next_ping = now + self.interval
            if self.pong_deadline is None:
                self.pong_deadline = now + self.pong_timeout
            return "ping"
        return None
