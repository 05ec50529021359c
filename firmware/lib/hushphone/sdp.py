# SDP (RFC 4566) parsing and serialisation, SDES crypto attributes
# (RFC 4568, RFC 6188 for AES-256), and offer/answer (RFC 3264) for the one
# audio stream a desk phone uses: PCMU/PCMA, telephone-event, RTP/SAVP with
# a=crypto or RTP/AVP with a=zrtp-hash (ZRTP keys itself in-band), direction
# attributes for hold/resume, ptime and rtcp-mux.
# Sans-IO: random bytes come from the caller; nothing is logged, and no
# repr() shows key material.
import binascii

from hushphone.compat import const


class SdpError(Exception):
    """Malformed or unusable SDP (from the peer, or misuse by our code)."""


MAX_SDP_SIZE = const(8192)  # never more than one SIP message
MAX_SDP_LINES = const(256)

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
# Static RTP payload types (RFC 3551) we may meet without an rtpmap.
STATIC_PAYLOADS = {0: ("PCMU", 8000), 3: ("GSM", 8000), 4: ("G723", 8000), 8: ("PCMA", 8000), 9: ("G722", 8000), 18: ("G729", 8000)}
# SDES suites: name -> master key + salt length in octets (RFC 4568 §6.2,
# RFC 6188 §7.1).
SUITE_KEY_LENGTHS = {
    "AES_CM_128_HMAC_SHA1_80": 30,
    "AES_CM_128_HMAC_SHA1_32": 30,
    "AES_192_CM_HMAC_SHA1_80": 38,
    "AES_192_CM_HMAC_SHA1_32": 38,
    "AES_256_CM_HMAC_SHA1_80": 46,
    "AES_256_CM_HMAC_SHA1_32": 46,
    "F8_128_HMAC_SHA1_80": 30,
}
DEFAULT_SUITES = ("AES_CM_128_HMAC_SHA1_80", "AES_256_CM_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AES_256_CM_HMAC_SHA1_32")
DTMF_CODEC = "telephone-event"

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_DIGITS = "0123456789"
_HEX = "0123456789abcdefABCDEF"
_TOKEN = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`{|}~"


# Character classes are tested with str.strip(chars): one C-level pass on
# both runtimes (see hushphone/sip/syntax.py).
def _digits(text):
    return 0 < len(text) <= 20 and not text.strip(_DIGITS)


def _uint(text, max_value, what):
    if not _digits(text) or int(text) > max_value:
        raise SdpError("bad " + what)
    return int(text)


def _token(text, what):
    if not text:
        raise SdpError("empty " + what)
    if text.strip(_TOKEN):
        raise SdpError("bad " + what)
    return text


def b64decode(text):
    """Strict base64 (binascii accepts junk characters silently)."""
    if not text:
        raise SdpError("empty base64")
    body = text.rstrip("=")
    if len(text) - len(body) > 2:
        raise SdpError("bad base64 padding")
    if body.strip(_B64):
        raise SdpError("bad base64")
    if len(body) % 4 == 1:
        raise SdpError("bad base64 length")
    padded = body + "=" * (-len(body) % 4)
    try:
        return binascii.a2b_base64(padded)
    except Exception:
        raise SdpError("bad base64")


def b64encode(data):
    return binascii.b2a_base64(data).decode().strip()


# ---- data model ----------------------------------------------------------


class Connection:
    """c=IN IP4|IP6 address"""

    def __init__(self, address, addrtype=None, nettype="IN"):
        self.nettype = nettype
        self.addrtype = addrtype or ("IP6" if ":" in address else "IP4")
        self.address = address

    def __str__(self):
        return "%s %s %s" % (self.nettype, self.addrtype, self.address)

    @staticmethod
    def parse(value):
        parts = value.split(" ")
        if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6") or not parts[2]:
            raise SdpError("bad c= line")
        return Connection(parts[2], parts[1], parts[0])


class Origin:
    """o=<username> <sess-id> <sess-version> IN IP4|IP6 <address>"""

    def __init__(self, session_id, session_version, address, username="-"):
        self.username = username
        self.session_id = session_id
        self.session_version = session_version
        self.connection = Connection(address)

    def __str__(self):
        return "%s %d %d %s" % (self.username, self.session_id, self.session_version, self.connection)

    @staticmethod
    def parse(value):
        parts = value.split(" ")
        if len(parts) != 6:
            raise SdpError("bad o= line")
        origin = Origin(_uint(parts[1], 2**64 - 1, "session id"), _uint(parts[2], 2**64 - 1, "session version"), parts[5], parts[0])
        origin.connection = Connection.parse(" ".join(parts[3:]))
        return origin


class Crypto:
    """a=crypto (RFC 4568 §9.1): tag, suite, key (master key || salt),
    lifetime (str or None), mki ((value, length) or None), session_params.
    Suites we do not know keep their key-params text in .raw_key_params."""

    def __init__(self, tag, suite, key, lifetime=None, mki=None, session_params=None):
        self.tag = tag
        self.suite = suite
        self.key = key
        self.lifetime = lifetime
        self.mki = mki
        self.session_params = list(session_params or ())
        self.raw_key_params = None

    def known(self):
        return self.suite in SUITE_KEY_LENGTHS

    def __str__(self):
        if self.raw_key_params is not None:
            key_params = self.raw_key_params
        else:
            key_params = "inline:" + b64encode(self.key)
            if self.lifetime is not None:
                key_params += "|" + self.lifetime
            if self.mki is not None:
                key_params += "|%d:%d" % self.mki
        return " ".join(["%d %s %s" % (self.tag, self.suite, key_params)] + self.session_params)

    def __repr__(self):
        # Never show the key (DESIGN: secrets never in logs).
        return "<Crypto %d %s>" % (self.tag, self.suite)

    @staticmethod
    def parse(value):
        parts = value.split()
        if len(parts) < 3:
            raise SdpError("bad crypto attribute")
        tag = _uint(parts[0], 999999999, "crypto tag")
        suite = _token(parts[1], "crypto suite")
        if suite not in SUITE_KEY_LENGTHS:
            crypto = Crypto(tag, suite, None, session_params=parts[3:])
            crypto.raw_key_params = parts[2]
            return crypto
        key_params = parts[2].split(";")
        if len(key_params) != 1:
            raise SdpError("several keys in one crypto attribute are not supported")
        kp = key_params[0]
        if not kp.startswith("inline:"):
            raise SdpError("crypto key method is not inline")
        fields = kp[7:].split("|")
        key = b64decode(fields[0])
        if len(key) != SUITE_KEY_LENGTHS[suite]:
            raise SdpError("crypto key length does not match the suite")
        lifetime = mki = None
        for field in fields[1:]:
            if ":" in field:
                if mki is not None:
                    raise SdpError("bad crypto MKI")
                value, _, length = field.partition(":")
                mki = (_uint(value, 2**128 - 1, "crypto MKI"), _uint(length, 128, "crypto MKI length"))
                if mki[1] < 1:
                    raise SdpError("bad crypto MKI length")
            else:
                if lifetime is not None or mki is not None:
                    raise SdpError("bad crypto lifetime")
                if field.startswith("2^"):
                    _uint(field[2:], 48, "crypto lifetime")
                else:
                    _uint(field, 2**48, "crypto lifetime")
                lifetime = field
        return Crypto(tag, suite, key, lifetime, mki, parts[3:])


class Media:
    """One m= section: media, port, port_count, proto, formats (list of str),
    connection, bandwidths and extra lines (i=, k=) kept as (type, value),
    attributes as [name, value or None] in order."""

    def __init__(self, media, port, proto, formats, connection=None):
        self.media = media
        self.port = port
        self.port_count = None
        self.proto = proto
        self.formats = list(formats)
        self.connection = connection
        self.info = []  # (type, value) lines: i= b= k=
        self.attributes = []

    # -- attributes
    def get(self, name, default=None):
        for n, v in self.attributes:
            if n == name:
                return v
        return default

    def get_all(self, name):
        return [v for n, v in self.attributes if n == name]

    def has(self, name):
        for n, v in self.attributes:
            if n == name:
                return True
        return False

    def add(self, name, value=None):
        self.attributes.append([name, value])

    def direction(self, session_default="sendrecv"):
        for n, v in self.attributes:
            if n in DIRECTIONS:
                return n
        return session_default

    def set_direction(self, direction):
        self.attributes = [a for a in self.attributes if a[0] not in DIRECTIONS]
        self.add(direction)

    def rtpmaps(self):
        """payload type (int) -> (encoding name, clock rate, channels).
        Malformed rtpmap lines are skipped: a bad line about a codec we do
        not use must not fail the call (RFC 4475's 'a=rtpmap:31 LPC')."""
        out = {}
        for value in self.get_all("rtpmap"):
            pt, _, rest = (value or "").partition(" ")
            fields = rest.split("/")
            if not _digits(pt) or int(pt) > 127 or len(fields) < 2 or not fields[0] or not _digits(fields[1]):
                continue
            out[int(pt)] = (fields[0], int(fields[1]), int(fields[2]) if len(fields) > 2 and _digits(fields[2]) else 1)
        return out

    def codec_of(self, fmt, rtpmaps=None):
        """(name, clock) of payload type fmt (str), or None if unknown."""
        if not _digits(fmt) or int(fmt) > 127:
            return None
        pt = int(fmt)
        maps = self.rtpmaps() if rtpmaps is None else rtpmaps
        if pt in maps:
            return maps[pt][0], maps[pt][1]
        return STATIC_PAYLOADS.get(pt)

    def cryptos(self):
        return [Crypto.parse(v or "") for v in self.get_all("crypto")]

    def zrtp_hash(self):
        """(version, hex hash) of a=zrtp-hash (RFC 6189 §8), or None."""
        value = self.get("zrtp-hash")
        if not value:
            # linphone answers an SDES call with an empty "a=zrtp-hash:":
            # no hash to bind, the same as no attribute.
            return None
        version, _, digest = value.partition(" ")
        if not version or len(digest) != 64 or digest.strip(_HEX):
            raise SdpError("bad zrtp-hash")
        return version, digest

    def ptime(self):
        value = self.get("ptime")
        if value is None:
            return None
        try:
            ms = float(value)
        except ValueError:
            raise SdpError("bad ptime")
        if not 0 < ms <= 1000:
            raise SdpError("bad ptime")
        return ms

    def lines(self):
        port = str(self.port) if self.port_count is None else "%d/%d" % (self.port, self.port_count)
        out = ["m=%s %s %s %s" % (self.media, port, self.proto, " ".join(self.formats))]
        out.extend([t + "=" + v for t, v in self.info if t == "i"])
        if self.connection is not None:
            out.append("c=%s" % self.connection)
        out.extend([t + "=" + v for t, v in self.info if t != "i"])
        for name, value in self.attributes:
            out.append("a=" + name if value is None else "a=%s:%s" % (name, value))
        return out


class SessionDescription:
    """A whole SDP body. Lines this module does not model (i, u, e, p, b, z,
    k) are kept as (type, value) and written back in RFC 4566 order; r=
    lines stay with their t= line."""

    def __init__(self, origin, name="-", connection=None):
        self.version = 0
        self.origin = origin
        self.name = name
        self.connection = connection
        self.times = [(0, 0)]
        self.repeats = []  # (index into times, r= value)
        self.extra = []
        self.attributes = []
        self.media = []

    def direction(self):
        for n, v in self.attributes:
            if n in DIRECTIONS:
                return n
        return "sendrecv"

    def audio(self):
        for m in self.media:
            if m.media == "audio":
                return m
        return None

    def to_bytes(self):
        out = ["v=0", "o=%s" % self.origin, "s=" + self.name]
        order = "iuep"
        out.extend([t + "=" + v for k in order for t, v in self.extra if t == k])
        if self.connection is not None:
            out.append("c=%s" % self.connection)
        out.extend([t + "=" + v for t, v in self.extra if t == "b"])
        for k in range(len(self.times)):
            out.append("t=%d %d" % self.times[k])
            out.extend(["r=" + v for index, v in self.repeats if index == k])
        out.extend([t + "=" + v for k in "zk" for t, v in self.extra if t == k])
        for name, value in self.attributes:
            out.append("a=" + name if value is None else "a=%s:%s" % (name, value))
        for m in self.media:
            out.extend(m.lines())
        return ("\r\n".join(out) + "\r\n").encode()

    @staticmethod
    def parse(data):
        try:
            return _parse(data)
        except SdpError:
            raise
        except Exception:
            # Bad input must never escape as another exception type.
            raise SdpError("malformed SDP")


def _parse(data):
    if not isinstance(data, (bytes, bytearray)):
        raise SdpError("SDP is not bytes")
    if len(data) > MAX_SDP_SIZE:
        raise SdpError("SDP too large")
    try:
        text = bytes(data).decode()
    except Exception:
        raise SdpError("SDP is not UTF-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) > MAX_SDP_LINES:
        raise SdpError("too many SDP lines")
    if not lines or lines[0].rstrip("\r") != "v=0":
        raise SdpError("SDP must start with v=0")
    sd = None
    media = None
    seen_t = False
    for raw in lines[1:]:
        line = raw[:-1] if raw.endswith("\r") else raw
        if len(line) < 2 or line[1] != "=" or line[0] not in "abcdefghijklmnopqrstuvwxyz" or "\r" in line:
            raise SdpError("bad SDP line")
        kind = line[0]
        value = line[2:]
        if sd is None:
            if kind != "o":
                raise SdpError("o= must follow v=")
            sd = SessionDescription(Origin.parse(value), None)
            continue
        if sd.name is None:
            if kind != "s":
                raise SdpError("s= must follow o=")
            sd.name = value
            continue
        if kind == "m":
            media = _parse_m(value)
            sd.media.append(media)
        elif kind == "c":
            conn = Connection.parse(value)
            if media is None:
                sd.connection = conn
            else:
                media.connection = conn
        elif kind == "a":
            name, sep, attr_value = value.partition(":")
            _token(name, "attribute name")
            item = [name, attr_value if sep else None]
            (sd.attributes if media is None else media.attributes).append(item)
        elif kind == "t" and media is None:
            parts = value.split(" ")
            if len(parts) != 2:
                raise SdpError("bad t= line")
            if not seen_t:
                sd.times = []
                seen_t = True
            sd.times.append((_uint(parts[0], 2**64 - 1, "time"), _uint(parts[1], 2**64 - 1, "time")))
        elif kind == "r" and media is None:
            if not seen_t:
                raise SdpError("r= before t=")
            sd.repeats.append((len(sd.times) - 1, value))
        elif kind in "iuepbzk" and (media is None or kind in "ibk"):
            (sd.extra if media is None else media.info).append((kind, value))
        else:
            raise SdpError("unexpected %s= line" % kind)
    if sd is None or sd.name is None:
        raise SdpError("SDP without o= and s=")
    for m in sd.media:
        if m.connection is None and sd.connection is None and m.port != 0:
            raise SdpError("media without connection address")
    return sd


def _parse_m(value):
    parts = value.split(" ")
    if len(parts) < 4 or not parts[0] or not parts[2]:
        raise SdpError("bad m= line")
    port, _, count = parts[1].partition("/")
    m = Media(_token(parts[0], "media"), _uint(port, 65535, "media port"), parts[2], [])
    if count:
        m.port_count = _uint(count, 65535, "port count")
    for fmt in parts[3:]:
        m.formats.append(_token(fmt, "media format"))
    return m


# ---- offer/answer (RFC 3264) ---------------------------------------------


class Negotiated:
    """Outcome of offer/answer for the audio stream, from our side:
    codec/payload_type/clock_rate we send, dtmf_payload_type, remote_addr and
    remote_port, crypto_suite with local_key/remote_key (master key||salt;
    local is what we send with, remote what the peer sends with), the peer's
    zrtp_hash ((version, hex) or None), our direction, ptime, rtcp_mux.
    rejected is True when no stream could be agreed (port 0)."""

    def __init__(self):
        self.rejected = True
        self.codec = None
        self.payload_type = None
        self.clock_rate = None
        self.dtmf_payload_type = None
        self.remote_addr = None
        self.remote_port = None
        self.crypto_suite = None
        self.crypto_tag = None
        self.local_key = None
        self.remote_key = None
        self.remote_mki = None
        self.zrtp_hash = None
        self.direction = "inactive"
        self.ptime = None
        self.rtcp_mux = False
        self.reason = None

    @property
    def encrypted_by(self):
        """"sdes", "zrtp" (to be keyed in-band) or None."""
        if self.crypto_suite is not None:
            return "sdes"
        if self.zrtp_hash is not None:
            return "zrtp"
        return None

    def __repr__(self):
        # Keys are deliberately left out.
        if self.rejected:
            return "<Negotiated rejected: %s>" % self.reason
        return "<Negotiated %s/%s %s:%s %s %s>" % (
            self.codec, self.payload_type, self.remote_addr, self.remote_port, self.encrypted_by, self.direction
        )


def _flags(direction):
    return direction in ("sendrecv", "sendonly"), direction in ("sendrecv", "recvonly")


def _direction(send, recv):
    if send and recv:
        return "sendrecv"
    if send:
        return "sendonly"
    if recv:
        return "recvonly"
    return "inactive"


def answer_direction(offered, wanted="sendrecv"):
    """RFC 3264 §6.1: we may send only if the offerer receives, and receive
    only if it sends. sendonly -> recvonly, recvonly -> sendonly,
    inactive -> inactive; 'wanted' is our own state (e.g. our hold)."""
    o_send, o_recv = _flags(offered)
    w_send, w_recv = _flags(wanted)
    return _direction(w_send and o_recv, w_recv and o_send)


def _new_session(addr, random_bytes, session_id, session_version):
    if session_id is None:
        # Random, 62 bits so it fits any peer's signed 64-bit field.
        session_id = int.from_bytes(random_bytes(8), "big") >> 2
    if session_version is None:
        session_version = session_id
    return SessionDescription(Origin(session_id, session_version, addr), "-", Connection(addr))


def _add_codecs(m, names, dtmf_pt):
    for name in names:
        if name.upper() == "PCMU":
            m.formats.append("0")
            m.add("rtpmap", "0 PCMU/8000")
        elif name.upper() == "PCMA":
            m.formats.append("8")
            m.add("rtpmap", "8 PCMA/8000")
        else:
            raise SdpError("unsupported codec " + name)
    if dtmf_pt is not None:
        m.formats.append(str(dtmf_pt))
        m.add("rtpmap", "%d telephone-event/8000" % dtmf_pt)
        m.add("fmtp", "%d 0-16" % dtmf_pt)


def build_offer(addr, port, codecs, crypto_suites, random_bytes, zrtp_hash=None, direction="sendrecv",
                session_id=None, session_version=None, ptime=20, dtmf_pt=101, rtcp_mux=False):
    """An offer for one audio stream. crypto_suites non-empty -> RTP/SAVP with
    one a=crypto per suite (tags 1..n, fresh keys from random_bytes(n));
    otherwise RTP/AVP, which answer() accepts only with ZRTP (zrtp_hash is
    the (version, hex) or "version hex" of our Hello). o= and s= carry no
    user, host or MAC: '-' and a random session id."""
    if direction not in DIRECTIONS:
        raise SdpError("bad direction")
    if not 0 < port <= 65535:
        raise SdpError("bad port")
    sd = _new_session(addr, random_bytes, session_id, session_version)
    m = Media("audio", port, "RTP/SAVP" if crypto_suites else "RTP/AVP", [])
    _add_codecs(m, codecs, dtmf_pt)
    tag = 1
    for suite in crypto_suites:
        if suite not in SUITE_KEY_LENGTHS:
            raise SdpError("unknown crypto suite " + suite)
        m.add("crypto", str(Crypto(tag, suite, bytes(random_bytes(SUITE_KEY_LENGTHS[suite])))))
        tag += 1
    if zrtp_hash is not None:
        m.add("zrtp-hash", zrtp_hash if isinstance(zrtp_hash, str) else "%s %s" % zrtp_hash)
    if ptime:
        m.add("ptime", str(ptime))
    if rtcp_mux:
        m.add("rtcp-mux")
    m.add(direction)
    sd.media.append(m)
    return sd


def _remote_addr(sd, m):
    conn = m.connection or sd.connection
    return conn.address if conn is not None else None


def _pick_codec(m, supported):
    """Offered payload types we support, in the offerer's order, split into
    (audio codecs, telephone-event pt or None)."""
    maps = m.rtpmaps()
    wanted = [c.upper() for c in supported]
    chosen = []
    dtmf = None
    for fmt in m.formats:
        codec = m.codec_of(fmt, maps)
        if codec is None:
            continue
        name, clock = codec
        if name.lower() == DTMF_CODEC and clock == 8000 and dtmf is None:
            dtmf = int(fmt)
        elif name.upper() in wanted and clock == 8000:
            chosen.append((int(fmt), name.upper()))
    return chosen, dtmf


def _acceptable_crypto(m, suites):
    """The first a=crypto in the offerer's order that we support."""
    for value in m.get_all("crypto"):
        try:
            crypto = Crypto.parse(value or "")
        except SdpError:
            continue  # RFC 4568 §7.1.1: ignore attributes we cannot use
        if crypto.known() and crypto.suite in suites and not crypto.session_params:
            return crypto
    return None


def _rejected_copy(m):
    r = Media(m.media, 0, m.proto, m.formats or ["0"])
    return r


def answer(offer, addr, port, supported_codecs, supported_suites, random_bytes, zrtp_hash=None, direction="sendrecv",
           session_id=None, session_version=None, ptime=20, dtmf=True, rtcp_mux=True, allow_plain=False):
    """Answer an offer (SessionDescription or bytes). Returns (answer SDP,
    Negotiated). Every offered m= line gets an m= line in the answer; the
    first usable audio stream is accepted, the others rejected with port 0.
    A stream is usable when a codec is common and it is protected: RTP/SAVP
    with an acceptable a=crypto, or RTP/AVP with ZRTP on both sides
    (zrtp_hash given and offered), or plain RTP only if allow_plain."""
    if not isinstance(offer, SessionDescription):
        offer = SessionDescription.parse(offer)
    sd = _new_session(addr, random_bytes, session_id, session_version)
    result = Negotiated()
    result.reason = "no audio stream"
    session_dir = offer.direction()
    for m in offer.media:
        if not result.rejected or m.media != "audio" or m.port == 0:
            sd.media.append(_rejected_copy(m))
            continue
        accepted, reason = _answer_stream(m, offer, addr, port, supported_codecs, supported_suites, random_bytes,
                                          zrtp_hash, direction, session_dir, ptime, dtmf, rtcp_mux, allow_plain, result)
        if accepted is None:
            result.reason = reason
            sd.media.append(_rejected_copy(m))
        else:
            sd.media.append(accepted)
            result.rejected = False
            result.reason = None
    return sd, result


def _answer_stream(m, offer, addr, port, codecs, suites, random_bytes, zrtp_hash, wanted, session_dir, ptime,
                   dtmf, rtcp_mux, allow_plain, result):
    if m.proto not in ("RTP/SAVP", "RTP/AVP"):
        return None, "unsupported transport " + m.proto
    chosen, dtmf_pt = _pick_codec(m, codecs)
    if not chosen:
        return None, "no common codec"
    crypto = None
    peer_zrtp = m.zrtp_hash()
    if m.proto == "RTP/SAVP":
        crypto = _acceptable_crypto(m, suites)
        if crypto is None:
            return None, "no acceptable crypto"
    elif not ((zrtp_hash is not None and peer_zrtp is not None) or allow_plain):
        return None, "unencrypted media refused"
    remote_addr = _remote_addr(offer, m)
    a = Media("audio", port, m.proto, [])
    maps = m.rtpmaps()
    for pt, name in chosen:
        a.formats.append(str(pt))
        a.add("rtpmap", "%d %s/8000" % (pt, maps[pt][0] if pt in maps else name))
    if dtmf and dtmf_pt is not None:
        a.formats.append(str(dtmf_pt))
        a.add("rtpmap", "%d telephone-event/8000" % dtmf_pt)
        a.add("fmtp", "%d 0-16" % dtmf_pt)
    else:
        dtmf_pt = None
    if crypto is not None:
        ours = Crypto(crypto.tag, crypto.suite, bytes(random_bytes(SUITE_KEY_LENGTHS[crypto.suite])))
        a.add("crypto", str(ours))
        result.crypto_suite = crypto.suite
        result.crypto_tag = crypto.tag
        result.local_key = ours.key
        result.remote_key = crypto.key
        result.remote_mki = crypto.mki
    if zrtp_hash is not None and peer_zrtp is not None:
        a.add("zrtp-hash", zrtp_hash if isinstance(zrtp_hash, str) else "%s %s" % zrtp_hash)
    if ptime:
        a.add("ptime", str(ptime))
    mux = rtcp_mux and m.has("rtcp-mux")
    if mux:
        a.add("rtcp-mux")
    our_dir = answer_direction(m.direction(session_dir), wanted)
    a.add(our_dir)
    result.codec = chosen[0][1]
    result.payload_type = chosen[0][0]
    result.clock_rate = 8000
    result.dtmf_payload_type = dtmf_pt
    result.remote_addr = remote_addr
    result.remote_port = m.port
    # Only a ZRTP both sides run counts (encrypted_by reads it).
    result.zrtp_hash = peer_zrtp if zrtp_hash is not None else None
    result.direction = our_dir
    result.ptime = m.ptime() or ptime
    result.rtcp_mux = mux
    return a, None


def process_answer(offer, answer_sdp):
    """The offerer's view of an answer to our offer: what the answerer chose
    (codec, crypto tag -> our key and theirs, direction, address).
    Raises SdpError if the answer breaks RFC 3264 (e.g. a codec or crypto
    tag we never offered)."""
    if not isinstance(answer_sdp, SessionDescription):
        answer_sdp = SessionDescription.parse(answer_sdp)
    result = Negotiated()
    if len(answer_sdp.media) != len(offer.media):
        raise SdpError("answer has a different number of m= lines")
    for om, am in zip(offer.media, answer_sdp.media):
        if om.media != "audio" or am.port == 0 or om.port == 0 or not result.rejected:
            continue
        if am.proto != om.proto:
            raise SdpError("answer changed the transport")
        offered = {}
        for fmt in om.formats:
            codec = om.codec_of(fmt)
            if codec is not None:
                offered[fmt] = codec
        maps = am.rtpmaps()
        for fmt in am.formats:
            if fmt not in offered:
                raise SdpError("answer has a payload type we did not offer")
            name = offered[fmt][0]
            if name.lower() == DTMF_CODEC:
                if result.dtmf_payload_type is None:
                    result.dtmf_payload_type = int(fmt)
            elif result.codec is None:
                result.codec = name.upper()
                result.payload_type = int(fmt)
                result.clock_rate = offered[fmt][1]
        if result.codec is None:
            raise SdpError("answer has no audio codec")
        if om.proto == "RTP/SAVP":
            cryptos = am.cryptos()
            if len(cryptos) != 1:
                raise SdpError("answer must carry exactly one crypto attribute")
            theirs = cryptos[0]
            ours = None
            for c in om.cryptos():
                if c.tag == theirs.tag:
                    ours = c
            if ours is None or ours.suite != theirs.suite or not theirs.known():
                raise SdpError("answer chose a crypto we did not offer")
            result.crypto_suite = theirs.suite
            result.crypto_tag = theirs.tag
            result.local_key = ours.key
            result.remote_key = theirs.key
            result.remote_mki = theirs.mki
        result.zrtp_hash = am.zrtp_hash() if om.has("zrtp-hash") else None
        a_send, a_recv = _flags(am.direction(answer_sdp.direction()))
        o_send, o_recv = _flags(om.direction(offer.direction()))
        result.direction = _direction(o_send and a_recv, o_recv and a_send)
        result.remote_addr = _remote_addr(answer_sdp, am)
        result.remote_port = am.port
        result.ptime = am.ptime() or om.ptime()
        result.rtcp_mux = om.has("rtcp-mux") and am.has("rtcp-mux")
        result.rejected = False
    if result.rejected:
        result.reason = "all streams rejected"
    return result
