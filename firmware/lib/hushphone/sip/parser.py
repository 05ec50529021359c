# Parsing of whole SIP messages (RFC 3261 §7, §18.3) for datagrams and as the
# building blocks of the stream framer. Everything a peer can send ends in
# either a Request/Response or a SipParseError with the status to answer.
from hushphone.sip.errors import SipParseError
from hushphone.sip.headers import EXACT_OCTETS as _EXACT_OCTETS, METHODS_BY_LENGTH as _METHODS, Headers, field_name, parse_cseq, parse_name_addr, parse_via
from hushphone.sip.model import MAX_HEADERS, MAX_LINE, MAX_LINES, MAX_MESSAGE_SIZE, Request, Response
from hushphone.sip.syntax import WSP, is_digits, is_token, parse_uint, split_commas
from hushphone.sip.uri import parse_uri

# Header fields a message must carry exactly once (§8.1.1, §20; RFC 4475
# §3.3.8); Via must be present at least once.
_REQUIRED_ONCE = ("From", "To", "Call-ID", "CSeq")
_AT_MOST_ONCE = ("Max-Forwards", "Content-Type", "Content-Length")
# Their lookup keys -> one bit each: validate counts them all in one pass.
_COUNTED = {}
for _name in _REQUIRED_ONCE + _AT_MOST_ONCE:
    _COUNTED[_name.lower()] = 1 << len(_COUNTED)
_REQUIRED_BITS = tuple([(_name, _COUNTED[_name.lower()]) for _name in _REQUIRED_ONCE])
_AT_MOST_BITS = tuple([(_name, _COUNTED[_name.lower()]) for _name in _AT_MOST_ONCE])


_WSP_OCTETS = (32, 9)
_WSP_BYTES = b" \t"


def _bad(reason, message=None):
    return SipParseError(400, reason, message)


def _is_response_line(line):
    # startswith first: a slice and upper() copy only for odd spellings
    return line.startswith("SIP/") or ((line.startswith("s") or line.startswith("S")) and line[:4].upper() == "SIP/")


def _check_version(version):
    if version == "SIP/2.0" or version.upper() == "SIP/2.0":
        return
    if version[:4].upper() == "SIP/":
        major, dot, minor = version[4:].partition(".")
        if dot and is_digits(major) and is_digits(minor):
            raise SipParseError(505, "Version Not Supported")
    raise _bad("bad SIP version")


def _parse_start_line(line, headers):
    """-> Request or Response with these headers, without body."""
    if len(line) > MAX_LINE:
        raise SipParseError(414 if not _is_response_line(line) else 513, "start line too long")
    if _is_response_line(line):
        parts = line.split(" ", 2)
        if len(parts) < 2:
            raise _bad("bad status line")
        _check_version(parts[0])
        code = parts[1]
        if len(code) != 3 or not is_digits(code) or code[0] not in "123456":
            raise _bad("bad status code")
        return Response(int(code), parts[2] if len(parts) == 3 else "", headers)
    # Request-Line = Method SP Request-URI SP SIP-Version: exactly one SP
    # each (RFC 4475 lwsstart, trws, lwsruri are rejected). Cut by index:
    # no list, and the usual version needs no string of its own.
    sp1 = line.find(" ")
    sp2 = line.find(" ", sp1 + 1) if sp1 >= 0 else -1
    if sp2 < 0 or line.find(" ", sp2 + 1) >= 0:
        raise _bad("bad request line")
    if not (line.endswith(" SIP/2.0") and len(line) - sp2 == 8):
        _check_version(line[sp2 + 1 :])
    for method in _METHODS.get(sp1, ()):
        if line.startswith(method):
            break  # one of ours: no string of its own, nothing to check
    else:
        method = line[:sp1]
        if not is_token(method):
            raise _bad("bad method")
    uri = line[sp1 + 1 : sp2]
    if parse_uri(uri, False):  # checked only: the Request keeps the text
        raise _bad("headers in Request-URI")
    return Request(method, uri, headers)


