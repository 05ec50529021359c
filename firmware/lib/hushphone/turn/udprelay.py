# One call's media through a TURN relay over UDP: the call's own UDP socket
# talks to the TURN server only; the peer is reached through the relayed
# address, which is what the SDP carries, so neither the peer nor its
# provider learns the handset's address. A thin driver around the sans-IO
# TurnClient (turn/client.py); the call's media (app/callmedia.py) hands it
# every datagram and every packet.
from hushphone.turn import client as tc
from hushphone.turn import stun

ALLOCATE_WAIT_MS = 3000  # bounded: a call that cannot get a relay does not start


class RelayError(Exception):
    """The relay could not be allocated (reason for the user)."""


class UdpRelay:
    def __init__(self, sock, server, username, password, random_bytes):
        self.sock = sock
        self.server = server  # the socket address of the TURN server
        self.client = tc.TurnClient(username, password, random_bytes)
        self.relayed = None  # (ip text, port) for the SDP
        self._peer = None
        self._payloads = []

    def allocate(self, clock, poll_readable, sleep):
        """Allocate before the SDP is built (the relayed address goes into
        it), waiting at most ALLOCATE_WAIT_MS. clock() -> ms;
        poll_readable(ms) -> whether the socket has a datagram; sleep(ms)."""
        c = self.client
        start = clock()
        c.allocate(start)
        while True:
            now = clock()
            t = c.get_timer()
            if t is not None and t <= now:
                c.handle_timer(now)
            self._flush()
            e = c.next_event()
            if isinstance(e, tc.Allocated):
                self.relayed = (stun.ip_text(e.relayed[0]), e.relayed[1])
                return self.relayed
            if isinstance(e, tc.Failed):
                raise RelayError(e.reason)
            if now - start >= ALLOCATE_WAIT_MS:
                raise RelayError("no answer from the TURN server")
            if poll_readable(20):
                try:
                    data = self.sock.recv(1500)
                except OSError:
                    continue
                c.receive(data, clock())
            else:
                sleep(0)

    def peer(self, host, port, now):
        """The call's peer (from the SDP): a channel to it (which also
        permits its address)."""
        peer = (stun.ip_bytes(host), port)
        if peer != self._peer:
            self._peer = peer
            self.client.bind(peer, now)
            self._flush()

    def receive(self, data, now):
        """A datagram from the server: the peer's payloads it carried."""
        self.client.receive(data, now)
        out = []
        while True:
            e = self.client.next_event()
            if e is None:
                return out
            if isinstance(e, tc.Data):
                out.append(e.payload)
            # (Bound/Permitted need nothing; a Failed refresh shows as silence)

    def send(self, payload):
        if self._peer is None or self.client.state != tc.ALLOCATED:
            return
        self._send(self.client.wrap(self._peer, payload))

    def tick(self, now):
        c = self.client
        t = c.get_timer()
        if t is not None and t <= now:
            c.handle_timer(now)
        self._flush()

    def close(self, now):
        self.client.close(now)
        self._flush()

    def _flush(self):
        for d in self.client.datagrams_to_send():
            self._send(d)

    def _send(self, data):
        try:
            self.sock.sendto(data, self.server)
        except OSError:
            pass  # UDP: a lost datagram is retransmitted (requests) or carried by the next one
