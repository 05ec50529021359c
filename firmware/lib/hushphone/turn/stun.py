# STUN messages (RFC 8489) as a TURN client (RFC 8656) needs them: the
# header and TLV attributes, XOR'd addresses (IPv4/IPv6), ERROR-CODE,
# MESSAGE-INTEGRITY (HMAC-SHA1) with the long-term credential key and
# FINGERPRINT (CRC-32). Sans-IO: bytes in, bytes out. Checked against the
# RFC 5769 test vectors on both runtimes.
#
# Addresses are (ip, port) with ip as bytes (4 or 16); ip_text/ip_bytes
# convert. Passwords are used as given (no SASLprep/OpaqueString: ASCII
# credentials are the same before and after it).
import binascii
import hashlib
import struct

from hushphone.crypto.hmac import Hmac

MAGIC = 0x2112A442
_MAGIC_BYTES = b"\x21\x12\xa4\x42"
HEADER = 20
_FP_XOR = 0x5354554E

# Methods (RFC 8489, RFC 8656).
BINDING = 0x001
ALLOCATE = 0x003
REFRESH = 0x004
SEND = 0x006
DATA = 0x007
CREATE_PERMISSION = 0x008
CHANNEL_BIND = 0x009

# Classes.
REQUEST = 0x000
INDICATION = 0x010
SUCCESS = 0x100
ERROR = 0x110

# Attributes.
MAPPED_ADDRESS = 0x0001
USERNAME = 0x0006
MESSAGE_INTEGRITY = 0x0008
ERROR_CODE = 0x0009
UNKNOWN_ATTRIBUTES = 0x000A
CHANNEL_NUMBER = 0x000C
LIFETIME = 0x000D
XOR_PEER_ADDRESS = 0x0012
DATA_ATTR = 0x0013
REALM = 0x0014
NONCE = 0x0015
XOR_RELAYED_ADDRESS = 0x0016
REQUESTED_TRANSPORT = 0x0019
DONT_FRAGMENT = 0x001A
XOR_MAPPED_ADDRESS = 0x0020
SOFTWARE = 0x8022
FINGERPRINT = 0x8028

UDP = 17  # REQUESTED-TRANSPORT protocol number
_MAX_ATTRS = 64  # a datagram of STUN has few: more is garbage


class StunError(ValueError):
    """Not a well-formed STUN message (or a bad attribute value)."""


def message_type(method, cls):
    return (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) | cls


def split_type(value):
    """(method, class) of a message type."""
    cls = value & 0x0110
    method = (value & 0x000F) | ((value >> 1) & 0x0070) | ((value >> 2) & 0x0F80)
    return method, cls


def is_stun(data):
    """A STUN message (not ChannelData, not RTP): first two bits 0, the
    magic cookie, a length that is a multiple of 4."""
    return len(data) >= HEADER and data[0] < 0x40 and data[4:8] == _MAGIC_BYTES and data[3] & 3 == 0


def long_term_key(username, realm, password):
    """MD5(username ":" realm ":" password) (RFC 8489 §9.2.2)."""
    return hashlib.md5(("%s:%s:%s" % (username, realm, password)).encode()).digest()


def _crc32(data):
    return binascii.crc32(data) & 0xFFFFFFFF


# -- addresses ------------------------------------------------------------------


def ip_bytes(text):
    """"192.0.2.1" or an IPv6 text -> 4 or 16 bytes (StunError if neither)."""
    if ":" not in text:
        parts = text.split(".")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise StunError("bad IPv4 address")
        if len(values) != 4 or [v for v in values if not 0 <= v <= 255]:
            raise StunError("bad IPv4 address")
        return bytes(values)
    if text.count("::") > 1:
        raise StunError("bad IPv6 address")
    head, _, tail = text.partition("::")
    h = [g for g in head.split(":") if g] if head else []
    t = [g for g in tail.split(":") if g] if tail else []
    if "::" not in text and len(h) != 8 or len(h) + len(t) > 8:
        raise StunError("bad IPv6 address")
    groups = h + ["0"] * (8 - len(h) - len(t)) + t
    out = bytearray()
    for g in groups:
        try:
            v = int(g, 16)
        except ValueError:
            raise StunError("bad IPv6 address")
        if not 0 <= v <= 0xFFFF or len(g) > 4:
            raise StunError("bad IPv6 address")
        out += struct.pack("!H", v)
    return bytes(out)


