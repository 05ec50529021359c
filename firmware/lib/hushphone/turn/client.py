# A TURN client (RFC 8656), sans-IO: one allocation on one TURN server, for
# one call's media. Bytes from the server go in (receive), bytes for the
# server come out (datagrams_to_send), time is passed in (get_timer /
# handle_timer), random bytes too (transaction ids).
#
#   c = TurnClient("user", "pass", random_bytes, stream=False)
#   c.allocate(now)                       -> Allocate; 401 -> again with the long-term credential
#   ev Allocated(relayed, mapped, lifetime)
#   c.permit(peer_ip, now)                -> CreatePermission (refreshed every 4 minutes)
#   c.bind(peer_addr, now)                -> ChannelBind (refreshed every 9 minutes)
#   c.wrap(peer_addr, payload)            -> bytes for the server: ChannelData once bound, else a Send indication
#   ev Data(peer, payload)                 from Data indications and ChannelData
#   c.close(now)                          -> Refresh with LIFETIME 0
#
# Requests over UDP are retransmitted (RTO 500 ms, doubling, 7 tries); over
# TCP/TLS (stream=True) they are sent once, the stream is reliable. A 438
# (stale nonce) is retried with the new nonce. The long-term key is made
# once per realm; the password is never kept in a message or an event.
import struct

from hushphone.turn import stun

_RTO_MS = 500
_TRIES = 7
_STREAM_TIMEOUT_MS = 39500  # RFC 8489 Ti for reliable transports
_REFRESH_MARGIN_S = 60
PERMISSION_REFRESH_MS = 240000  # permissions last 5 minutes
CHANNEL_REFRESH_MS = 540000  # channel bindings last 10 minutes
FIRST_CHANNEL = 0x4000
DEFAULT_LIFETIME_S = 600
_MAX_PAYLOAD = 1500  # a ChannelData frame of at most this much is built in place (no garbage per packet)
_MAX_VIEWS = 8  # cached frame views, one per frame length (media packets have one size)

IDLE = "idle"
ALLOCATING = "allocating"
ALLOCATED = "allocated"
CLOSED = "closed"
FAILED = "failed"


class Allocated:
    def __init__(self, relayed, mapped, lifetime):
        self.relayed = relayed  # (ip bytes, port): what goes into the SDP
        self.mapped = mapped  # our address as the server sees it
        self.lifetime = lifetime


class Failed:
    def __init__(self, reason, code=None):
        self.reason = reason
        self.code = code


class Permitted:
    def __init__(self, peer_ip):
        self.peer_ip = peer_ip


class Bound:
    def __init__(self, peer, channel):
        self.peer = peer
        self.channel = channel


class Data:
    def __init__(self, peer, payload):
        self.peer = peer
        self.payload = payload


class TurnError(Exception):
    """Misuse by our own code (e.g. sending before the allocation)."""


class _Pending:
    def __init__(self, what, message, extra, now, stream):
        self.what = what  # "allocate", "refresh", "permit", "bind"
        self.message = message  # stun.Message (re-encoded on a new nonce)
        self.extra = extra
        self.data = None
        self.challenges = 0  # 401/438 answered with credentials or a fresh nonce
        self.tries = 1
        self.rto = _RTO_MS
        self.deadline = now + (_STREAM_TIMEOUT_MS if stream else _RTO_MS)


