# RTP packets (RFC 3550 §5.1): a full parse/serialize for tools and tests,
# and header-only helpers for the per-packet path (SRTP reads the sequence
# number, SSRC and header length without building any object).
from hushphone.compat import const

_VERSION = const(2)
_FIXED_HEADER = const(12)
_MAX_SEQ = const(0xFFFF)


class RtpError(Exception):
    """A malformed RTP packet (a peer's bad data)."""


def header_length(packet, length=None):
    """Length of the RTP header (fixed part, CSRCs, extension) of `packet`,
    whose usable length is `length` (default: all of it). Raises RtpError
    if the packet is not RTP version 2 or its header does not fit."""
    if length is None:
        length = len(packet)
    if length < _FIXED_HEADER:
        raise RtpError("RTP packet shorter than 12 bytes")
    b0 = packet[0]
    if b0 >> 6 != _VERSION:
        raise RtpError("not RTP version 2")
    end = _FIXED_HEADER + ((b0 & 0x0F) << 2)
    if b0 & 0x10:
        if end + 4 > length:
            raise RtpError("RTP header extension truncated")
        end += 4 + (((packet[end + 2] << 8) | packet[end + 3]) << 2)
    if end > length:
        raise RtpError("RTP header longer than the packet")
    return end


def sequence_number(packet):
    return (packet[2] << 8) | packet[3]


def timestamp(packet):
    return (packet[4] << 24) | (packet[5] << 16) | (packet[6] << 8) | packet[7]


def ssrc(packet):
    return (packet[8] << 24) | (packet[9] << 16) | (packet[10] << 8) | packet[11]


def _u32(value, what):
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError("%s out of range" % what)
    return value


def _put_u32(out, value):
    out.append((value >> 24) & 0xFF)
    out.append((value >> 16) & 0xFF)
    out.append((value >> 8) & 0xFF)
    out.append(value & 0xFF)


class RtpPacket:
    """One RTP packet. `padding` is the number of padding bytes including the
    final count byte (0 = no padding); `extension` is the extension data
    (a multiple of 4 bytes) or None when the X bit is clear."""

    def __init__(
        self,
        payload_type=0,
        sequence_number=0,
        timestamp=0,
        ssrc=0,
        payload=b"",
        marker=False,
        csrcs=(),
        extension_profile=0,
        extension=None,
        padding=0,
    ):
        self.payload_type = payload_type
        self.sequence_number = sequence_number
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.payload = bytes(payload)
        self.marker = bool(marker)
        self.csrcs = list(csrcs)
        self.extension_profile = extension_profile
        self.extension = None if extension is None else bytes(extension)
        self.padding = padding

    @classmethod
    def parse(cls, data):
        n = len(data)
        end = header_length(data, n)
        b0 = data[0]
        b1 = data[1]
        count = b0 & 0x0F
        csrcs = []
        for i in range(count):
            o = _FIXED_HEADER + 4 * i
            csrcs.append((data[o] << 24) | (data[o + 1] << 16) | (data[o + 2] << 8) | data[o + 3])
        profile = 0
        extension = None
        if b0 & 0x10:
            o = _FIXED_HEADER + 4 * count
            profile = (data[o] << 8) | data[o + 1]
            extension = bytes(data[o + 4 : end])
        padding = 0
        if b0 & 0x20:
            if n == end:
                raise RtpError("RTP padding bit set but no payload")
            padding = data[n - 1]
            if padding == 0 or padding > n - end:
                raise RtpError("RTP padding count out of range")
        return cls(
            payload_type=b1 & 0x7F,
            sequence_number=sequence_number(data),
            timestamp=timestamp(data),
            ssrc=ssrc(data),
            payload=bytes(data[end : n - padding]),
            marker=bool(b1 & 0x80),
            csrcs=csrcs,
            extension_profile=profile,
            extension=extension,
            padding=padding,
        )

    def serialize(self):
        if not 0 <= self.payload_type <= 127:
            raise ValueError("payload type out of range")
        if not 0 <= self.sequence_number <= _MAX_SEQ:
            raise ValueError("sequence number out of range")
        if len(self.csrcs) > 15:
            raise ValueError("more than 15 CSRCs")
        if not 0 <= self.padding <= 255:
            raise ValueError("padding out of range")
        ext = self.extension
        if ext is not None and (len(ext) % 4 or len(ext) > 4 * 0xFFFF or not 0 <= self.extension_profile <= 0xFFFF):
            raise ValueError("bad RTP header extension")
        b0 = 0x80 | len(self.csrcs)
        if self.padding:
            b0 |= 0x20
        if ext is not None:
            b0 |= 0x10
        out = bytearray((b0, (0x80 if self.marker else 0) | self.payload_type, self.sequence_number >> 8, self.sequence_number & 0xFF))
        _put_u32(out, _u32(self.timestamp, "timestamp"))
        _put_u32(out, _u32(self.ssrc, "SSRC"))
        for c in self.csrcs:
            _put_u32(out, _u32(c, "CSRC"))
        if ext is not None:
            words = len(ext) // 4
            out.extend(bytes((self.extension_profile >> 8, self.extension_profile & 0xFF, words >> 8, words & 0xFF)))
            out.extend(ext)
        out.extend(self.payload)
        if self.padding:
            out.extend(bytes(self.padding - 1))
            out.append(self.padding)
        return bytes(out)

    def __eq__(self, other):
        if not isinstance(other, RtpPacket):
            return NotImplemented
        return self.serialize() == other.serialize()

    def __repr__(self):
        return "RtpPacket(pt=%d seq=%d ts=%d ssrc=%08x marker=%r len=%d)" % (
            self.payload_type,
            self.sequence_number,
            self.timestamp,
            self.ssrc,
            self.marker,
            len(self.payload),
        )
