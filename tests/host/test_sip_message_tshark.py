"""Cross-check of SIP/SDP syntax with Wireshark's dissectors (tshark).

Messages are written as UDP datagrams into a pcap and read back with tshark:
- what the phone itself sends (requests/responses built with our API, SDP
  from build_offer/answer) must dissect without any expert warning or error,
  and every field tshark extracts (method/status, Request-URI, Call-ID,
  CSeq, From/To tags, Via branches, Content-Length, SDP ports, addresses,
  crypto tags/suites and the AES_CM_128 master key and salt it decodes from
  a=crypto) must equal what our parser reads from the same bytes;
- the accepted RFC 4475/5118 torture messages, raw and as re-serialised by
  to_bytes(), must agree with tshark wherever tshark extracts a value
  (it gives up on some LWS forms RFC 3261 allows, e.g. 'tag = x').
"""
import shutil
import struct
import subprocess

import test_sdp
import test_sip_message_fuzz as fuzz
import test_sip_torture as torture
from hushphone import sdp
from hushphone.sip.message import parse_cseq, parse_message, parse_name_addr, parse_via

SIP_FIELDS = (
    "sip.Method", "sip.Status-Code", "sip.r-uri", "sip.Call-ID", "sip.CSeq.seq", "sip.CSeq.method",
    "sip.from.tag", "sip.to.tag", "sip.Via.branch", "sip.Content-Length",
)
SDP_FIELDS = (
    "sdp.media.port", "sdp.connection_info.address", "sdp.crypto.tag", "sdp.crypto.crypto_suite",
    "sdp.crypto.master_key", "sdp.crypto.master_salt",
)
DIAG_FIELDS = ("_ws.malformed", "_ws.expert.severity", "_ws.expert.message")
FIELDS = SIP_FIELDS + SDP_FIELDS + DIAG_FIELDS
# Wireshark's expert severities: chat 0x200000, note 0x400000, warn 0x600000, error 0x800000.
SEVERITY_NOTE = 0x400000


