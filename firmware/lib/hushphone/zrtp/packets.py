# ZRTP packets and messages (RFC 6189 §5): the 12-byte packet header with
# the magic cookie, the CRC-32C trailer, and the encoding and parsing of
# each message we use. Parsing checks every length, so a peer's malformed
# packet is a ZrtpParseError, never an IndexError.
import struct

from hushphone.crypto.hmac import compare_digest
from hushphone.zrtp.crc32c import crc32c
from hushphone.zrtp.errors import ZrtpCrcError, ZrtpParseError
from hushphone.zrtp.kdf import mac64

MAGIC = b"ZRTP"  # 0x5A525450
HEADER_LEN = 12
CRC_LEN = 4
PREAMBLE = b"\x50\x5a"
VERSION = b"1.10"

HELLO = b"Hello   "
HELLO_ACK = b"HelloACK"
COMMIT = b"Commit  "
DHPART1 = b"DHPart1 "
DHPART2 = b"DHPart2 "
CONFIRM1 = b"Confirm1"
CONFIRM2 = b"Confirm2"
CONF2ACK = b"Conf2ACK"
ERROR = b"Error   "
ERROR_ACK = b"ErrorACK"
PING = b"Ping    "
PING_ACK = b"PingACK "

# Confirm flag octet (RFC 6189 §4.6): E PBX enrollment, V SAS verified,
# A allow clear, D disclosure.
FLAG_E = 0x08
FLAG_V = 0x04
FLAG_A = 0x02
FLAG_D = 0x01

# Fixed message lengths in words (header word + 2-word type included).
_HELLO_FIXED_WORDS = 22  # plus one word per algorithm listed
_COMMIT_DH_WORDS = 29
_DHPART_FIXED_WORDS = 21  # plus the public value
_CONFIRM_MIN_WORDS = 19
_MAX_ALGOS = 7  # per type in a Hello


# -- packets ---------------------------------------------------------------


def is_zrtp(datagram):
    """True if a datagram on the RTP port is ZRTP: first byte 0x10 (version
    bits 00, so never RTP) and the magic cookie at offset 4 (RFC 6189 §5)."""
    return len(datagram) >= HEADER_LEN + CRC_LEN and datagram[0] == 0x10 and datagram[4:8] == MAGIC


def build_packet(seq, ssrc, message):
    head = struct.pack(">BBHI", 0x10, 0, seq & 0xFFFF, ssrc & 0xFFFFFFFF)
    body = head[:4] + MAGIC + head[4:] + message
    return body + struct.pack("<I", crc32c(body))


def parse_packet(datagram):
    """(sequence number, SSRC, message bytes); ZrtpCrcError or
    ZrtpParseError for a packet that must be dropped."""
    if not is_zrtp(datagram):
        raise ZrtpParseError("not a ZRTP packet")
    n = len(datagram)
    if n % 4:
        raise ZrtpParseError("ZRTP packet is not a whole number of words")
    body = datagram[: n - CRC_LEN]
    if crc32c(body) != struct.unpack("<I", datagram[n - CRC_LEN :])[0]:
        raise ZrtpCrcError("ZRTP CRC mismatch")
    seq = (datagram[2] << 8) | datagram[3]
    ssrc = struct.unpack(">I", datagram[8:12])[0]
    message = bytes(body[HEADER_LEN:])
    if len(message) < 12 or message[:2] != PREAMBLE:
        raise ZrtpParseError("bad ZRTP message preamble")
    words = (message[2] << 8) | message[3]
    if words * 4 != len(message):
        raise ZrtpParseError("ZRTP message length field disagrees with the packet")
    return seq, ssrc, message


def message_type(message):
    return bytes(message[4:12])


# -- building messages -------------------------------------------------------


def _head(kind, words):
    return PREAMBLE + struct.pack(">H", words) + kind


def _with_mac(body, key):
    return body + mac64(key, body)


def mac_ok(message, key):
    """Whether the MAC in the last two words of a Hello, Commit or DHPart
    message is right for `key` (checked once the key is revealed)."""
    return compare_digest(mac64(key, message[:-8]), message[-8:])


def _blocks(names):
    out = b""
    for name in names:
        if len(name) != 4:
            raise ValueError("algorithm names are 4 characters")
        out += name.encode()
    return out


def build_hello(client_id, h3, zid, hashes, ciphers, auth_tags, agreements, sas_types, h2, flags=0):
    counts = (len(hashes), len(ciphers), len(auth_tags), len(agreements), len(sas_types))
    for c in counts:
        if c > _MAX_ALGOS:
            raise ValueError("at most 7 algorithms of each type")
    words = _HELLO_FIXED_WORDS + sum(counts)
    flag_word = struct.pack(">BBBB", flags & 0x70, counts[0], (counts[1] << 4) | counts[2], (counts[3] << 4) | counts[4])
    body = (
        _head(HELLO, words)
        + VERSION
        + client_id
        + h3
        + zid
        + flag_word
        + _blocks(hashes)
        + _blocks(ciphers)
        + _blocks(auth_tags)
        + _blocks(agreements)
        + _blocks(sas_types)
    )
    return _with_mac(body, h2)


def build_simple(kind):
    """HelloACK, Conf2ACK, ErrorACK: a type block and nothing else."""
    return _head(kind, 3)


def build_commit(h2, zid, hash_type, cipher, auth_tag, agreement, sas_type, hvi, h1):
    body = _head(COMMIT, _COMMIT_DH_WORDS) + h2 + zid + _blocks((hash_type, cipher, auth_tag, agreement, sas_type)) + hvi
    return _with_mac(body, h1)