def parse_head(head, limit_headers=MAX_HEADERS, limit_line=MAX_LINE):
    """Start line and header fields (bytes or a memoryview slice, without the
    blank line) -> Request/Response with headers and an empty body."""
    if not isinstance(head, bytes):
        head = bytes(head)  # no view kept (it would pin the caller's buffer); names are looked up as bytes
    return parse_head_at(head, 0, len(head), limit_headers, limit_line)


def parse_head_at(data, start, end, limit_headers=MAX_HEADERS, limit_line=MAX_LINE):
    """parse_head of data[start:end] (bytes), read in place:
    lines and fields are found by offset in the octets (O(1) to reach on
    both runtimes, unlike a str on MicroPython) and each value is decoded
    once, straight to its final str (no copy of the block, no string per
    line, no strip copies)."""
    try:
        return _parse_head_octets(data, start, end, limit_headers, limit_line)
    except SipParseError:
        # The whole block must be UTF-8 before any other complaint counts
        # (as when it was decoded first); checked only on this error path.
        if not _is_utf8(data, start, end):
            raise _bad("header not UTF-8")
        raise
    except UnicodeError:
        raise _bad("header not UTF-8")


def _is_utf8(data, start, end):
    try:
        str(data[start:end], "utf-8")
        return True
    except UnicodeError:
        return False


def _parse_head_octets(data, start, end, limit_headers, limit_line):
    breaks = data.count(b"\r\n", start, end)
    if breaks >= MAX_LINES:
        raise SipParseError(513, "too many lines")
    # A CR or LF that is not part of CRLF would let a value smuggle lines.
    if data.count(b"\r", start, end) != breaks or data.count(b"\n", start, end) != breaks:
        raise _bad("bare CR or LF")
    # Continuation lines (LWS with CRLF counts as one SP, §7.3.1) are
    # found line by line; one that follows the start line has no header.
    eol = data.find(b"\r\n", start, end)
    if eol < 0:
        eol = end
    if eol + 2 < end and data[eol + 2] in _WSP_OCTETS:
        raise _bad("continuation without header")
    start_line = str(data[start:eol], "utf-8")
    # The fields go straight into lists of their final size, one line
    # each unless some are folded (then cut to size at the end): no list
    # per field, no growing.
    keys = [None] * breaks
    names = [None] * breaks
    values = [None] * breaks
    headers = Headers(None, keys, names, values)
    start_error = None
    try:
        msg = _parse_start_line(start_line, headers)
    except SipParseError as e:
        if _is_response_line(start_line) or len(start_line) > limit_line:
            raise  # a response is never answered; an over-long line is not read on
        # A request line we refuse (SIP/7.0, a bad Request-URI): read the
        # headers all the same, so the error can be answered (RFC 4475
        # badvers: 505, ltgtruri/escruri: 400) and a stream framed on.
        start_error = e
        msg = Request(start_line.split(" ", 1)[0], "", headers)
    if breaks > limit_headers:  # (fields are lines less continuation lines)
        folds = data.count(b"\r\n ", start, end) + data.count(b"\r\n\t", start, end)
        if breaks - folds > limit_headers:
            raise SipParseError(513, "too many headers")
    view = memoryview(data)  # one view; each value is decoded from a slice of it
    # Names the loop uses per line, as locals (a global or method lookup
    # is a dictionary search each time on MicroPython).
    find = data.find
    wsp = _WSP_OCTETS
    exact = _EXACT_OCTETS
    k = 0  # fields read
    try:
        pos = eol + 2
        line = 0  # header lines read
        while line < breaks:  # one header field each
            line += 1
            eol = find(b"\r\n", pos, end)
            if eol < 0:
                eol = end
            if eol + 2 < end and data[eol + 2] in wsp:
                # A folded field (rare): joined once from its pieces, then
                # read as text (appending per continuation line copied the
                # field again each time: quadratic). The pieces stay octets
                # (no string per line) and are decoded once, joined.
                pieces = [data[pos:eol].rstrip(_WSP_BYTES)]
                while eol + 2 < end and data[eol + 2] in _WSP_OCTETS:
                    line += 1
                    nxt = data.find(b"\r\n", eol + 2, end)
                    if nxt < 0:
                        nxt = end
                    pieces.append(data[eol + 2 : nxt].strip(_WSP_BYTES))
                    eol = nxt
                _add_text_field(headers, k, str(b" ".join(pieces), "utf-8"), limit_line)
                k += 1
                pos = eol + 2
                continue
            # Octets over the limit are still few enough characters when
            # some are multi-byte (the limit counts characters).
            if eol - pos > limit_line and len(str(data[pos:eol], "utf-8")) > limit_line:
                raise SipParseError(513, "header too long")
            colon = find(b":", pos, eol)
            if colon <= pos:
                raise _bad("bad header line")
            name_end = colon
            while data[name_end - 1] in wsp:  # a field never starts with WSP (those lines continue the one before)
                name_end -= 1
            first = colon + 1
            while first < eol and data[first] in wsp:
                first += 1
            last = eol
            while last > first and data[last - 1] in wsp:
                last -= 1
            values[k] = str(view[first:last], "utf-8")
            key = None
            if name_end - pos < 256:
                for octets, key, canonical in exact.get(data[pos] << 8 | (name_end - pos), ()):
                    if data.startswith(octets, pos):
                        break
                    key = None
            if key is None:
                name = str(data[pos:name_end], "utf-8")
                key, canonical = field_name(name)
                if canonical is name and not is_token(name):  # not a known name (those are tokens): check it
                    raise _bad("bad header name")
            keys[k] = key
            names[k] = canonical
            k += 1
            pos = eol + 2
    finally:
        view = find = None  # CPython: release the export so a stream's buffer can grow
    if k < breaks:  # folded fields: the lists to their size
        del keys[k:]
        del names[k:]
        del values[k:]
    if start_error is not None:
        start_error.message = msg
        raise start_error
    return msg