def _ipv4_udp(payload):
    udp = struct.pack("!HHHH", 5060, 5060, 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, b"\x7f\0\0\x01", b"\x7f\0\0\x01")
    total = sum(struct.unpack("!10H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return header[:10] + struct.pack("!H", ~total & 0xFFFF) + header[12:] + udp


def dissect(messages, tmp_path):
    """tshark's field values for each message: [{field: [values]}]."""
    tshark = shutil.which("tshark")
    assert tshark, "tshark is not installed (Debian package tshark, see system-packages.txt)"
    pcap = tmp_path / "sip.pcap"
    with open(pcap, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))  # LINKTYPE_RAW
        for i, message in enumerate(messages):
            packet = _ipv4_udp(message)
            out.write(struct.pack("<IIII", 1_700_000_000 + i, 0, len(packet), len(packet)) + packet)
    cmd = [tshark, "-n", "-r", str(pcap), "-d", "udp.port==5060,sip", "-T", "fields",
           "-E", "separator=\x1f", "-E", "occurrence=a", "-E", "aggregator=\x1e"]
    for field in FIELDS:
        cmd += ["-e", field]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = []
    for line in result.stdout.split("\n")[:-1]:  # not splitlines(): it splits at \x1e too
        values = line.split("\x1f")
        rows.append({f: [x for x in v.split("\x1e") if x] for f, v in zip(FIELDS, values)})
    assert len(rows) == len(messages)
    return rows


def ours(data):
    """The same fields as read by our parsers."""
    m = parse_message(data)
    h = m.headers
    seq, method = parse_cseq(h.get("CSeq"))
    out = {
        "sip.Method": [m.method] if m.is_request else [],
        "sip.Status-Code": [] if m.is_request else [str(m.status)],
        "sip.r-uri": [m.uri] if m.is_request else [],
        "sip.Call-ID": [h.get("Call-ID")],
        "sip.CSeq.seq": [str(seq)],
        "sip.CSeq.method": [method],
        "sip.from.tag": [t for t in [parse_name_addr(h.get("From")).tag] if t],
        "sip.to.tag": [t for t in [parse_name_addr(h.get("To")).tag] if t],
        "sip.Via.branch": [v.branch for v in map(parse_via, h.get_all("Via")) if v.branch],
        "sip.Content-Length": [h.get("Content-Length")] if "Content-Length" in h else [],
    }
    if m.body.startswith(b"v=0"):
        sd = sdp.SessionDescription.parse(m.body)
        out["sdp.media.port"] = [str(x.port) for x in sd.media]
        conns = [sd.connection] if sd.connection else []
        out["sdp.connection_info.address"] = [c.address for c in conns + [x.connection for x in sd.media if x.connection]]
        cryptos = [c for x in sd.media for c in x.cryptos()]
        out["sdp.crypto.tag"] = [str(c.tag) for c in cryptos]
        out["sdp.crypto.crypto_suite"] = [c.suite for c in cryptos]
        # tshark splits key||salt only for the 128-bit suites.
        k128 = [c.key for c in cryptos if c.suite.startswith("AES_CM_128")]
        out["sdp.crypto.master_key"] = [k[:16].hex() for k in k128]
        out["sdp.crypto.master_salt"] = [k[16:].hex() for k in k128]
    return out


def phone_messages():
    """What the handset sends: the fuzzer's generated seeds (INVITE with an
    SDES+ZRTP offer, REGISTER with credentials, 401, 200 with SDP) and a
    200 OK carrying our answer to a linphone-style offer."""
    messages = fuzz.generated_seeds()
    invite = parse_message(messages[0])
    answer, _ = sdp.answer(test_sdp.LINPHONE_OFFER, "192.0.2.1", 4000, ["PCMU", "PCMA"], sdp.DEFAULT_SUITES,
                           lambda n: bytes(range(100, 100 + n)), zrtp_hash=test_sdp.ZRTP_HASH)
    ok = parse_message(messages[3])
    ok.body = answer.to_bytes()
    ok.headers.set("CSeq", invite.headers.get("CSeq"))
    return messages + [ok.to_bytes()]


def test_phone_messages_dissect_cleanly_and_agree(tmp_path):
    messages = phone_messages()
    for message, row in zip(messages, dissect(messages, tmp_path)):
        assert row["_ws.malformed"] == [] and row["_ws.expert.message"] == [], (row, message)
        expected = ours(message)
        for field in SIP_FIELDS + SDP_FIELDS:
            assert row[field] == expected.get(field, []), (field, message[:80])
    # The SDES keys really were decoded by Wireshark, not both sides empty.
    assert dissect(messages[:1], tmp_path)[0]["sdp.crypto.master_key"] == ["000102030405060708090a0b0c0d0e0f"] * 2


def _accepted_corpus():
    for entry in torture._corpus():
        if torture.OUTCOME[entry["file"]][0] is torture.ACCEPT:
            data = torture.load(entry["file"])
            if entry["file"] in torture.LENGTH_FIXED:
                data = torture.fix_content_length(data)
            yield entry["file"], data


def test_torture_messages_agree_with_tshark(tmp_path):
    names = []
    messages = []
    for name, data in _accepted_corpus():
        names += [name + " (raw)", name + " (to_bytes)"]
        messages += [data, parse_message(data).to_bytes()]
    rows = dissect(messages, tmp_path)
    compared = 0
    raw_warnings = 0
    for name, message, row in zip(names, messages, rows):
        warnings = [int(x, 0) for x in row["_ws.expert.severity"] if int(x, 0) > SEVERITY_NOTE]
        expected = ours(message)
        for field in SIP_FIELDS:
            got = row[field]
            if not got:
                continue  # tshark did not extract it (odd LWS); nothing to compare
            if field == "sip.Via.branch":
                # tshark stops at Via values with LWS; what it found must be ours, in order.
                it = iter(expected[field])
                assert all(b in it for b in got), (name, field, got, expected[field])
            else:
                assert got == expected[field], (name, field, got, expected[field])
            compared += 1
        if name.endswith("(raw)"):
            raw_warnings = len(warnings)
        else:
            # Our serialisation never makes Wireshark see a malformed message
            # or warn about more than it did for the original bytes.
            assert row["_ws.malformed"] == [], (name, row["_ws.expert.message"])
            assert len(warnings) <= raw_warnings, (name, row["_ws.expert.message"])
    assert compared > 400, compared
