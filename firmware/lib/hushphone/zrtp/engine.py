# The ZRTP key agreement (RFC 6189) as a sans-IO state machine: datagrams
# in with receive(datagram, now), datagrams out from datagrams_to_send(),
# events from next_event(), retransmissions through get_timer() and
# handle_timer(now). Time is integer milliseconds; randomness comes from
# the random_bytes function passed in. DH mode only (no Multistream or
# Preshared); hash S256, cipher AES1, auth tags HS80/HS32, agreements
# X255/DH3k, SAS B32/B256.
#
# Roles: both sides send Hello; once an endpoint has the peer's Hello and
# a HelloACK for its own it sends Commit and becomes the initiator (unless
# configured passive). Both committing at once is settled by the larger
# hvi (§4.2).
#
#   initiator                         responder
#   Commit(H2, hvi)          ->
#                            <-       DHPart1(H1, pvr)
#   DHPart2(H1, pvi)         ->       (hvi checked: commitment kept)
#                            <-       Confirm1(H0 encrypted, MACed)
#   Confirm2(H0 ...)         ->
#                            <-       Conf2ACK          => both secure
#
# Each message's MAC is keyed with the hash image revealed in the next one
# (Hello with H2, Commit with H1, DHPart with H0) and checked when it
# arrives (§9). The initiator retransmits (T2); the responder answers a
# repeated message by repeating its answer.
from hushphone.crypto.aes_cfb import cfb_decrypt, cfb_encrypt
from hushphone.crypto.hmac import compare_digest
from hushphone.crypto.sha import sha256
from hushphone.zrtp import dh, events, kdf, packets, sas
from hushphone.zrtp.cache import NEVER
from hushphone.zrtp.errors import ZrtpCrcError, ZrtpDhError, ZrtpLocalError, ZrtpParseError
from hushphone.zrtp.keypool import KeyPool

HASH_S256 = "S256"
CIPHER_AES1 = "AES1"
AUTH_HS80 = "HS80"
AUTH_HS32 = "HS32"
AES1_KEY_LEN = 16
SRTP_SUITES = {AUTH_HS80: "AES_CM_128_HMAC_SHA1_80", AUTH_HS32: "AES_CM_128_HMAC_SHA1_32"}

# RFC 6189 §6 retransmission timers (ms) and retry caps.
T1_FIRST = 50
T1_CAP = 200
T1_RETRIES = 20
T2_FIRST = 150
T2_CAP = 1200
T2_RETRIES = 10

# States.
IDLE = "idle"
DISCOVERY = "discovery"
COMMIT_SENT = "commit-sent"
WAIT_DHPART2 = "wait-dhpart2"  # responder
WAIT_CONFIRM1 = "wait-confirm1"  # initiator
WAIT_CONFIRM2 = "wait-confirm2"  # responder
WAIT_CONF2ACK = "wait-conf2ack"  # initiator
SECURE = "secure"
FAILED = "failed"

INITIATOR = "initiator"
RESPONDER = "responder"

_ROLE_I = b"Initiator"
_ROLE_R = b"Responder"


class ZrtpConfig:
    """What this endpoint offers, in order of preference. DH3k, HS32/HS80
    and B32 are mandatory in ZRTP and always accepted from a peer."""

    def __init__(
        self,
        agreements=(dh.KA_X255, dh.KA_DH3K),
        auth_tags=(AUTH_HS80, AUTH_HS32),
        sas_types=(sas.SAS_B32, sas.SAS_B256),
        cache_ttl=NEVER,
        client_id=b"",
        passive=False,
        hello_retries=T1_RETRIES,
        handshake_timeout=30000,
    ):
        if not agreements or not auth_tags or not sas_types:
            raise ZrtpLocalError("offer at least one key agreement, auth tag and SAS type")
        for a in agreements:
            if a not in dh.PV_LEN:
                raise ZrtpLocalError("unsupported key agreement %r" % (a,))
        for a in auth_tags:
            if a not in SRTP_SUITES:
                raise ZrtpLocalError("unsupported auth tag %r" % (a,))
        self.agreements = tuple(agreements)
        self.auth_tags = tuple(auth_tags)
        self.sas_types = tuple((s + "   ")[:4] for s in sas_types)
        for s in self.sas_types:
            if s not in (sas.SAS_B32, sas.SAS_B256):
                raise ZrtpLocalError("unsupported SAS type %r" % (s,))
        self.cache_ttl = cache_ttl
        # No product or version string by default (privacy: no identifiers).
        self.client_id = (bytes(client_id) + b" " * 16)[:16]
        self.passive = passive
        self.hello_retries = hello_retries
        self.handshake_timeout = handshake_timeout


