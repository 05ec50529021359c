# Hostile SIP messages of at most MAX_MESSAGE_SIZE octets, each built to
# make one part of the parser or the user agent work as hard as it can:
# parameter floods, long lists, many headers, escapes, quoted pairs,
# folding. Shared by the bounded-work benchmark (bench/bench_sip_worst.py)
# and the fuzzer's seed pool; the same bytes on both runtimes.
from hushphone.sip.model import MAX_HEADERS, MAX_LINE, MAX_LINES, MAX_MESSAGE_SIZE
from hushphone.sip.syntax import MAX_PARAMS

_HEAD = (
    "%s sip:bob@example.test SIP/2.0\r\n"
    "Via: SIP/2.0/TLS p.example.test;branch=z9hG4bKadv%s%s\r\n"
    "From: <sip:alice@example.test>;tag=at%s\r\n"
    "To: <sip:bob@example.test>%s%s\r\n"
    "Call-ID: adversarial-%s\r\n"
    "CSeq: 7 %s\r\n"
    "Contact: <sip:alice@p.example.test>%s\r\n"
    "Max-Forwards: 70\r\n"
)


def _fill(unit, room):
    """As many copies of unit as fit in room octets (at least one)."""
    return unit * max(1, room // len(unit))


def _message(method, name, via_params="", from_params="", to_params="", contact_params="", extra=""):
    head = _HEAD % (method, name, via_params, name, ";tag=bt" if method == "BYE" else "", to_params, name, method,
                    contact_params)
    if from_params:
        head = head.replace(";tag=at" + name, ";tag=at" + name + from_params)
    return (head + extra + "Content-Length: 0\r\n\r\n").encode()


def _fit(build, unit, most=None):
    """build(unit * k) with the largest k that keeps it within the limit."""
    lo, hi = 1, most or MAX_MESSAGE_SIZE // max(1, len(unit))
    best = build(unit)
    while lo <= hi:
        mid = (lo + hi) // 2
        data = build(unit * mid)
        if len(data) <= MAX_MESSAGE_SIZE:
            best, lo = data, mid + 1
        else:
            hi = mid - 1
    return best


def _lines(name, unit, first="", room=MAX_LINE - 64):
    """Header lines 'name: first unit unit ...', each within MAX_LINE."""
    return name + ": " + first + _fill(unit, room - len(first)) + "\r\n"


def _many(line):
    """line repeated to fill what MAX_MESSAGE_SIZE leaves (at least once)."""
    return lambda k: line * k


def cases():
    """[(name, bytes)] of hostile messages, each <= MAX_MESSAGE_SIZE and
    within the other caps where it can be (the worst that is accepted, not
    only what is refused early)."""
    out = []
    # Issue 11 item 2: parameters in each of Via/From/To/Contact (BYE).
    p = _fill(";p1=v", 1900)
    out.append(("param flood in 4 headers", _message("BYE", "pf", p, p, p, p)))
    cap = "".join([";a%d" % k for k in range(MAX_PARAMS - 2)])
    out.append(("MAX_PARAMS in 4 headers", _message("BYE", "pc", cap, cap, cap, cap)))
    out.append(("MAX_PARAMS in many Contacts", _fit(
        lambda k: _message("OPTIONS", "mc", extra=("Contact: <sip:c@h" + cap + ">" + cap + "\r\n") * len(k)), "x", 40)))
    out.append(("long Via list", _fit(
        lambda k: _message("OPTIONS", "vl", extra=("Via: " + ", ".join(["SIP/2.0/TLS h;branch=z9hG4bKv"] * 40) + "\r\n")
                           * len(k)), "x", 40)))
    out.append(("long Record-Route list", _fit(
        lambda k: _message("INVITE", "rr", extra=("Record-Route: " + ", ".join(["<sip:p;lr>"] * 100) + "\r\n")
                           * len(k)), "x", 40)))
    out.append(("many short headers", _fit(lambda p: _message("OPTIONS", "mh", extra=p), "X: a\r\n")))
    out.append(("MAX_HEADERS short headers", _message("OPTIONS", "mx", extra="X: a\r\n" * (MAX_HEADERS - 9))))
    out.append(("many Route headers", _message("OPTIONS", "mr", extra="Route: <sip:r;lr>\r\n" * (MAX_HEADERS - 9))))
    out.append(("escapes in URIs", _fit(
        lambda k: _message("OPTIONS", "es", extra=("Contact: <sip:" + _fill("%41", 1900) + "@h>\r\n") * len(k)), "x", 40)))
    out.append(("quoted pairs in display", _fit(
        lambda k: _message("OPTIONS", "qp", extra=('Contact: "' + _fill("\\\"", 1900) + '" <sip:q@h>\r\n') * len(k)),
        "x", 40)))
    out.append(("folded lines", _message("OPTIONS", "fl", extra="Subject: a" + "\r\n b" * (MAX_LINES - 12) + "\r\n")))
    out.append(("commas in Require", _fit(
        lambda k: _message("OPTIONS", "rq", extra=_lines("Require", ",a", "a") * len(k)), "x", 40)))
    out.append(("commas in Accept", _fit(
        lambda k: _message("INVITE", "ac", extra=_lines("Accept", ",text/x", "text/x") * len(k)), "x", 40)))
    out.append(("Accept look-alikes", _fit(
        lambda k: _message("INVITE", "al", extra=_lines("Accept", ",application/sdpx", "application/sdpx") * len(k)),
        "x", 40)))
    out.append(("long unknown headers", _fit(lambda k: _message("OPTIONS", "cl", extra=_lines("Subject", "c") * len(k)), "x", 40)))
    return out