def _add_text_field(headers, k, line, limit_line):
    """One unfolded header field line (str) as field k of headers."""
    if len(line) > limit_line:
        raise SipParseError(513, "header too long")
    colon = line.find(":")
    if colon <= 0:
        raise _bad("bad header line")
    name = line[:colon]
    if name[-1] in WSP:
        name = name.rstrip(WSP)
    key, canonical = field_name(name)
    if canonical is name and not is_token(name):  # not a known name (those are tokens): check it
        raise _bad("bad header name")
    headers._keys[k] = key
    headers._names[k] = canonical
    headers._values[k] = line[colon + 1 :].strip(WSP)


def content_length(msg):
    """The Content-Length value, None if absent; conflicting/bad -> 400."""
    h = msg.headers
    n = h.count("Content-Length")
    if not n:
        return None
    if n > 1:
        raise _bad("several Content-Length fields", msg)
    return parse_uint(h.get("Content-Length"), 0xFFFFFFFF, "Content-Length", msg)


def _first_value(h, name):
    """The first element of the fields called name (None if there are
    none); 400 for an empty element anywhere in them. A plain list (no
    quotes or <>) is checked with C-level replace/find, not split."""
    if h.count(name) == 1:  # the usual case, one plain value: no list
        first = h.get(name)
        if first and "," not in first:
            return first
    return _first_of_fields(h, name)


def _first_of_fields(h, name):
    first = None
    for field in h.get_fields(name):
        if "," not in field:
            value = field
        elif '"' in field or "<" in field:
            values = split_commas(field)
            for value in values:
                if not value:
                    raise _bad("empty value in " + name)
            value = values[0]
        else:
            packed = field.replace(" ", "").replace("\t", "")
            if ",," in packed or packed[0] == "," or packed[-1] == ",":
                raise _bad("empty value in " + name)
            value = field[: field.find(",")].strip(WSP)
        if not value:
            raise _bad("empty value in " + name)
        if first is None:
            first = value
    return first


def tag_of(message, name):
    """The tag of a message's From or To (name), None without one; the
    value is parsed once per message (parse_message keeps what validation
    parsed). RemoteSipError (SipParseError) when it does not parse."""
    attr = _ADDR_ATTRS[name]
    addr = message.__dict__.get(attr)
    if addr is None:
        value = message.headers.get(name)
        if value is None:
            raise SipParseError(400, "missing " + name)
        addr = parse_name_addr(value)
        setattr(message, attr, addr)
    return addr.params.get("tag")