def _common(ours, theirs, mandatory=()):
    """Our entries that the peer lists or that every ZRTP endpoint must
    support, in our order."""
    out = []
    for a in ours:
        if a in theirs or a in mandatory:
            out.append(a)
    return out


def choose_agreement(ours, theirs):
    """RFC 6189 §4.1.2: each side's first choice from the intersection;
    the faster of the two wins, so both sides pick the same one."""
    mine = _common(ours, theirs, (dh.KA_DH3K,))
    peer = [a for a in theirs if a in ours]
    if dh.KA_DH3K in ours and dh.KA_DH3K not in peer:
        peer.append(dh.KA_DH3K)  # implicitly supported by every endpoint
    if not mine or not peer:
        return None
    a, b = mine[0], peer[0]
    return a if dh.SPEED_RANK[a] <= dh.SPEED_RANK[b] else b


class _Retransmit:
    def __init__(self, message, now, first, cap, retries):
        self.message = message
        self.interval = first
        self.deadline = now + first
        self.cap = cap
        self.left = retries


class ZrtpEngine:
    def __init__(self, cache, random_bytes, config=None, keypool=None, wall_time_s=0, peer_hello_hash=None):
        self._cache = cache
        self._random = random_bytes
        self.config = config if config is not None else ZrtpConfig()
        self._pool = keypool if keypool is not None else KeyPool(random_bytes, {})
        self._wall = wall_time_s
        self.zid = cache.zid
        self._h = kdf.hash_chain(random_bytes(32))
        r = random_bytes(6)
        self._ssrc = (r[0] << 24) | (r[1] << 16) | (r[2] << 8) | r[3]
        # Some peers (bzrtp) drop a sequence number lower than the last
        # one seen: start in the lower half so 16 bits never wrap.
        self._seq = ((r[4] << 8) | r[5]) & 0x7FFF
        cfg = self.config
        self._hello = packets.build_hello(
            cfg.client_id,
            self._h[3],
            self.zid,
            (HASH_S256,),
            (CIPHER_AES1,),
            cfg.auth_tags,
            cfg.agreements,
            cfg.sas_types,
            self._h[2],
        )
        self.state = IDLE
        self.role = None
        self.stats = {"crc": 0, "malformed": 0, "ignored": 0, "retransmits": 0, "sent": 0, "received": 0}
        self._out = []
        self._events = []
        self._rtx = None
        self._guard = None
        self._expected_hello_hash = None
        if peer_hello_hash is not None:
            self.set_peer_hello_hash(peer_hello_hash)
        self._peer_hello = None
        self._got_hello_ack = False
        self._keypair = None
        self._error_sent = None
        # Per exchange.
        self._commit = None  # the Commit in force (ours or the peer's), raw
        self._peer_commit = None
        self._hvi = None
        self._dhpart1 = None  # Message
        self._dhpart2 = None  # Message (the peer's) or raw (ours)
        self._my_dhpart2 = None
        self._confirm2_raw = None
        self._algos = None  # (auth tag, agreement, sas type)
        self._keys = None
        self._s1_matched = False
        self._mismatch = False
        self._peer_flags = 0
        self._peer_expiry = NEVER
        self._pending_rs1 = None
        self.sas = None
        self.verified = False

    def __repr__(self):
        return "<ZrtpEngine %s %s>" % (self.state, self.role)

    # -- the app's side ----------------------------------------------------

    def hello_hash(self):
        """Our a=zrtp-hash value (RFC 6189 §8.1): version and the hex
        SHA-256 of our Hello message."""
        import binascii

        return "1.10 " + binascii.hexlify(sha256(self._hello)).decode()

    def set_peer_hello_hash(self, value):
        """The a=zrtp-hash from the peer's SDP; False if unusable (then the
        Hello is not checked against the signalling)."""
        import binascii

        try:
            version, digest = value.strip().split()
            digest = binascii.unhexlify(digest)
        except (ValueError, AttributeError):
            return False
        if not version.startswith("1.1") or len(digest) != 32:
            return False
        self._expected_hello_hash = digest
        if self._peer_hello is not None and sha256(self._peer_hello.raw) != digest:
            self._hello_hash_mismatch(self._peer_hello.raw)
        return True

    def start(self, now):
        if self.state != IDLE:
            raise ZrtpLocalError("ZRTP engine already started")
        self.state = DISCOVERY
        self._send(self._hello)
        self._rtx = _Retransmit(self._hello, now, T1_FIRST, T1_CAP, self.config.hello_retries)
        self._guard = now + self.config.handshake_timeout

    def datagrams_to_send(self):
        out = self._out
        if not out:
            return ()  # the usual case once secure: no new list every 20 ms tick
        self._out = []
        return out

    def next_event(self):
        if self._events:
            return self._events.pop(0)
        return None

    def get_timer(self):
        deadline = None
        if self._rtx is not None:
            deadline = self._rtx.deadline
        if self._guard is not None and (deadline is None or self._guard < deadline):
            deadline = self._guard
        return deadline

    def handle_timer(self, now):
        rtx = self._rtx
        if rtx is not None and now >= rtx.deadline:
            if rtx.left <= 0:
                self._rtx = None
                if rtx.message is self._hello:
                    self._fail(events.E_TIMEOUT, "no ZRTP answer to Hello", send_error=False)
                else:
                    self._fail(events.E_TIMEOUT, "ZRTP peer stopped answering", send_error=False)
                return
            self._send(rtx.message)
            self.stats["retransmits"] += 1
            rtx.left -= 1
            rtx.interval = min(rtx.interval * 2, rtx.cap)
            rtx.deadline = now + rtx.interval
        if self._guard is not None and now >= self._guard:
            self._fail(events.E_TIMEOUT, "ZRTP handshake timed out", send_error=False)

    def srtp_received(self, now):
        """The app authenticated an SRTP packet from the responder with the
        pending keys: for the initiator that counts as Conf2ACK (§4.6)."""
        if self.state == WAIT_CONF2ACK:
            self._go_secure()

    def pending_secure(self):
        """The initiator's keys while it waits for Conf2ACK (to recognise
        the responder's first SRTP packet), else None."""
        if self.state == WAIT_CONF2ACK:
            return self._secure_event()
        return None

    def set_verified(self, verified):
        """The user compared the SAS: True confirms it, False rejects or
        clears it. Confirming also performs a cache update that a key
        change had held back (§4.6.1.1)."""
        if self.state != SECURE:
            raise ZrtpLocalError("no secure ZRTP session to verify")
        peer = self._peer_hello.zid
        if verified and self._pending_rs1 is not None:
            self._rotate_cache(True)
        else:
            self._cache.set_verified(peer, verified)
        self.verified = bool(verified)

    # -- receiving ---------------------------------------------------------

    def receive(self, datagram, now):
        """One ZRTP datagram from the peer (see packets.is_zrtp)."""
        try:
            _, ssrc, raw = packets.parse_packet(datagram)
            m = packets.parse_message(raw)
        except ZrtpCrcError:
            self.stats["crc"] += 1
            return
        except ZrtpParseError:
            self.stats["malformed"] += 1
            return
        self.stats["received"] += 1
        if self.state == IDLE:
            self.stats["ignored"] += 1
            return
        kind = m.kind
        try:
            if kind == packets.PING:
                self._send(packets.build_ping_ack(self.zid[:8], m.endpoint_hash, ssrc))
            elif kind == packets.ERROR:
                self._on_error(m)
            elif kind == packets.ERROR_ACK:
                pass
            elif self.state == FAILED:
                if self._error_sent is not None:
                    self._send(self._error_sent)  # the peer missed our Error
            elif kind == packets.HELLO:
                self._on_hello(m, now)
            elif kind == packets.HELLO_ACK:
                self._on_hello_ack(now)
            elif kind == packets.COMMIT:
                self._on_commit(m, now)
            elif kind == packets.DHPART1:
                self._on_dhpart1(m, now)
            elif kind == packets.DHPART2:
                self._on_dhpart2(m, now)
            elif kind == packets.CONFIRM1:
                self._on_confirm1(m, now)
            elif kind == packets.CONFIRM2:
                self._on_confirm2(m, now)
            elif kind == packets.CONF2ACK:
                if self.state == WAIT_CONF2ACK:
                    self._go_secure()
            else:
                self.stats["ignored"] += 1
        except ZrtpParseError:
            self.stats["malformed"] += 1

    def _ignore(self):
        self.stats["ignored"] += 1

    def _on_error(self, m):
        self._send(packets.build_simple(packets.ERROR_ACK))
        if self.state not in (SECURE, FAILED):
            self._fail(m.code, "the peer sent ZRTP Error 0x%x" % m.code, send_error=False, by_peer=True)

    def _on_hello(self, m, now):
        if self._peer_hello is not None:
            if m.raw == self._peer_hello.raw:
                self._send(packets.build_simple(packets.HELLO_ACK))
            else:
                self._ignore()
            return
        if m.version[:3] != packets.VERSION[:3]:
            if m.version[:3] > packets.VERSION[:3]:
                self._ignore()  # a newer peer steps down to us (§4.1.1)
            else:
                self._fail(events.E_VERSION, "unsupported ZRTP version")
            return
        if m.zid == self.zid:
            self._fail(events.E_EQUAL_ZID, "the peer uses our ZID")
            return
        if self._expected_hello_hash is not None and sha256(m.raw) != self._expected_hello_hash:
            self._hello_hash_mismatch(m.raw)
            return
        self._peer_hello = m
        self._send(packets.build_simple(packets.HELLO_ACK))
        self._maybe_commit(now)

    def _hello_hash_mismatch(self, raw):
        self._events.append(events.ZrtpHelloHashMismatch(self._expected_hello_hash, sha256(raw)))
        self._fail(events.E_HELLO_MISMATCH, "the peer's Hello does not match a=zrtp-hash", send_error=False)

    def _on_hello_ack(self, now):
        if self.state != DISCOVERY:
            return
        self._got_hello_ack = True
        if self._rtx is not None and self._rtx.message is self._hello:
            self._rtx = None
        self._maybe_commit(now)

    # -- initiator ---------------------------------------------------------

    def _maybe_commit(self, now):
        if self.state != DISCOVERY or self._peer_hello is None or not self._got_hello_ack or self.config.passive:
            return
        peer = self._peer_hello
        cfg = self.config
        agreement = choose_agreement(cfg.agreements, peer.agreements)
        if agreement is None:
            self._fail(events.E_AGREEMENT, "no key agreement in common")
            return
        auth = _common(cfg.auth_tags, peer.auth_tags, (AUTH_HS32, AUTH_HS80))[0]
        sas_common = _common(cfg.sas_types, peer.sas_types, (sas.SAS_B32,))
        sas_type = sas_common[0] if sas_common else sas.SAS_B32
        self._algos = (auth, agreement, sas_type)
        self._keypair = self._pool.take(agreement)
        rs1, rs2 = self._live_secrets()
        h0, h1, h2, _ = self._h
        self._my_dhpart2 = packets.build_dhpart(
            packets.DHPART2,
            h1,
            self._secret_id(rs1, _ROLE_I),
            self._secret_id(rs2, _ROLE_I),
            self._random(8),  # no auxsecret
            self._random(8),  # no pbxsecret
            self._keypair.public,
            h0,
        )
        self._hvi = sha256(self._my_dhpart2 + peer.raw)
        self._commit = packets.build_commit(h2, self.zid, HASH_S256, CIPHER_AES1, auth, agreement, sas_type, self._hvi, h1)
        self.role = INITIATOR
        self.state = COMMIT_SENT
        self._send(self._commit)
        self._rtx = _Retransmit(self._commit, now, T2_FIRST, T2_CAP, T2_RETRIES)

    def _on_dhpart1(self, m, now):
        if self.state != COMMIT_SENT:
            self._ignore()  # a repeat, or not for us
            return
        peer = self._peer_hello
        h2 = sha256(m.h1)
        if sha256(h2) != peer.h3:
            self._ignore()  # not from the owner of the Hello: forged
            return
        if not packets.mac_ok(peer.raw, h2):
            self._fail(events.E_CONFIRM_MAC, "the peer's Hello was altered in transit")
            return
        dh_result = self._agree(m, "DHPart1")
        if dh_result is None:
            return
        rs1, rs2 = self._live_secrets()
        ids = (m.rs1_id, m.rs2_id)
        s1 = None
        if rs1 is not None and self._secret_id(rs1, _ROLE_R) in ids:
            s1 = rs1
        elif rs2 is not None and self._secret_id(rs2, _ROLE_R) in ids:
            s1 = rs2
        self._dhpart1 = m
        self._derive(dh_result, self.zid, peer.zid, peer.raw, self._commit, m.raw, self._my_dhpart2, s1, rs1)
        self.state = WAIT_CONFIRM1
        self._send(self._my_dhpart2)
        self._rtx = _Retransmit(self._my_dhpart2, now, T2_FIRST, T2_CAP, T2_RETRIES)

    def _accept_confirm(self, m, mac_key, zrtp_key, dhpart, dhpart_name):
        """Open a Confirm and check that its H0 is the preimage of the peer's
        DHPart (H1 and MAC); keep the peer's flags and cache expiry."""
        h0, flags, expiry = self._open_confirm(m, mac_key, zrtp_key)
        if h0 is None:
            return False
        if sha256(h0) != dhpart.h1 or not packets.mac_ok(dhpart.raw, h0):
            self._fail(events.E_CONFIRM_MAC, dhpart_name + " does not match its hash image")
            return False
        self._peer_flags = flags
        self._peer_expiry = expiry
        return True

    def _on_confirm1(self, m, now):
        if self.state != WAIT_CONFIRM1:
            self._ignore()
            return
        k = self._keys
        if not self._accept_confirm(m, k.mac_key_r, k.zrtp_key_r, self._dhpart1, "DHPart1"):
            return
        self._confirm2_raw = self._build_confirm(packets.CONFIRM2, k.mac_key_i, k.zrtp_key_i)
        self.state = WAIT_CONF2ACK
        self._send(self._confirm2_raw)
        self._rtx = _Retransmit(self._confirm2_raw, now, T2_FIRST, T2_CAP, T2_RETRIES)

    # -- responder ---------------------------------------------------------

    def _on_commit(self, m, now):
        if self.state == WAIT_DHPART2 and m.raw == self._peer_commit.raw:
            self._send(self._dhpart1_raw)  # our DHPart1 was lost
            return
        if self.state not in (DISCOVERY, COMMIT_SENT):
            self._ignore()
            return
        peer = self._peer_hello
        if peer is None or sha256(m.h2) != peer.h3 or m.zid != peer.zid:
            self._ignore()  # no Hello yet (it will be repeated), or forged
            return
        if not packets.mac_ok(peer.raw, m.h2):
            self._fail(events.E_CONFIRM_MAC, "the peer's Hello was altered in transit")
            return
        if self.state == COMMIT_SENT:
            # Commit contention (§4.2): the larger hvi is the initiator.
            if m.hvi is None or m.hvi < self._hvi:
                self._ignore()
                return
            self._rtx = None
        cfg = self.config
        if m.hash_type != HASH_S256:
            self._fail(events.E_HASH, "hash type %s not supported" % m.hash_type)
        elif m.cipher != CIPHER_AES1:
            self._fail(events.E_CIPHER, "cipher %s not supported" % m.cipher)
        elif m.auth_tag not in cfg.auth_tags:
            self._fail(events.E_AUTH_TAG, "SRTP auth tag %s not supported" % m.auth_tag)
        elif m.agreement not in cfg.agreements:
            self._fail(events.E_AGREEMENT, "key agreement %s not supported" % m.agreement)
        elif m.sas_type not in cfg.sas_types:
            self._fail(events.E_SAS, "SAS type %s not supported" % m.sas_type)
        elif m.hvi is None:
            self._fail(events.E_MALFORMED, "DH Commit of the wrong length")
        else:
            self._become_responder(m)

    def _become_responder(self, m):
        self._got_hello_ack = True  # a Commit acknowledges our Hello
        if self._rtx is not None and self._rtx.message is self._hello:
            self._rtx = None
        if self._keypair is None or self._keypair.agreement != m.agreement:
            self._keypair = self._pool.take(m.agreement)
        self._algos = (m.auth_tag, m.agreement, m.sas_type)
        self._peer_commit = m
        self._commit = m.raw
        rs1, rs2 = self._live_secrets()
        h0, h1, _, _ = self._h
        self._dhpart1_raw = packets.build_dhpart(
            packets.DHPART1,
            h1,
            self._secret_id(rs1, _ROLE_R),
            self._secret_id(rs2, _ROLE_R),
            self._random(8),
            self._random(8),
            self._keypair.public,
            h0,
        )
        self.role = RESPONDER
        self.state = WAIT_DHPART2
        self._send(self._dhpart1_raw)

    def _on_dhpart2(self, m, now):
        if self.state == WAIT_CONFIRM2 and m.raw == self._dhpart2.raw:
            self._send(self._confirm1_raw)  # our Confirm1 was lost
            return
        if self.state != WAIT_DHPART2:
            self._ignore()
            return
        commit = self._peer_commit
        if sha256(m.h1) != commit.h2:
            self._ignore()  # forged: wrong hash image
            return
        if not packets.mac_ok(commit.raw, m.h1):
            self._fail(events.E_CONFIRM_MAC, "the Commit was altered in transit")
            return
        if sha256(m.raw + self._hello) != commit.hvi:
            self._fail(events.E_DH_HVI, "DHPart2 does not match the Commit's hash commitment")
            return
        dh_result = self._agree(m, "DHPart2")
        if dh_result is None:
            return
        rs1, rs2 = self._live_secrets()
        # s1 is the initiator's rs1 if it matches our rs1 or rs2, else its
        # rs2 if that matches either (§4.3).
        s1 = None
        for received in (m.rs1_id, m.rs2_id):
            if rs1 is not None and received == self._secret_id(rs1, _ROLE_I):
                s1 = rs1
            elif rs2 is not None and received == self._secret_id(rs2, _ROLE_I):
                s1 = rs2
            if s1 is not None:
                break
        self._dhpart2 = m
        peer = self._peer_hello
        self._derive(dh_result, peer.zid, self.zid, self._hello, commit.raw, self._dhpart1_raw, m.raw, s1, rs1)
        k = self._keys
        self._confirm1_raw = self._build_confirm(packets.CONFIRM1, k.mac_key_r, k.zrtp_key_r)
        self.state = WAIT_CONFIRM2
        self._send(self._confirm1_raw)

    def _on_confirm2(self, m, now):
        if self.state == SECURE and self.role == RESPONDER and m.raw == self._confirm2_raw:
            self._send(packets.build_simple(packets.CONF2ACK))  # our Conf2ACK was lost
            return
        if self.state != WAIT_CONFIRM2:
            self._ignore()
            return
        k = self._keys
        if not self._accept_confirm(m, k.mac_key_i, k.zrtp_key_i, self._dhpart2, "DHPart2"):
            return
        self._confirm2_raw = m.raw
        self._send(packets.build_simple(packets.CONF2ACK))
        self._go_secure()

    # -- shared steps ------------------------------------------------------

    def _agree(self, m, name):
        """The DH result with the public value of DHPart `m` (`name` for
        the error), or None once the exchange has failed."""
        if len(m.pv) != dh.PV_LEN[self._algos[1]]:
            self._fail(events.E_MALFORMED, "%s public value has the wrong size" % name)
            return None
        try:
            return self._keypair.shared(m.pv)
        except ZrtpDhError as e:
            self._fail(events.E_DH_BAD_PV, str(e))
            return None

    def _live_secrets(self):
        entry = self._cache.lookup(self._peer_hello.zid)
        if entry is None:
            return None, None
        return entry.live_secrets(self._wall)

    def _secret_id(self, secret, role):
        # An absent secret gets a random ID so it cannot match (§4.3).
        if secret is None:
            return self._random(8)
        return kdf.secret_id(secret, role)

    def _derive(self, dh_result, zidi, zidr, hello_r, commit, dhpart1, dhpart2, s1, rs1):
        thash = kdf.total_hash(hello_r, commit, dhpart1, dhpart2)
        context = zidi + zidr + thash
        s0 = kdf.s0_dh(dh_result, zidi, zidr, thash, s1)
        self._keys = kdf.SessionKeys(s0, context, AES1_KEY_LEN)
        self._s1_matched = s1 is not None
        # A mismatch: we hold an rs1 for this peer but nothing matched.
        self._mismatch = rs1 is not None and s1 is None

    def _local_verified(self):
        if not self._s1_matched:
            return False
        entry = self._cache.lookup(self._peer_hello.zid)
        return entry is not None and entry.verified

    def _build_confirm(self, kind, mac_key, zrtp_key):
        flags = packets.FLAG_V if self._local_verified() else 0
        iv = self._random(16)
        plain = packets.confirm_plaintext(self._h[0], flags, self.config.cache_ttl)
        encrypted = cfb_encrypt(zrtp_key, iv, plain)
        return packets.build_confirm(kind, kdf.mac64(mac_key, encrypted), iv, encrypted)

    def _open_confirm(self, m, mac_key, zrtp_key):
        """(H0, flags, cache expiry) of an authentic Confirm, else fails
        the exchange and returns (None, 0, 0)."""
        if not compare_digest(kdf.mac64(mac_key, m.encrypted), m.confirm_mac):
            self._fail(events.E_CONFIRM_MAC, "bad Confirm MAC")
            return None, 0, 0
        try:
            return packets.parse_confirm_plaintext(cfb_decrypt(zrtp_key, m.iv, m.encrypted))
        except ZrtpParseError as e:
            self._fail(events.E_MALFORMED, str(e))
            return None, 0, 0

    def _secure_event(self):
        auth, agreement, sas_type = self._algos
        k = self._keys
        if self.role == INITIATOR:
            tx = (k.srtp_key_i, k.srtp_salt_i)
            rx = (k.srtp_key_r, k.srtp_salt_r)
        else:
            tx = (k.srtp_key_r, k.srtp_salt_r)
            rx = (k.srtp_key_i, k.srtp_salt_i)
        return events.ZrtpSecure(
            self.sas,
            sas_type.strip(),
            self.verified,
            SRTP_SUITES[auth],
            tx[0],
            tx[1],
            rx[0],
            rx[1],
            self._peer_hello.zid,
            agreement,
            self._s1_matched,
        )

    def _go_secure(self):
        self._rtx = None
        self._guard = None
        self.state = SECURE
        local_verified = self._local_verified()
        self.verified = local_verified and bool(self._peer_flags & packets.FLAG_V)
        self.sas = sas.render(self._algos[2], self._keys.sas_value)
        self._pending_rs1 = self._keys.new_rs1
        if self._mismatch:
            # Keys changed: warn, and update the cache only once the user
            # has compared the SAS (set_verified(True)).
            self._events.append(events.ZrtpCacheMismatch(self._peer_hello.zid))
        else:
            self._rotate_cache(local_verified)
        self._events.append(self._secure_event())

    def _rotate_cache(self, verified):
        interval = min(self.config.cache_ttl, self._peer_expiry)
        self._cache.rotate(self._peer_hello.zid, self._pending_rs1, interval, self._wall, verified)
        self._pending_rs1 = None

    def _send(self, message):
        self._out.append(packets.build_packet(self._seq, self._ssrc, message))
        self._seq = (self._seq + 1) & 0xFFFF
        self.stats["sent"] += 1

    def _fail(self, code, reason, send_error=True, by_peer=False):
        if self.state == FAILED:
            return
        self.state = FAILED
        self._rtx = None
        self._guard = None
        self._keys = None
        self._pending_rs1 = None
        if send_error:
            self._error_sent = packets.build_error(code)
            self._send(self._error_sent)
        self._events.append(events.ZrtpFailed(code, reason, by_peer))
