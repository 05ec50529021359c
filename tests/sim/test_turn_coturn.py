"""The firmware's TURN client cores (hushphone.turn) against coturn on
loopback, with distinct addresses: the handset on 127.0.0.2, the relay on
127.0.0.3, the peer on 127.0.0.4. Over UDP and over TLS (the relay's
certificate checked against the lab CA): the long-term credential,
Allocate, CreatePermission + Send indication, ChannelBind + ChannelData,
data both ways; the peer sees only the relay's address, never the
handset's; a wrong password is refused."""
import os
import socket
import ssl
import time

import pytest

from hushctl.lab import LabPki
from hushphone.turn import client as tc
from hushphone.turn import stun
from tests.sim.coturn import Coturn

pytestmark = pytest.mark.slow

HANDSET, RELAY, PEER = "127.0.0.2", "127.0.0.3", "127.0.0.4"
WAIT_S = 10.0


class UdpLink:
    def __init__(self, server):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HANDSET, 0))
        self.sock.settimeout(0.05)
        self.server = server

    def send(self, data):
        self.sock.sendto(data, self.server)

    def recv(self):
        try:
            data, addr = self.sock.recvfrom(2048)
        except socket.timeout:
            return []
        assert addr == self.server
        return [data]

    def close(self):
        self.sock.close()


class TlsLink:
    """TURN over TLS (RFC 8656 §3.1): frames on a stream."""

    def __init__(self, server, ca_pem):
        ctx = ssl.create_default_context(cafile=str(ca_pem))
        raw = socket.create_connection(server, timeout=WAIT_S, source_address=(HANDSET, 0))
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        self.sock.settimeout(0.05)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def recv(self):
        try:
            chunk = self.sock.recv(4096)
        except (socket.timeout, ssl.SSLWantReadError):
            chunk = b""
        self.buf += chunk
        frames = []
        while True:
            n = stun.frame_length(self.buf)
            if not n:
                return frames
            frames.append(self.buf[:n])
            self.buf = self.buf[n:]

    def close(self):
        self.sock.close()


def run_until(client, link, predicate, what):
    """Carry the client's traffic until predicate(events so far) holds."""
    seen = []
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        now = int(time.monotonic() * 1000)
        timer = client.get_timer()
        if timer is not None and timer <= now:
            client.handle_timer(now)
        for d in client.datagrams_to_send():
            link.send(d)
        for frame in link.recv():
            client.receive(frame, int(time.monotonic() * 1000))
        while True:
            e = client.next_event()
            if e is None:
                break
            seen.append(e)
        if predicate(seen):
            return seen
    raise AssertionError("no %s within %ss: %r" % (what, WAIT_S, [vars(e) for e in seen]))


@pytest.fixture
def coturn(tmp_path):
    pki = LabPki(tmp_path / "pki")
    with Coturn(tmp_path / "coturn", (pki.server_cert_pem, pki.server_key_pem), host=RELAY) as turn:
        turn.ca_pem = pki.ca_pem
        yield turn


def peer_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((PEER, 0))
    s.settimeout(WAIT_S)
    return s


def relay_both_ways(client, link):
    allocated = run_until(client, link, lambda evs: any(isinstance(e, (tc.Allocated, tc.Failed)) for e in evs),
                          "allocation")[-1]
    assert isinstance(allocated, tc.Allocated), vars(allocated)
    assert stun.ip_text(allocated.relayed[0]) == RELAY
    assert stun.ip_text(allocated.mapped[0]) == HANDSET
    relayed = (RELAY, allocated.relayed[1])
    peer = peer_socket()
    try:
        them = (stun.ip_bytes(PEER), peer.getsockname()[1])
        # A permission, then a Send indication.
        client.permit(them[0], int(time.monotonic() * 1000))
        run_until(client, link, lambda evs: any(isinstance(e, tc.Permitted) for e in evs), "permission")
        link.send(client.wrap(them, b"hello via send"))
        data, source = peer.recvfrom(2048)
        assert data == b"hello via send"
        assert source == relayed  # the peer sees the relay, not the handset
        # The peer answers to the relayed address: a Data indication.
        peer.sendto(b"answer one", relayed)
        got = run_until(client, link, lambda evs: any(isinstance(e, tc.Data) for e in evs), "data")
        data_ev = [e for e in got if isinstance(e, tc.Data)][0]
        assert (data_ev.peer, data_ev.payload) == (them, b"answer one")
        # A channel: 4 bytes of overhead per packet.
        channel = client.bind(them, int(time.monotonic() * 1000))
        run_until(client, link, lambda evs: any(isinstance(e, tc.Bound) for e in evs), "channel")
        for i in range(20):
            wrapped = client.wrap(them, b"rtp %02d" % i)
            assert wrapped[:2] == bytes([channel >> 8, channel & 0xFF])
            link.send(wrapped)
            data, source = peer.recvfrom(2048)
            assert (data, source) == (b"rtp %02d" % i, relayed)
            peer.sendto(b"back %02d" % i, relayed)
        got = run_until(client, link, lambda evs: len([e for e in evs if isinstance(e, tc.Data)]) >= 20, "channel data")
        assert [e.payload for e in got if isinstance(e, tc.Data)] == [b"back %02d" % i for i in range(20)]
    finally:
        peer.close()
    client.close(int(time.monotonic() * 1000))
    for d in client.datagrams_to_send():
        link.send(d)


def test_relay_over_udp(coturn):
    link = UdpLink((RELAY, coturn.udp_port))
    try:
        client = tc.TurnClient(coturn.user, coturn.password, os.urandom)
        client.allocate(int(time.monotonic() * 1000))
        relay_both_ways(client, link)
    finally:
        link.close()


def test_relay_over_tls(coturn):
    link = TlsLink((RELAY, coturn.tls_port), coturn.ca_pem)
    try:
        client = tc.TurnClient(coturn.user, coturn.password, os.urandom, stream=True)
        client.allocate(int(time.monotonic() * 1000))
        relay_both_ways(client, link)
    finally:
        link.close()


def test_wrong_password_is_refused(coturn):
    link = UdpLink((RELAY, coturn.udp_port))
    try:
        client = tc.TurnClient(coturn.user, coturn.password + "x", os.urandom)
        client.allocate(int(time.monotonic() * 1000))
        evs = run_until(client, link, lambda evs: any(isinstance(e, (tc.Allocated, tc.Failed)) for e in evs), "answer")
        assert isinstance(evs[-1], tc.Failed) and evs[-1].code == 401, vars(evs[-1])
    finally:
        link.close()