class TurnClient:
    def __init__(self, username, password, random_bytes, stream=False, lifetime=DEFAULT_LIFETIME_S, software=None):
        self._user = username
        self._password = password
        self._random = random_bytes
        self.stream = stream
        self.lifetime = lifetime
        self._software = software
        self.state = IDLE
        self.relayed = None
        self.mapped = None
        self._realm = None
        self._nonce = None
        self._key = None
        self._pending = {}  # txid -> _Pending
        self._out = []
        self._events = []
        self._refresh_at = None
        self._permissions = {}  # peer ip -> refresh time (ms)
        self._channels = {}  # peer (ip, port) -> channel
        self._channel_peers = {}  # channel -> peer
        self._channel_refresh = {}  # channel -> refresh time
        self._next_channel = FIRST_CHANNEL
        self._frame = bytearray(4 + _MAX_PAYLOAD + 3)
        self._frame_view = memoryview(self._frame)
        self._views = {}  # frame length -> view of _frame
        self.stats = {"sent": 0, "received": 0, "dropped": 0, "retransmits": 0}

    # -- the app's side ------------------------------------------------------------

    def allocate(self, now):
        if self.state != IDLE:
            raise TurnError("already allocated or allocating")
        self.state = ALLOCATING
        m = self._new(stun.ALLOCATE)
        m.add(stun.REQUESTED_TRANSPORT, struct.pack("!BBBB", stun.UDP, 0, 0, 0))
        m.add(stun.LIFETIME, struct.pack("!I", self.lifetime))
        self._request("allocate", m, None, now)

    def permit(self, peer_ip, now):
        """Let `peer_ip` (bytes) send to our relayed address."""
        self._need_allocation()
        m = self._new(stun.CREATE_PERMISSION)
        m.add(stun.XOR_PEER_ADDRESS, stun.encode_xor_address((peer_ip, 0), m.txid))
        self._permissions[peer_ip] = now + PERMISSION_REFRESH_MS
        self._request("permit", m, peer_ip, now)

    def bind(self, peer, now):
        """A channel to `peer` (ip bytes, port): 4 bytes of overhead per
        packet instead of a Send indication's 36. Also permits its IP."""
        self._need_allocation()
        channel = self._channels.get(peer)
        if channel is None:
            if self._next_channel > 0x4FFF:
                raise TurnError("no channel numbers left")
            channel = self._next_channel
            self._next_channel += 1
        m = self._new(stun.CHANNEL_BIND)
        m.add(stun.CHANNEL_NUMBER, struct.pack("!HH", channel, 0))
        m.add(stun.XOR_PEER_ADDRESS, stun.encode_xor_address(peer, m.txid))
        self._permissions.pop(peer[0], None)  # a binding installs (and its refresh keeps) the permission
        self._channel_refresh[channel] = now + CHANNEL_REFRESH_MS
        self._request("bind", m, (peer, channel), now)
        return channel

    def wrap(self, peer, payload):
        """What to send to the server so that `payload` reaches `peer`. A
        ChannelData frame is built in a buffer of the client's and the view
        returned is valid until the next wrap(): send it at once (no
        garbage per media packet)."""
        self._need_allocation()
        self.stats["sent"] += 1
        channel = self._channels.get(peer)
        if channel is not None:
            n = len(payload)
            if n > _MAX_PAYLOAD:
                return stun.encode_channel_data(channel, payload, self.stream)
            total = 4 + n + ((4 - n % 4) % 4 if self.stream else 0)
            frame = self._frame
            struct.pack_into("!HH", frame, 0, channel, n)
            frame[4:4 + n] = payload
            view = self._views.get(total)
            if view is None:
                if len(self._views) >= _MAX_VIEWS:
                    self._views = {}
                view = self._views[total] = self._frame_view[:total]
            if total > 4 + n:
                frame[4 + n:total] = b"\0\0\0"[:total - 4 - n]
            return view
        m = self._new(stun.SEND, stun.INDICATION)
        m.add(stun.XOR_PEER_ADDRESS, stun.encode_xor_address(peer, m.txid))
        m.add(stun.DATA_ATTR, payload)
        return m.encode()

    def close(self, now):
        """Free the allocation on the server (Refresh, LIFETIME 0)."""
        if self.state == ALLOCATED:
            m = self._new(stun.REFRESH)
            m.add(stun.LIFETIME, struct.pack("!I", 0))
            self._request("close", m, None, now)
        self.state = CLOSED
        self._refresh_at = None

    def datagrams_to_send(self):
        out = self._out
        if not out:
            return ()
        self._out = []
        return out

    def next_event(self):
        return self._events.pop(0) if self._events else None

    def has_events(self):
        return bool(self._events)

    def get_timer(self):
        times = [p.deadline for p in self._pending.values()]
        if self.state == ALLOCATED:
            if self._refresh_at is not None:
                times.append(self._refresh_at)
            times += list(self._permissions.values()) + list(self._channel_refresh.values())
        return min(times) if times else None

    def handle_timer(self, now):
        for txid in list(self._pending):
            p = self._pending[txid]
            if now < p.deadline:
                continue
            if self.stream or p.tries >= _TRIES:
                del self._pending[txid]
                self._lost(p)
                continue
            p.tries += 1
            p.rto *= 2
            p.deadline = now + p.rto
            self.stats["retransmits"] += 1
            self._out.append(p.data)
        if self.state != ALLOCATED:
            return
        if self._refresh_at is not None and now >= self._refresh_at:
            self._refresh_at = None
            m = self._new(stun.REFRESH)
            m.add(stun.LIFETIME, struct.pack("!I", self.lifetime))
            self._request("refresh", m, None, now)
        for ip, at in list(self._permissions.items()):
            if now >= at:
                self.permit(ip, now)
        for channel, at in list(self._channel_refresh.items()):
            if now >= at:
                self.bind(self._channel_peers[channel], now)

    # -- the server's side --------------------------------------------------------

    def unwrap(self, data):
        """The payload of a ChannelData frame from a bound peer, or None
        (then hand the frame to receive()): the media path's way, with no
        event per packet."""
        if not stun.is_channel_data(data):
            return None
        channel, size = struct.unpack_from("!HH", data, 0)
        if channel not in self._channel_peers or 4 + size > len(data):
            return None
        self.stats["received"] += 1
        return data[4:4 + size]

    def receive(self, data, now):
        """One datagram (UDP) or frame (TCP/TLS) from the server."""
        self.stats["received"] += 1
        try:
            if stun.is_channel_data(data):
                channel, payload = stun.decode_channel_data(data)
                peer = self._channel_peers.get(channel)
                if peer is None:
                    self.stats["dropped"] += 1
                    return
                self._events.append(Data(peer, payload))
                return
            m = stun.Message.decode(data)
        except stun.StunError:
            self.stats["dropped"] += 1
            return
        if m.cls == stun.INDICATION:
            if m.method == stun.DATA:
                peer = m.xor_address(stun.XOR_PEER_ADDRESS)
                payload = m.get(stun.DATA_ATTR)
                if peer is not None and payload is not None:
                    self._events.append(Data(peer, payload))
                    return
            self.stats["dropped"] += 1
            return
        p = self._pending.get(m.txid)
        if p is None or m.method != p.message.method or m.cls not in (stun.SUCCESS, stun.ERROR):
            self.stats["dropped"] += 1  # not an answer to anything we asked
            return
        if self._key is not None and not m.check_integrity(self._key):
            # After authenticating, every answer must carry our key's
            # integrity (a 401 carries none: only then a fresh challenge).
            if not (m.cls == stun.ERROR and (m.error() or (0,))[0] in (401, 438)):
                self.stats["dropped"] += 1
                return
        del self._pending[m.txid]
        if m.cls == stun.ERROR:
            self._error(p, m, now)
        else:
            self._success(p, m, now)

    # -- internals ---------------------------------------------------------------

    def _need_allocation(self):
        if self.state != ALLOCATED:
            raise TurnError("no allocation")

    def _new(self, method, cls=stun.REQUEST):
        m = stun.Message(method, cls, bytes(self._random(12)))
        if self._software:
            m.add(stun.SOFTWARE, self._software.encode())
        return m

    def _request(self, what, m, extra, now):
        p = _Pending(what, m, extra, now, self.stream)
        self._send(p)
        self._pending[m.txid] = p

    def _send(self, p):
        m = p.message
        if self._key is not None:
            attrs = [(k, v) for k, v in m.attrs if k not in (stun.USERNAME, stun.REALM, stun.NONCE)]
            m.attrs = attrs + [(stun.USERNAME, self._user.encode()), (stun.REALM, self._realm),
                               (stun.NONCE, self._nonce)]
            p.data = m.encode(self._key, fingerprint=True)
        else:
            p.data = m.encode(fingerprint=True)
        self._out.append(p.data)

    def _again(self, p, now):
        """The same request with a new transaction id (after a challenge)."""
        p.message.txid = bytes(self._random(12))
        q = _Pending(p.what, p.message, p.extra, now, self.stream)
        q.challenges = p.challenges + 1
        self._send(q)
        self._pending[p.message.txid] = q

    def _error(self, p, m, now):
        code, reason = m.error() or (0, "no ERROR-CODE")
        realm, nonce = m.get(stun.REALM), m.get(stun.NONCE)
        # 401: the challenge (answered once with our credentials; a second
        # 401 means they are wrong); 438: a stale nonce, take the new one.
        retry = nonce is not None and p.challenges < 2 and (
            (code == 401 and (p.challenges == 0 or (realm is not None and realm != self._realm))) or code == 438)
        if retry and (realm is not None or self._realm is not None):
            if realm is not None and realm != self._realm:
                self._realm = realm
                self._key = stun.long_term_key(self._user, realm.decode(), self._password)
            self._nonce = nonce
            self._again(p, now)
            return
        self._failed_request(p, "%d %s" % (code, reason), code)

    def _success(self, p, m, now):
        if p.what == "allocate":
            relayed = m.xor_address(stun.XOR_RELAYED_ADDRESS)
            if relayed is None:
                self._failed_request(p, "no relayed address in the answer", None)
                return
            lifetime = _lifetime(m, self.lifetime)
            self.relayed = relayed
            self.mapped = m.xor_address(stun.XOR_MAPPED_ADDRESS)
            self.state = ALLOCATED
            self._refresh_at = now + max(lifetime - _REFRESH_MARGIN_S, lifetime // 2) * 1000
            self._events.append(Allocated(relayed, self.mapped, lifetime))
        elif p.what == "refresh":
            lifetime = _lifetime(m, self.lifetime)
            self._refresh_at = now + max(lifetime - _REFRESH_MARGIN_S, lifetime // 2) * 1000
        elif p.what == "permit":
            self._events.append(Permitted(p.extra))
        elif p.what == "bind":
            peer, channel = p.extra
            if peer not in self._channels:
                self._channels[peer] = channel
                self._channel_peers[channel] = peer
                self._events.append(Bound(peer, channel))

    def _failed_request(self, p, reason, code):
        if p.what == "allocate" or p.what == "refresh":
            self.state = FAILED
            self._refresh_at = None
            self._events.append(Failed("TURN %s failed: %s" % (p.what, reason), code))
        elif p.what != "close":
            self._events.append(Failed("TURN %s failed: %s" % (p.what, reason), code))

    def _lost(self, p):
        self._failed_request(p, "no answer from the server", None)


def _lifetime(m, default):
    v = m.get(stun.LIFETIME)
    return struct.unpack("!I", v)[0] if v is not None and len(v) == 4 else default
