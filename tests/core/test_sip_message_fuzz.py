# Deterministic mutation fuzzing of the SIP parsers and the SDP parser, the
# same engine on both runtimes. Seeds are the torture corpus plus messages
# built with our own API; each input gets 1-3 mutations (bit flips,
# truncation, CR/LF/NUL/quote/bracket insertion, huge numbers, duplicated
# and swapped lines, repeated slices, spliced messages, wrong lengths).
# Checked for every input:
#  - parse_message raises nothing but SipParseError, and never through its
#    last-resort net ("internal parser error");
#  - an accepted message re-serialises, re-parses to the same thing, and
#    serialises identically again;
#  - StreamParser fed in random chunk sizes yields only messages/"ping"/
#    "pong" or SipParseError, and stops after a fatal one;
#  - parse_uri/parse_name_addr/parse_via/parse_cseq/parse_challenges raise
#    only SipParseError on mutated header values;
#  - SessionDescription.parse and answer() raise only SdpError, and an
#    accepted SDP serialises stably.
# A small run is a core test here; tests/host/test_sip_fuzz.py (CPython,
# 100,000+ inputs) and tests/test_sip_fuzz_micropython.py (subprocess) run
# more through run().
import json
import unittest

import coretest
from coretest import data_path, read_data
from hushphone import sdp
from hushphone.sip.message import (
    Request,
    Response,
    SipParseError,
    StreamParser,
    parse_challenges,
    parse_cseq,
    parse_message,
    parse_name_addr,
    parse_uri,
    parse_via,
)

INTERNAL = "internal parser error"
TOKENS = (
    b"\r", b"\n", b"\r\n", b"\x00", b'"', b"<", b">", b"[", b"]", b";", b",", b":", b"%", b"\\", b" ", b"\t",
    b"\r\n ", b"\r\n\r\n", b"=", b"@", b"?", b"/", b"\xff", b"\xc3", b"\xe2\x82", b"99999999999999999999", b"-1",
    b"4294967296", b"SIP/2.0", b"sip:", b"sips:[::1]:5061", b"%00", b'"\\"', b"%", b"%4", b"Content-Length: 0",
    b"l: 99999", b";branch=", b";branch", b";tag", b"<sip:a@b>", b"*", b",,,,", b";;;", b"[2001:db8::1", b"::", b"\x7f",
)


class Rng(coretest.Rng):
    """coretest's xorshift32 from any seed (spread over the state)."""

    def __init__(self, seed):
        coretest.Rng.__init__(self, (seed * 2654435761 + 1) & 0xFFFFFFFF or 1)