def ip_text(ip):
    if len(ip) == 4:
        return "%d.%d.%d.%d" % (ip[0], ip[1], ip[2], ip[3])
    return ":".join("%x" % ((ip[i] << 8) | ip[i + 1]) for i in range(0, 16, 2))


def encode_xor_address(addr, txid):
    ip, port = addr
    family = 1 if len(ip) == 4 else 2
    mask = _MAGIC_BYTES + (txid if family == 2 else b"")
    x = bytes(b ^ m for b, m in zip(ip, mask))
    return struct.pack("!BBH", 0, family, port ^ (MAGIC >> 16)) + x


def decode_xor_address(value, txid):
    if len(value) < 8:
        raise StunError("short address")
    family = value[1]
    port = struct.unpack("!H", value[2:4])[0] ^ (MAGIC >> 16)
    if family == 1 and len(value) == 8:
        ip = bytes(b ^ m for b, m in zip(value[4:8], _MAGIC_BYTES))
    elif family == 2 and len(value) == 20:
        ip = bytes(b ^ m for b, m in zip(value[4:20], _MAGIC_BYTES + txid))
    else:
        raise StunError("bad address family")
    return ip, port


def encode_error(code, reason):
    return struct.pack("!HBB", 0, code // 100, code % 100) + reason.encode()


def decode_error(value):
    """(code, reason) of an ERROR-CODE value."""
    if len(value) < 4:
        raise StunError("short ERROR-CODE")
    return (value[2] & 7) * 100 + value[3], bytes(value[4:]).decode("utf-8", "replace")


# -- messages ---------------------------------------------------------------------


class Message:
    """method, cls, txid (12 bytes), attrs: [(type, value bytes)] in order.
    A decoded message keeps its raw bytes to check MESSAGE-INTEGRITY and
    FINGERPRINT (integrity_at / fingerprint_at: offsets of those
    attributes, or None)."""

    def __init__(self, method, cls, txid, attrs=None):
        self.method = method
        self.cls = cls
        self.txid = bytes(txid)
        self.attrs = attrs if attrs is not None else []
        self.raw = None
        self.integrity_at = None
        self.fingerprint_at = None

    def add(self, kind, value):
        self.attrs.append((kind, bytes(value)))
        return self

    def get(self, kind):
        for k, v in self.attrs:
            if k == kind:
                return v
        return None

    def xor_address(self, kind):
        v = self.get(kind)
        return decode_xor_address(v, self.txid) if v is not None else None

    def error(self):
        v = self.get(ERROR_CODE)
        return decode_error(v) if v is not None else None

    def encode(self, key=None, fingerprint=False, pad=b"\0"):
        """The message; with `key`, MESSAGE-INTEGRITY (HMAC-SHA1) after the
        attributes; then FINGERPRINT if asked. `pad`: the padding byte
        (any value is allowed; RFC 5769's samples use spaces)."""
        body = bytearray()
        for kind, value in self.attrs:
            if kind in (MESSAGE_INTEGRITY, FINGERPRINT):
                continue
            body += struct.pack("!HH", kind, len(value)) + value
            if len(value) % 4:
                body += pad * (4 - len(value) % 4)
        head = struct.pack("!HH", message_type(self.method, self.cls), 0) + _MAGIC_BYTES + self.txid
        if key is not None:
            length = len(body) + 24
            mac = Hmac(key).digest(struct.pack("!HH", message_type(self.method, self.cls), length) + head[4:],
                                   bytes(body))
            body += struct.pack("!HH", MESSAGE_INTEGRITY, 20) + mac
        if fingerprint:
            length = len(body) + 8
            crc = _crc32(struct.pack("!HH", message_type(self.method, self.cls), length) + head[4:] + body) ^ _FP_XOR
            body += struct.pack("!HHI", FINGERPRINT, 4, crc)
        return struct.pack("!HH", message_type(self.method, self.cls), len(body)) + head[4:] + body

    @staticmethod
    def decode(data):
        data = bytes(data)
        if not is_stun(data):
            raise StunError("not a STUN message")
        length = struct.unpack("!H", data[2:4])[0]
        if HEADER + length != len(data):
            raise StunError("length does not match")
        method, cls = split_type(struct.unpack("!H", data[0:2])[0])
        m = Message(method, cls, data[8:20])
        m.raw = data
        pos = HEADER
        while pos < len(data):
            if len(m.attrs) >= _MAX_ATTRS or pos + 4 > len(data):
                raise StunError("bad attributes")
            kind, size = struct.unpack("!HH", data[pos:pos + 4])
            end = pos + 4 + size
            if end > len(data):
                raise StunError("attribute overruns the message")
            if m.fingerprint_at is not None:
                raise StunError("attribute after FINGERPRINT")
            if kind == MESSAGE_INTEGRITY:
                if size != 20:
                    raise StunError("bad MESSAGE-INTEGRITY")
                m.integrity_at = pos
            elif kind == FINGERPRINT:
                if size != 4:
                    raise StunError("bad FINGERPRINT")
                m.fingerprint_at = pos
            if m.integrity_at is None or kind == MESSAGE_INTEGRITY or kind == FINGERPRINT:
                m.attrs.append((kind, data[pos + 4:end]))  # (attributes after M-I are ignored, RFC 8489 §14.5)
            pos = end + (4 - size % 4) % 4
        if pos != len(data):
            raise StunError("bad padding")
        return m

    def check_integrity(self, key):
        """Whether MESSAGE-INTEGRITY is there and right for `key`."""
        at = self.integrity_at
        if at is None or self.raw is None:
            return False
        raw = self.raw
        head = raw[0:2] + struct.pack("!H", at + 24 - HEADER) + raw[4:HEADER]
        mac = Hmac(key).digest(head, raw[HEADER:at])
        return _equal(mac, raw[at + 4:at + 24])

    def check_fingerprint(self):
        at = self.fingerprint_at
        if at is None or self.raw is None:
            return False
        raw = self.raw
        head = raw[0:2] + struct.pack("!H", at + 8 - HEADER) + raw[4:HEADER]
        crc = _crc32(head + raw[HEADER:at]) ^ _FP_XOR
        return struct.unpack("!I", raw[at + 4:at + 8])[0] == crc


def _equal(a, b):
    """Constant-time comparison of two MACs."""
    if len(a) != len(b):
        return False
    diff = 0
    for x, y in zip(a, b):
        diff |= x ^ y
    return diff == 0


# -- ChannelData (RFC 8656 §12.4) --------------------------------------------------


def is_channel_data(data):
    return len(data) >= 4 and 0x40 <= data[0] <= 0x4F


def encode_channel_data(channel, payload, stream=False):
    """ChannelData; over TCP/TLS padded to a multiple of 4 (§12.5)."""
    out = struct.pack("!HH", channel, len(payload)) + bytes(payload)
    if stream and len(payload) % 4:
        out += bytes(4 - len(payload) % 4)
    return out


def decode_channel_data(data):
    """(channel, payload) of a ChannelData datagram."""
    if not is_channel_data(data):
        raise StunError("not ChannelData")
    channel, size = struct.unpack("!HH", data[0:4])
    if 4 + size > len(data):
        raise StunError("ChannelData shorter than its length")
    return channel, bytes(data[4:4 + size])


def frame_length(buffer):
    """For TURN over TCP/TLS: the length of the first whole frame (STUN
    message or padded ChannelData) at the start of `buffer`, 0 if more
    bytes are needed; StunError for garbage."""
    if len(buffer) < 4:
        return 0
    size = struct.unpack("!H", buffer[2:4])[0]
    if buffer[0] < 0x40:
        need = HEADER + size
    elif buffer[0] <= 0x4F:
        need = 4 + size + (4 - size % 4) % 4
    else:
        raise StunError("neither STUN nor ChannelData on the stream")
    return need if len(buffer) >= need else 0