def build_dhpart(kind, h1, rs1_id, rs2_id, aux_id, pbx_id, pv, h0):
    words = _DHPART_FIXED_WORDS + len(pv) // 4
    body = _head(kind, words) + h1 + rs1_id + rs2_id + aux_id + pbx_id + pv
    return _with_mac(body, h0)


def confirm_plaintext(h0, flags, cache_expiry):
    """The part of Confirm1/2 that is encrypted: H0, signature length 0,
    flag octet, cache expiration interval."""
    return h0 + struct.pack(">HBBI", 0, 0, flags & 0x0F, cache_expiry & 0xFFFFFFFF)


def build_confirm(kind, confirm_mac, iv, encrypted):
    words = 3 + 2 + 4 + len(encrypted) // 4
    return _head(kind, words) + confirm_mac + iv + encrypted


def build_error(code):
    return _head(ERROR, 4) + struct.pack(">I", code)


def build_ping_ack(endpoint_hash, received_hash, received_ssrc):
    return _head(PING_ACK, 9) + VERSION + endpoint_hash + received_hash + struct.pack(">I", received_ssrc)


# -- parsing messages --------------------------------------------------------


class Message:
    """A parsed message: `kind` (the 8-byte type block), `raw` (the message
    bytes, as hashed into total_hash) and per-type fields."""

    def __init__(self, kind, raw):
        self.kind = kind
        self.raw = raw


def _algos(raw, at, count):
    out = []
    for i in range(count):
        out.append(raw[at + 4 * i : at + 4 * i + 4].decode())
    return tuple(out), at + 4 * count


def _need(raw, words, what):
    if len(raw) != words * 4:
        raise ZrtpParseError("%s has the wrong length" % what)


def parse_message(raw):
    """A Message from the bytes of one ZRTP message (parse_packet's third
    result). Unknown types come back with only kind and raw."""
    kind = message_type(raw)
    m = Message(kind, raw)
    try:
        if kind == HELLO:
            _parse_hello(m, raw)
        elif kind == COMMIT:
            _parse_commit(m, raw)
        elif kind == DHPART1 or kind == DHPART2:
            _parse_dhpart(m, raw)
        elif kind == CONFIRM1 or kind == CONFIRM2:
            if len(raw) < _CONFIRM_MIN_WORDS * 4:
                raise ZrtpParseError("Confirm too short")
            m.confirm_mac = raw[12:20]
            m.iv = raw[20:36]
            m.encrypted = raw[36:]
        elif kind == ERROR:
            _need(raw, 4, "Error")
            m.code = struct.unpack(">I", raw[12:16])[0]
        elif kind == PING:
            _need(raw, 6, "Ping")
            m.version = raw[12:16]
            m.endpoint_hash = raw[16:24]
    except (UnicodeError, ValueError) as e:
        raise ZrtpParseError("malformed %s: %s" % (kind, e))
    return m


def _parse_hello(m, raw):
    if len(raw) < _HELLO_FIXED_WORDS * 4:
        raise ZrtpParseError("Hello too short")
    m.version = raw[12:16]
    m.client_id = raw[16:32]
    m.h3 = raw[32:64]
    m.zid = raw[64:76]
    m.flags = raw[76] & 0x70
    hc = raw[77] & 0x0F
    cc = raw[78] >> 4
    ac = raw[78] & 0x0F
    kc = raw[79] >> 4
    sc = raw[79] & 0x0F
    for c in (hc, cc, ac, kc, sc):
        if c > _MAX_ALGOS:
            raise ZrtpParseError("Hello lists too many algorithms")
    _need(raw, _HELLO_FIXED_WORDS + hc + cc + ac + kc + sc, "Hello")
    at = 80
    m.hashes, at = _algos(raw, at, hc)
    m.ciphers, at = _algos(raw, at, cc)
    m.auth_tags, at = _algos(raw, at, ac)
    m.agreements, at = _algos(raw, at, kc)
    m.sas_types, at = _algos(raw, at, sc)


def _parse_commit(m, raw):
    if len(raw) < 12 + 32 + 12 + 20:
        raise ZrtpParseError("Commit too short")
    m.h2 = raw[12:44]
    m.zid = raw[44:56]
    m.hash_type = raw[56:60].decode()
    m.cipher = raw[60:64].decode()
    m.auth_tag = raw[64:68].decode()
    m.agreement = raw[68:72].decode()
    m.sas_type = raw[72:76].decode()
    m.hvi = None
    if len(raw) == _COMMIT_DH_WORDS * 4:
        m.hvi = raw[76:108]
    # Multistream and Preshared Commits have other lengths: the engine
    # refuses their agreement types ("Mult", "Prsh") before reading on.


def _parse_dhpart(m, raw):
    if len(raw) < (_DHPART_FIXED_WORDS + 1) * 4:
        raise ZrtpParseError("DHPart too short")
    m.h1 = raw[12:44]
    m.rs1_id = raw[44:52]
    m.rs2_id = raw[52:60]
    m.aux_id = raw[60:68]
    m.pbx_id = raw[68:76]
    m.pv = raw[76:-8]


def parse_confirm_plaintext(plain):
    """(H0, flags, cache expiry) from a decrypted Confirm; the optional
    signature (its length is announced) is skipped, not verified."""
    if len(plain) < 40:
        raise ZrtpParseError("Confirm body too short")
    sig_words = ((plain[33] & 1) << 8) | plain[34]
    if len(plain) != 40 + 4 * sig_words:
        raise ZrtpParseError("Confirm signature length disagrees with the message")
    return plain[:32], plain[35] & 0x0F, struct.unpack(">I", plain[36:40])[0]
