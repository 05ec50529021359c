# One call's media through a TURN relay: the peer is reached through the
# relayed address, which is what the SDP carries, so neither the peer nor
# its provider learns the handset's address. Thin drivers around the
# sans-IO TurnClient (turn/client.py), polled from the 20 ms media tick:
#   UdpRelay  the call's own UDP socket talks to the TURN server only (the
#             call's media hands it every datagram: receive());
#   TlsRelay  TURN over TLS (RFC 8656 §3.1, turns:): one TLS connection per
#             call, the server's certificate checked against the handset's
#             CAs; frames read without blocking in poll().
# Both allocate before the SDP is built, waiting at most ALLOCATE_WAIT_MS
# (the phone's loop waits meanwhile: a relay on the other side of the
# world costs a call's set-up that much).
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
            while e is not None and not isinstance(e, (tc.Allocated, tc.Failed)):
                e = c.next_event()
            if isinstance(e, tc.Allocated):
                self.relayed = (stun.ip_text(e.relayed[0]), e.relayed[1])
                return self.relayed
            if isinstance(e, tc.Failed):
                raise RelayError(e.reason)
            if clock() - start >= ALLOCATE_WAIT_MS:
                raise RelayError("no answer from the TURN server")
            self._await_answer(clock, poll_readable, sleep)

    def _await_answer(self, clock, poll_readable, sleep):
        """One wait of the allocation loop: the server's datagram, if any."""
        if poll_readable(20):
            try:
                data = self.sock.recv(1500)
            except OSError:
                return
            self.client.receive(data, clock())
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

    def poll(self, now):
        """Payloads that came other than as ChannelData on the call's
        socket: Data indications (before the channel is bound), and over
        TLS everything (a tuple or list, empty: nothing)."""
        return self._payloads_out()

    def receive(self, data, now):
        """A datagram from the server: the payload the peer sent in it when
        it is ChannelData (the usual case, no garbage but the payload), else
        None (anything else goes to the client; poll() has its payloads)."""
        payload = self.client.unwrap(data)
        if payload is None:
            self.client.receive(data, now)
        return payload

    def _payloads_out(self):
        if not self.client.has_events():
            return ()
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


class TlsRelay(UdpRelay):
    """TURN over TLS: the same client on a stream (frames: STUN messages and
    padded ChannelData). `tls` is a connected TLS socket, made non-blocking
    after its handshake."""

    def __init__(self, tls, username, password, random_bytes):
        import select

        UdpRelay.__init__(self, tls, None, username, password, random_bytes)
        self.client = tc.TurnClient(username, password, random_bytes, stream=True)
        self._buf = b""
        self._writable = select.poll()
        self._writable.register(tls, select.POLLOUT)
        self.write_drops = 0  # frames the stream would not take in time

    def _await_answer(self, clock, poll_readable, sleep):
        sleep(10)
        self._read(clock())

    def poll(self, now):
        self._read(now)
        return self._payloads_out()

    def receive(self, data, now):
        return None  # (nothing comes on the call's UDP socket)

    def _read(self, now):
        for _ in range(32):  # bounded work per tick
            try:
                chunk = self.sock.recv(2048)
            except OSError:  # would block (CPython's SSLWantReadError is an OSError too)
                chunk = None
            if not chunk:
                return
            self._buf += chunk
            while True:
                try:
                    n = stun.frame_length(self._buf)
                except stun.StunError:
                    self._buf = b""  # garbage on the stream: resynchronising is hopeless, drop it
                    return
                if not n:
                    break
                self.client.receive(self._buf[:n], now)
                self._buf = self._buf[n:]

    def _send(self, data):
        """The whole frame, or none of it lost silently: a frame cut in the
        middle would break the stream's framing. A non-blocking TLS socket
        may take part of it or nothing (EAGAIN, or None on MicroPython):
        wait until it is writable, at most ~200 ms in all."""
        view = memoryview(data)
        for _ in range(20):
            try:
                n = self.sock.write(view)
            except OSError:  # would block (CPython's SSLWantWriteError is an OSError)
                n = None
            if n:
                view = view[n:]
                if not len(view):
                    return
                continue
            self._writable.poll(10)
        self.write_drops += 1

    def close(self, now):
        UdpRelay.close(self, now)
        try:
            self.sock.close()
        except OSError:
            pass


def connect_tls(host, port, server_hostname, cas, timeout_s=5):
    """A TLS connection to the TURN server (blocking connect and handshake,
    bounded), then non-blocking. The certificate is always checked."""
    import socket

    from hushphone.sip.transport import make_tls_context

    addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        raw.settimeout(timeout_s)
        raw.connect(addr)
        tls = make_tls_context(cas).wrap_socket(raw, server_hostname=server_hostname)
    except Exception as e:
        raw.close()
        raise RelayError("TLS to the TURN server failed: %s" % e)
    tls.setblocking(False)
    return tls
