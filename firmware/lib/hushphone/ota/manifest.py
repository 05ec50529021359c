# The update manifest: canonical JSON (UTF-8, sorted keys, no spaces, exactly
# what CPython's json.dumps(sort_keys=True, separators=(",", ":"),
# ensure_ascii=False) writes) signed like an image: padded with 0xFF to 4 KiB
# and followed by a Secure Boot V2 signature sector. The encoder is ours
# because MicroPython's json.dumps cannot sort keys.
#
# "kind" says what the image is: "app" (an ESP-IDF app image for an OTA
# slot; the default when absent, so app manifests stay readable by older
# handsets) or "fs" (a filesystem image with the firmware for a handset that
# runs a stock MicroPython release; see ota/fsslots.py).
import json

from hushphone.ota import OtaRejected

FORMAT = 1
_FIELDS = {
    "format": "int", "boards": "list", "chip": "str", "version": "version", "secure_version": "int",
    "image_size": "int", "image_sha256": "hex", "released": "int", "expires": "int", "notes": "str", "kind": "kind",
}
_OPTIONAL = ("notes", "kind")
KIND_APP = "app"
KIND_FS = "fs"
KINDS = (KIND_APP, KIND_FS)
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _encode_str(s, out):
    out.append('"')
    for ch in s:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')


def _encode(value, out):
    if isinstance(value, str):
        _encode_str(value, out)
    elif value is True or value is False:
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif isinstance(value, dict):
        out.append("{")
        for i, key in enumerate(sorted(value)):
            if i:
                out.append(",")
            _encode_str(key, out)
            out.append(":")
            _encode(value[key], out)
        out.append("}")
    else:
        raise ValueError("cannot encode %r in a manifest" % (value,))


def encode(fields):
    """Canonical JSON bytes of a manifest dict."""
    out = []
    _encode(fields, out)
    return "".join(out).encode("utf-8")


def _is_int(v):
    return type(v) is int  # bool is not a manifest integer


def _check_field(name, kind, v):
    if kind == "int":
        return _is_int(v) and v >= 0
    if kind == "str":
        return isinstance(v, str) and 0 < len(v) <= 1024
    if kind == "version":  # as in esp_app_desc_t: up to 31 bytes, may be empty
        return isinstance(v, str) and len(v.encode("utf-8")) <= 31
    if kind == "kind":
        return v in KINDS
    if kind == "hex":
        return isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)
    if kind == "list":
        return (isinstance(v, list) and 0 < len(v) <= 64
                and all(isinstance(b, str) and 0 < len(b) <= 64 for b in v))
    return False


class Manifest:
    """A decoded, well-formed manifest (fields as attributes)."""

    def __init__(self, fields):
        self.fields = fields
        self.boards = fields["boards"]
        self.chip = fields["chip"]
        self.version = fields["version"]
        self.secure_version = fields["secure_version"]
        self.image_size = fields["image_size"]
        self.image_sha256 = fields["image_sha256"]
        self.released = fields["released"]
        self.expires = fields["expires"]
        self.notes = fields.get("notes")
        self.kind = fields.get("kind", KIND_APP)


def decode(data):
    """Parse canonical manifest JSON bytes; OtaRejected("malformed") unless
    every field is present, typed right, and the encoding is canonical."""
    try:
        fields = json.loads(bytes(data).decode("utf-8"))
    except Exception:  # ValueError/UnicodeError differ between runtimes
        raise OtaRejected("malformed", "manifest is not valid UTF-8 JSON")
    if not isinstance(fields, dict):
        raise OtaRejected("malformed", "manifest is not a JSON object")
    for name in fields:
        if name not in _FIELDS:
            raise OtaRejected("malformed", "manifest has unknown field %r" % name)
    for name, kind in _FIELDS.items():
        if name not in fields:
            if name in _OPTIONAL:
                continue
            raise OtaRejected("malformed", "manifest lacks field %r" % name)
        if not _check_field(name, kind, fields[name]):
            raise OtaRejected("malformed", "manifest field %r has a bad value" % name)
    if fields["format"] != FORMAT:
        raise OtaRejected("malformed", "manifest format %d is not supported" % fields["format"])
    if encode(fields) != bytes(data):
        raise OtaRejected("malformed", "manifest JSON is not in canonical form")
    return Manifest(fields)


def strip_padding(body):
    """The manifest JSON inside its 0xFF-padded signed body (JSON text never
    contains the byte 0xFF)."""
    end = len(body)
    while end and body[end - 1] == 0xFF:
        end -= 1
    return bytes(body[:end])