_ADDR_ATTRS = {"From": "_From", "To": "_To"}


def top_value(h, name):
    """The first element of the first field called name (None if none):
    the top Via without splitting the whole list."""
    field = h.get(name)
    if field is None or "," not in field:
        return field
    if '"' in field or "<" in field:
        return split_commas(field)[0]
    return field[: field.find(",")].strip(WSP)


def validate(msg):
    """Header checks that need no knowledge beyond RFC 3261 syntax: the
    mandatory fields, single-valued fields, CSeq vs method, and the
    structured values every message's handling reads: From, To, the top
    Via and the first Contact. The rest of the Via/Contact lists and
    Route/Record-Route are checked where they are used (a dialog's route
    set when it is made): parsing every value of every list up front let
    one 8 KiB message cost hundreds of times a normal one."""
    h = msg.headers
    try:
        seen = repeated = 0  # bit sets over _COUNTED: one pass, no allocation
        for key in h._keys:
            bit = _COUNTED.get(key)
            if bit is not None:
                if seen & bit:
                    repeated |= bit
                seen |= bit
        for name, bit in _REQUIRED_BITS:
            if not seen & bit or repeated & bit:
                raise _bad(("missing " if not seen & bit else "repeated ") + name)
        if repeated:
            for name, bit in _AT_MOST_BITS:
                if repeated & bit:
                    raise _bad("repeated " + name)
        via = top_value(h, "Via")  # the top one routes; the rest is copied as received
        if not via:
            raise _bad("missing Via")
        seq, method = parse_cseq(h.get("CSeq"))
        if msg.is_request and method != msg.method:
            raise _bad("CSeq method does not match")
        msg._From = parse_name_addr(h.get("From"))  # kept for tag_of()
        msg._To = parse_name_addr(h.get("To"))
        call_id = h.get("Call-ID")
        if not call_id or " " in call_id or "\t" in call_id:  # one word (values come stripped)
            raise _bad("bad Call-ID")
        mf = h.get("Max-Forwards")
        if mf is not None:
            parse_uint(mf, 0xFFFFFFFF, "Max-Forwards")
        parse_via(via, False)  # checked only: its users parse it when they need it
        contact = _first_value(h, "Contact")
        if contact is not None and contact != "*":
            parse_name_addr(contact, False)
    except SipParseError as e:
        e.message = msg
        raise


def _parse_datagram(data):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _bad("message is not bytes")
    data = bytes(data)
    if len(data) > MAX_MESSAGE_SIZE:
        raise SipParseError(513, "Message Too Large")
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    end = data.find(b"\r\n\r\n", start)
    if end < 0:
        # No blank line: accepted when the datagram ends after a whole
        # header line (RFC 5118 §4.10 archive copies); the body is empty.
        if not data.endswith(b"\r\n") or len(data) - start < 4:
            raise _bad("incomplete header")
        end = len(data) - 2
        body_start = len(data)
    else:
        body_start = end + 4
    msg = parse_head_at(data, start, end)  # a refused request line raises here, with .message
    length = content_length(msg)
    rest = len(data) - body_start
    if length is None:
        length = rest  # RFC 2543 style datagram (RFC 4475 inv2543)
    elif length > rest:
        raise _bad("body shorter than Content-Length", msg)
    # Octets after the declared body are ignored on datagrams (RFC 4475 dblreq).
    msg.body = data[body_start : body_start + length]
    validate(msg)
    return msg


def parse_message(data):
    """Parse one SIP message from a datagram (bytes). Returns a Request or
    Response; raises SipParseError for anything else, whatever the input.
    Without Content-Length the body is the rest of the datagram."""
    try:
        return _parse_datagram(data)
    except SipParseError:
        raise
    except MemoryError:
        # The handset's heap cannot hold this message now: drop it.
        raise SipParseError(513, "out of memory")
    except Exception:
        # Last line of defence for the handset; the fuzz tests assert that
        # this reason never occurs.
        raise SipParseError(400, "internal parser error")

