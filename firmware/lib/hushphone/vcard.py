"""vCard 4.0 (RFC 6350) for the handset's address book: parse and write the
properties a desk phone uses (FN, N, TEL, EMAIL, ORG, NOTE, UID); any other
property is kept verbatim so that an export/import round trip loses nothing.

A contact is a dict: {"fn": str, "n": [family, given, additional, prefixes,
suffixes], "tel": [{"value", "types", "pref"}], "email": [...], "org",
"note", "uid", "extra": [unparsed property lines]} (absent keys omitted).

One codec for the handset (contacts menu, /data/contacts.vcf) and the host
tools (hushctl.vcard re-exports it); plain Python that MicroPython runs."""

_MAX_LINE = 75  # octets per physical line (RFC 6350 3.2)
_SINGLE = ("org", "note", "uid")
_MULTI = ("tel", "email")


class VCardError(ValueError):
    """Malformed vCard text or contact data (the peer's or the user's)."""


def _unescape(text):
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _escape(text, structured=False):
    text = text.replace("\\", "\\\\").replace("\n", "\\n").replace(",", "\\,")
    return text.replace(";", "\\;") if structured or ";" in text else text


def _split_unescaped(text, sep):
    parts, cur, i = [], [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
        elif text[i] == sep:
            parts.append("".join(cur))
            cur = []
            i += 1
        else:
            cur.append(text[i])
            i += 1
    parts.append("".join(cur))
    return parts


def _unfold(text):
    lines = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw.strip():
            lines.append(raw)
    return lines


def _parse_line(line):
    """(name, params {NAME: [values]}, value) of one content line."""
    colon, quoted = None, False
    for i, c in enumerate(line):
        if c == '"':
            quoted = not quoted
        elif c == ":" and not quoted:
            colon = i
            break
    if colon is None:
        raise VCardError("vCard line without ':': %r" % line[:40])
    head, value = line[:colon], line[colon + 1:]
    parts = head.split(";")
    name = parts[0].split(".")[-1].upper()  # drop a group prefix
    params = {}
    for p in parts[1:]:
        key, _, val = p.partition("=")
        vals = [v.strip('"') for v in val.strip('"').split(",")] if val else []
        params.setdefault(key.upper(), []).extend(vals)
    return name, params, value


def parse(text):
    """[contact] from vCard 4.0 text; raises VCardError on malformed input."""
    contacts, card = [], None
    for line in _unfold(text):
        name, params, value = _parse_line(line)
        if name == "BEGIN" and value.upper() == "VCARD":
            if card is not None:
                raise VCardError("nested BEGIN:VCARD")
            card, version = {}, None
        elif card is None:
            raise VCardError("content outside BEGIN:VCARD/END:VCARD")
        elif name == "END" and value.upper() == "VCARD":
            if version != "4.0":
                raise VCardError("only vCard 4.0 is supported (RFC 6350), got %r" % version)
            if not card.get("fn"):
                raise VCardError("a vCard needs FN (formatted name)")
            contacts.append(card)
            card = None
        elif name == "VERSION":
            version = value.strip()
        elif name == "FN":
            card["fn"] = _unescape(value)
        elif name == "N":
            card["n"] = [_unescape(p) for p in _split_unescaped(value, ";")]
        elif name.lower() in _MULTI:
            is_uri = [v.lower() for v in params.get("VALUE", [])] == ["uri"]
            entry = {"value": value if is_uri else _unescape(value)}
            types = [t.lower() for t in params.get("TYPE", []) if t]
            if types:
                entry["types"] = types
            if params.get("PREF"):
                try:
                    entry["pref"] = int(params["PREF"][0])
                except ValueError:
                    raise VCardError("PREF must be a number: %r" % params["PREF"][0])
            card.setdefault(name.lower(), []).append(entry)
        elif name.lower() in _SINGLE:
            card[name.lower()] = _unescape(value)
        else:
            card.setdefault("extra", []).append(line)
    if card is not None:
        raise VCardError("vCard not closed with END:VCARD")
    return contacts


def _fold(line):
    data = line.encode("utf-8")
    out, start, limit = [], 0, _MAX_LINE
    while len(data) - start > limit:
        end = start + limit
        while end > start and (data[end] & 0xC0) == 0x80:  # never split a UTF-8 sequence
            end -= 1
        out.append(data[start:end])
        start, limit = end, _MAX_LINE - 1  # continuation lines start with a space
    out.append(data[start:])
    return b"\r\n ".join(out).decode("utf-8")


def _typed(name, entry):
    params = ""
    if entry.get("types"):
        params += ";TYPE=" + ",".join(entry["types"]) if len(entry["types"]) == 1 else ';TYPE="%s"' % ",".join(entry["types"])
    if entry.get("pref"):
        params += ";PREF=%d" % entry["pref"]
    if name == "TEL" and entry["value"].startswith("tel:"):
        params = ";VALUE=uri" + params
    value = entry["value"] if params.startswith(";VALUE=uri") else _escape(entry["value"])  # URIs are not escaped
    return "%s%s:%s" % (name, params, value)


def check(contact):
    """Validate one contact dict (from JSON); raises VCardError."""
    if not isinstance(contact, dict) or not isinstance(contact.get("fn"), str) or not contact["fn"]:
        raise VCardError("every contact needs a non-empty 'fn'")
    for key in _MULTI:
        for entry in contact.get(key, []):
            if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
                raise VCardError("contact %r: each %s needs a 'value'" % (contact["fn"], key))
    for key in _SINGLE:
        if key in contact and not isinstance(contact[key], str):
            raise VCardError("contact %r: %s must be text" % (contact["fn"], key))
    if "n" in contact and not (isinstance(contact["n"], list) and all(isinstance(p, str) for p in contact["n"])):
        raise VCardError("contact %r: n must be a list of text" % contact["fn"])
    return contact


def serialize(contacts):
    """vCard 4.0 text (CRLF line ends, folded at 75 octets)."""
    lines = []
    for c in contacts:
        check(c)
        lines += ["BEGIN:VCARD", "VERSION:4.0", "FN:" + _escape(c["fn"])]
        if c.get("n"):
            lines.append("N:" + ";".join(_escape(p, structured=True) for p in c["n"]))
        for key in _MULTI:
            lines += [_typed(key.upper(), e) for e in c.get(key, [])]
        for key in _SINGLE:
            if c.get(key):
                lines.append("%s:%s" % (key.upper(), _escape(c[key])))
        lines += c.get("extra", [])
        lines.append("END:VCARD")
    return "".join(_fold(l) + "\r\n" for l in lines)