def generated_seeds():
    """Messages built with our own API: what the phone and its peers send."""
    body = sdp.build_offer("192.0.2.10", 4000, ["PCMU", "PCMA"], sdp.DEFAULT_SUITES, lambda n: bytes(range(n)),
                           zrtp_hash="1.10 " + "ab" * 32, session_id=7).to_bytes()
    common = [
        ("Via", "SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK.abc;rport"),
        ("Max-Forwards", "70"),
        ("From", '"Desk 1" <sips:desk1@example.com>;tag=a1b2'),
        ("To", "<sips:bob@example.com>"),
        ("Call-ID", "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
    ]
    invite = Request("INVITE", "sips:bob@example.com", common + [
        ("CSeq", "1 INVITE"), ("Contact", "<sips:desk1@192.0.2.10:5061;transport=tls>;+sip.instance=\"<urn:uuid:1>\""),
        ("Route", "<sips:proxy.example.com;lr>, <sips:edge.example.com;lr>"),
        ("Supported", "replaces, outbound"), ("Content-Type", "application/sdp"),
    ], body)
    register = Request("REGISTER", "sips:example.com", common + [
        ("CSeq", "2 REGISTER"), ("Contact", "<sips:desk1@[2001:db8::10]:5061>;expires=600;reg-id=1"),
        ("Authorization", 'Digest username="desk1", realm="example.com", nonce="n0nce", uri="sips:example.com", '
                          'response="0123456789abcdef0123456789abcdef", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="c"'),
    ])
    challenge = Response(401, "Unauthorized", common + [
        ("CSeq", "2 REGISTER"),
        ("WWW-Authenticate", 'Digest realm="example.com", nonce="abc,def", algorithm=SHA-256, qop="auth", '
                             'Digest realm="example.com", nonce="xyz", algorithm=MD5, qop="auth"'),
    ])
    ok = Response(200, "OK", common + [("CSeq", "1 INVITE"), ("Record-Route", "<sips:proxy.example.com;lr>"),
                                       ("Content-Type", "application/sdp")], body)
    return [m.to_bytes() for m in (invite, register, challenge, ok)]


_SEEDS = None


def seeds():
    global _SEEDS
    if _SEEDS is None:
        with open(data_path("sip-torture", "expectations.json")) as f:
            files = [e["file"] for e in json.load(f)] + ["rfc4475/test.dat"]
        out = []
        for name in files:
            data = read_data("sip-torture", *name.split("/"))
            if name.startswith("rfc5118/"):
                data = data.replace(b"\n", b"\r\n")
            out.append(data)
        _SEEDS = out + generated_seeds()
    return _SEEDS


def _lines(data):
    return data.split(b"\r\n")


# Mutated inputs stop here: three times the message limit is enough to
# cross every cap, and the handset-sized heaps of the MicroPython run
# must hold a few of them.
MAX_INPUT = 3 * 8192


def _room(n):
    """How much a mutation may add to an input of n octets: every
    intermediate stays within MAX_INPUT (the MicroPython run's heap)."""
    return max(0, MAX_INPUT - n)


def mutate(data, rng, pool):
    out = _mutate_one(data, rng, pool)
    return out[:MAX_INPUT] if len(out) > MAX_INPUT else out


def _mutate_one(data, rng, pool):
    kind = rng.below(17)
    n = len(data)
    if kind >= 11:
        return _mutate_more(kind, data, rng)
    if kind == 0:  # bit flips
        b = bytearray(data)
        for _ in range(1 + rng.below(8)):
            if b:
                i = rng.below(len(b))
                b[i] ^= 1 << rng.below(8)
        return bytes(b)
    if kind == 1:  # truncation
        return data[: rng.below(n + 1)]
    if kind == 2:  # insert a nasty token
        i = rng.below(n + 1)
        return data[:i] + TOKENS[rng.below(len(TOKENS))] + data[i:]
    if kind == 3:  # delete a range
        i = rng.below(n + 1)
        return data[:i] + data[i + rng.below(40) :]
    if kind == 4:  # duplicate a header line
        lines = _lines(data)
        if len(lines) > 2:
            i = 1 + rng.below(len(lines) - 1)
            lines.insert(1 + rng.below(len(lines) - 1), lines[i])
        return b"\r\n".join(lines)
    if kind == 5:  # a number becomes huge, negative or zero
        # The first digit from a random place (no list of all of them: the
        # MicroPython run holds big inputs on a small heap).
        i = rng.below(n + 1)
        while i < n and not 48 <= data[i] <= 57:
            i += 1
        if i < n:
            repl = (b"0", b"-5", b"4294967296", b"9" * (1 + rng.below(30)), b"00000000000000000007")[rng.below(5)]
            return data[:i] + repl + data[i + 1 :]
        return data
    if kind == 6:  # swap two lines
        lines = _lines(data)
        if len(lines) > 2:
            i = rng.below(len(lines))
            j = rng.below(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        return b"\r\n".join(lines)
    if kind == 7:  # repeat a slice (bounded)
        i = rng.below(n + 1)
        piece = data[i : i + 1 + rng.below(64)]
        times = min(1 + rng.below(400), _room(n) // max(1, len(piece)))
        return data[:i] + piece * times + data[i:]
    if kind == 8:  # Content-Length says something else
        values = (b"0", b"1", b"-1", b"99999999", str(rng.below(2000)).encode(), b"1 1", b"")
        v = values[rng.below(len(values))]
        lines = _lines(data)
        for k in range(len(lines)):
            low = lines[k].lower()
            if low.startswith(b"content-length") or low.startswith(b"l:"):
                lines[k] = b"Content-Length: " + v
                return b"\r\n".join(lines)
        return data
    if kind == 9:  # splice with another seed
        other = pool[rng.below(len(pool))]
        cut = rng.below(n + 1)
        start = rng.below(len(other) + 1)
        return data[:cut] + other[start : start + MAX_INPUT - cut]
    # fold a line: turn a header line into a continuation
    lines = _lines(data)
    if len(lines) > 2:
        i = 1 + rng.below(len(lines) - 1)
        lines[i] = (b" ", b"\t", b"  ")[rng.below(3)] + lines[i]
    return b"\r\n".join(lines)


def _mutate_more(kind, data, rng):
    """The hostile shapes of issue 11: huge and duplicated headers,
    parameter floods, CRLF/LF mixes, binary, Content-Length lies."""
    lines = _lines(data)
    n = len(data)
    k = 1 + rng.below(max(1, len(lines) - 1))  # a header line (or the blank line/body)
    if kind == 11:  # a huge header (around the line and message limits)
        size = min((100, 2040, 2100, 8000, 9000)[rng.below(5)], _room(n))
        lines.insert(k, b"X-Huge: " + b"a" * size)
    elif kind == 12:  # a parameter flood on a header line
        unit = (b";p=1", b";a", b";lr", b";tag=x", b";" + b"q" * 20 + b"=\"v\"")[rng.below(5)]
        lines[k % len(lines)] += unit * min(1 + rng.below(600), _room(n) // len(unit))
    elif kind == 13:  # CRLF/LF/CR mixes
        how = rng.below(4)
        if how == 0:
            return data.replace(b"\r\n", b"\n")
        if how == 1:
            return data.replace(b"\r\n", b"\r")
        i = rng.below(n + 1)
        return data[:i] + data[i:].replace(b"\r\n", (b"\n", b"\n\r")[how - 2], 1 + rng.below(5))
    elif kind == 14:  # binary
        i = rng.below(n + 1)
        junk = bytes([rng.below(256) for _ in range(1 + rng.below(64))])
        return data[:i] + junk + data[i:]
    elif kind == 15:  # a header duplicated many times
        line = lines[k % len(lines)][:200]
        lines[k:k] = [line] * min(1 + rng.below(150), _room(n) // (len(line) + 2))
    else:  # Content-Length lies on a message with a body, or two of them
        lines.insert(k, b"Content-Length: " + str(rng.below(n + 50)).encode())
    return b"\r\n".join(lines)


def fuzz_input(rng, pool):
    data = pool[rng.below(len(pool))]
    for _ in range(1 + rng.below(3)):
        data = mutate(data, rng, pool)
    return data


def _same(a, b):
    if a.is_request != b.is_request:
        return False
    if a.is_request:
        if (a.method, a.uri) != (b.method, b.uri):
            return False
    elif (a.status, a.reason) != (b.status, b.reason):
        return False
    strip = lambda m: [(n, v) for n, v in m.headers.items() if n != "Content-Length"]  # noqa: E731
    return strip(a) == strip(b) and a.body == b.body


class FuzzFailure(AssertionError):
    pass


def _fail(what, data):
    # The input in full when short; the seed printed with it repeats it.
    shown = data if len(data) <= 3000 else data[:3000]
    raise FuzzFailure("%s for input (%d octets) %r" % (what, len(data), shown))


def _stable(parser, value, data):
    """A value inside an accepted message parses, and str() of the result
    parses back to the same text (what the UA relies on when it copies
    From/To/Contact/Route/Via into new messages)."""
    try:
        text = str(parser(value))
        again = str(parser(text))
    except SipParseError as e:
        _fail("%s value %r of an accepted message fails (%s)" % (parser.__name__, value, e.reason), data)
    if again != text:
        _fail("%s: str() not stable for %r" % (parser.__name__, value), data)


def check_structured(m, data):
    """What parse_message vouches for: From, To, the top Via and the first
    Contact (the rest of the lists and Route/Record-Route are checked where
    they are used: Dialog.check_route_set)."""
    h = m.headers
    for name in ("From", "To", "Contact"):
        values = h.get_all(name)
        if values and values[0] != "*":
            _stable(parse_name_addr, values[0], data)
    _stable(parse_via, h.get_all("Via")[0], data)
    for name in ("Route", "Record-Route", "Via", "Contact"):
        for value in h.get_all(name):
            if "\r" in value or "\n" in value:
                _fail("CR/LF in a %s value" % name, data)
    if m.is_request and m.uri[:3].lower() == "sip":
        _stable(parse_uri, m.uri, data)
    for name in ("WWW-Authenticate", "Authorization", "Proxy-Authenticate", "Proxy-Authorization"):
        for value in h.get_all(name):
            try:
                parse_challenges(value)
            except SipParseError:
                pass


def check_message(m, data):
    check_structured(m, data)
    wire = m.to_bytes()
    try:
        again = parse_message(wire)
    except SipParseError as e:
        # Serialising spells names in full and adds Content-Length: a
        # message accepted just under a cap (size, header count, line
        # length) may end just over it, a 513; anything else is a bug.
        if e.status != 513:
            _fail("accepted message does not re-parse (%s)" % e.reason, data)
        return
    if not _same(m, again):
        _fail("re-parsed message differs", data)
    if again.to_bytes() != wire:
        _fail("serialisation not stable", data)


def check_datagram(data):
    """-> True if accepted."""
    try:
        m = parse_message(data)
    except SipParseError as e:
        if e.reason == INTERNAL or not isinstance(e.status, int):
            _fail("parser hit its safety net", data)
        return False
    except Exception as e:
        _fail("%s escaped parse_message" % type(e).__name__, data)
    check_message(m, data)
    return True


def check_stream(data, rng):
    """Feed data in random chunk sizes. -> number of events."""
    p = StreamParser()
    pos = 0
    events = 0
    for _ in range(len(data) + 2):
        if pos >= len(data):
            break
        n = 1 + rng.below(300)
        chunk = data[pos : pos + n]
        pos += n
        try:
            p.feed(chunk)
        except SipParseError as e:
            if not e.fatal:
                _fail("non-fatal error from feed()", data)
            return events
        for _ in range(len(data) + 2):
            try:
                ev = p.next_event()
            except SipParseError as e:
                if e.reason == INTERNAL:
                    _fail("stream parser hit its safety net", data)
                if e.fatal:
                    try:
                        p.next_event()
                    except SipParseError:
                        return events
                    _fail("stream parser usable after a fatal error", data)
                continue
            except Exception as e:
                _fail("%s escaped StreamParser" % type(e).__name__, data)
            if ev is None:
                break
            events += 1
            if isinstance(ev, SipParseError):
                # A well-framed bad message: returned, never fatal.
                if ev.fatal or ev.reason == INTERNAL:
                    _fail("fatal or internal error returned as an event", data)
                continue
            if ev == "ping" or ev == "pong":
                continue
            if isinstance(ev, str):
                _fail("unknown event " + ev, data)
            check_message(ev, data)
    return events


def check_values(data):
    """Header-value parsers on each line of a mutated message."""
    for line in _lines(data)[:60]:
        try:
            text = line.decode()
        except Exception:
            continue
        value = text.partition(":")[2]
        for parser in (parse_uri, parse_name_addr, parse_via, parse_cseq, parse_challenges):
            for arg in (text, value, value.strip()):
                try:
                    parser(arg)
                except SipParseError:
                    pass
                except Exception as e:
                    _fail("%s escaped %s" % (type(e).__name__, parser.__name__), arg.encode())


def sdp_seeds():
    out = []
    for m in seeds():
        end = m.find(b"\r\n\r\n")
        body = m[end + 4 :] if end >= 0 else b""
        if body.startswith(b"v=0"):
            out.append(body)
    return out


_OFFER = None


def _our_offer():
    global _OFFER
    if _OFFER is None:
        _OFFER = sdp.build_offer("192.0.2.10", 4000, ["PCMU", "PCMA"], sdp.DEFAULT_SUITES, lambda n: bytes(range(n)),
                                 zrtp_hash="1.10 " + "ab" * 32, session_id=7)
    return _OFFER


def check_sdp(data):
    try:
        sd = sdp.SessionDescription.parse(data)
    except sdp.SdpError:
        return False
    except Exception as e:
        _fail("%s escaped SessionDescription.parse" % type(e).__name__, data)
    wire = sd.to_bytes()
    try:
        again = sdp.SessionDescription.parse(wire)
    except sdp.SdpError as e:
        _fail("accepted SDP does not re-parse (%s)" % e, data)
    if again.to_bytes() != wire:
        _fail("SDP serialisation not stable", data)
    try:
        # The body as our offer's answer (what the phone does on CallAnswered).
        sdp.process_answer(_our_offer(), sd)
    except sdp.SdpError:
        pass
    except Exception as e:
        _fail("%s escaped process_answer()" % type(e).__name__, data)
    try:
        sdp.answer(sd, "192.0.2.1", 4000, ["PCMU", "PCMA"], sdp.DEFAULT_SUITES, lambda n: bytes(n), zrtp_hash="1.10 " + "00" * 32)
        for m in sd.media:
            m.cryptos()
            m.zrtp_hash()
            m.ptime()
    except sdp.SdpError:
        pass
    except Exception as e:
        _fail("%s escaped answer()" % type(e).__name__, data)
    return True


def run(count, seed=1, stream_every=4, values_every=10, sdp_every=4, inputs=None):
    """count mutated datagrams (plus streams, header values and SDP bodies
    at the given ratios), or fewer once `inputs` of all kinds went in.
    Returns counters (and their sum, "inputs"); raises FuzzFailure."""
    rng = Rng(seed)
    pool = seeds()
    sdp_pool = sdp_seeds()
    stats = {"datagrams": 0, "accepted": 0, "streams": 0, "stream_events": 0, "values": 0, "sdp": 0, "sdp_accepted": 0}
    for i in range(count):
        if inputs is not None and stats["datagrams"] + stats["streams"] + stats["values"] + stats["sdp"] >= inputs:
            break
        data = fuzz_input(rng, pool)
        stats["datagrams"] += 1
        if check_datagram(data):
            stats["accepted"] += 1
        if i % stream_every == 0:
            stream = b"".join([fuzz_input(rng, pool) if rng.below(3) else pool[rng.below(len(pool))] for _ in range(1 + rng.below(3))])
            if rng.below(4) == 0:
                stream = b"\r\n\r\n" + stream
            if len(stream) > MAX_INPUT:
                stream = stream[:MAX_INPUT]  # the MicroPython run's heap holds the stream and its buffer
            stats["streams"] += 1
            stats["stream_events"] += check_stream(stream, rng)
        if i % values_every == 0:
            stats["values"] += 1
            check_values(data)
        if i % sdp_every == 0:
            body = sdp_pool[rng.below(len(sdp_pool))]
            for _ in range(1 + rng.below(3)):
                body = mutate(body, rng, sdp_pool)
            stats["sdp"] += 1
            if check_sdp(body):
                stats["sdp_accepted"] += 1
    stats["inputs"] = stats["datagrams"] + stats["streams"] + stats["values"] + stats["sdp"]
    return stats


PARSER_SHARE = 0.465  # of the inputs per runtime for each of the two parser modules (one UA module)


def check_ci_share(case, module, offset):
    """The CI share of one parser module (test_sip_fuzz_parsers_a/_b): a
    printed seed (fuzz_budget), its own stream of it (offset), and both
    outcomes in bulk, or the run proves little."""
    import fuzz_budget

    seed = fuzz_budget.seed()
    inputs = fuzz_budget.share(PARSER_SHARE)
    print(fuzz_budget.label(module, seed, inputs))
    try:
        stats = run(inputs, seed=seed * 2 + offset, inputs=inputs)
    except FuzzFailure as e:
        raise AssertionError("%s\n%s" % (fuzz_budget.label(module, seed, inputs), e))
    case.assertGreaterEqual(stats["inputs"], inputs)
    n = stats["datagrams"]
    case.assertTrue(n // 50 < stats["accepted"] < n // 2, stats)
    case.assertGreater(stats["stream_events"], stats["streams"] // 5, stats)
    case.assertGreater(stats["sdp_accepted"], stats["sdp"] // 50, stats)

class SmallFuzzTest(unittest.TestCase):
    def test_seeds_behave(self):
        # Every seed goes through the checks unmutated.
        for data in seeds():
            check_datagram(data)
            check_stream(data, Rng(3))
        for body in sdp_seeds():
            check_sdp(body)

    def test_small_run(self):
        stats = run(300, seed=20261127)
        self.assertEqual(stats["datagrams"], 300)
        # The run exercises both outcomes (a fuzzer that rejects everything
        # would prove nothing about re-serialisation).
        self.assertGreater(stats["accepted"], 10)
        self.assertLess(stats["accepted"], 300)
        self.assertGreater(stats["stream_events"], 10)
        self.assertGreater(stats["sdp_accepted"], 2)

    def test_detects_escaping_exception(self):
        # The checker itself must notice a parser that lets other errors out.
        import hushphone.sip.parser as parser_module

        saved = parser_module._parse_datagram

        def broken(data):
            raise IndexError("simulated parser bug")

        parser_module._parse_datagram = broken
        try:
            with self.assertRaises(FuzzFailure):
                check_datagram(seeds()[0])
        finally:
            parser_module._parse_datagram = saved
