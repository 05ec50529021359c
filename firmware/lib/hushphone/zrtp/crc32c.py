# CRC-32C (Castagnoli), the checksum of every ZRTP packet (RFC 6189 §5,
# computed as in RFC 4960 Appendix B): reflected polynomial 0x82F63B78,
# initial value and final XOR 0xFFFFFFFF. On the wire the value goes least
# significant byte first, as in SCTP (RFC 4960 Appendix B) and as bzrtp,
# linphone's ZRTP, sends and checks it.
# Table-driven; the table is built once at import.


def _make_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc32c(data, crc=0):
    """CRC-32C of `data`; pass a previous result as `crc` to continue it."""
    table = _TABLE
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF
