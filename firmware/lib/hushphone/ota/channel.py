# The signed channel document a handset pulls from a static HTTPS host:
# what is current on one channel ("stable", "beta", ...) per board. Written
# by `hushctl ota publish`, signed exactly like an update manifest
# (canonical JSON padded with 0xFF to 4 KiB, then a Secure Boot V2
# signature sector by the release keys), so the handset checks it with its
# own trust store and the code that checks manifests. Sans-IO: bytes, the
# trust anchors and the time in, a ChannelDocument or OtaRejected out.
#
#   {"type": "hushphone-channel", "format": 1, "channel": "stable",
#    "sequence": 7,              monotonic: a handset refuses a lower one
#    "issued": T, "expires": T,  UNIX seconds: an expired document is refused
#    "halt": false,              true: install nothing from this document
#    "boards": {"lyrat-v4.3": {"version": "1.1.0", "secure_version": 2,
#        "bundle": "bundles/...hushota" (relative to the document's URL),
#        "sha256": hex of the bundle file, "size": bytes,
#        "rollout": 0..10000 (basis points of the fleet that install it)}}}
import json

from hushphone.compat import const
from hushphone.crypto.sha import sha256
from hushphone.ota import OtaRejected, manifest, sbv2

TYPE = "hushphone-channel"
FORMAT = 1
ROLLOUT_ALL = const(10000)  # basis points
MAX_SIGNED_SIZE = const(4 * 4096)
_SECTOR = const(4096)
_TOP = {"type": "str", "format": "int", "channel": "name", "sequence": "seq", "issued": "int", "expires": "int",
        "halt": "bool", "boards": "boards"}
_ENTRY = {"version": "version", "secure_version": "int", "bundle": "path", "sha256": "hex", "size": "int",
          "rollout": "rollout"}
_MAX_BOARDS = const(64)
_I32_MAX = const(0x7FFFFFFF)  # the sequence is kept in an NVS i32


def name_ok(v):
    return isinstance(v, str) and 0 < len(v) <= 64 and all(c.isalpha() or c.isdigit() or c in "-_." for c in v)


def path_ok(v):
    # relative, no scheme, no way out of the channel's directory tree
    return (isinstance(v, str) and 0 < len(v) <= 200 and not v.startswith("/") and ":" not in v
            and ".." not in v.split("/") and all(0x20 < ord(c) < 0x7F for c in v))


def _ok(kind, v):
    if kind == "int":
        return type(v) is int and v >= 0
    if kind == "seq":
        return type(v) is int and 0 < v <= _I32_MAX
    if kind == "bool":
        return v is True or v is False
    if kind == "str":
        return isinstance(v, str) and 0 < len(v) <= 64
    if kind == "name":
        return name_ok(v)
    if kind == "version":
        return isinstance(v, str) and len(v.encode("utf-8")) <= 31
    if kind == "hex":
        return isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)
    if kind == "path":
        return path_ok(v)
    if kind == "rollout":
        return type(v) is int and 0 <= v <= ROLLOUT_ALL
    return False


def _check_object(obj, spec, what):
    if not isinstance(obj, dict):
        raise OtaRejected("malformed", "%s is not a JSON object" % what)
    for name in obj:
        if name not in spec:
            raise OtaRejected("malformed", "%s has unknown field %r" % (what, name))
    for name, kind in spec.items():
        if name not in obj:
            raise OtaRejected("malformed", "%s lacks field %r" % (what, name))
        if kind != "boards" and not _ok(kind, obj[name]):
            raise OtaRejected("malformed", "%s field %r has a bad value" % (what, name))


class Release:
    """What one board should run, from a channel document."""

    def __init__(self, board, fields):
        self.board = board
        self.version = fields["version"]
        self.secure_version = fields["secure_version"]
        self.bundle = fields["bundle"]
        self.sha256 = fields["sha256"]
        self.size = fields["size"]
        self.rollout = fields["rollout"]


class ChannelDocument:
    def __init__(self, fields):
        self.fields = fields
        self.channel = fields["channel"]
        self.sequence = fields["sequence"]
        self.issued = fields["issued"]
        self.expires = fields["expires"]
        self.halt = fields["halt"]
        self.boards = fields["boards"]

    def release_for(self, board):
        """The Release for `board`, or None if the channel has none."""
        entry = self.boards.get(board)
        return None if entry is None else Release(board, entry)


def decode(text):
    """A ChannelDocument from canonical JSON bytes; OtaRejected("malformed")
    unless every field is present, typed right and canonically encoded."""
    try:
        fields = json.loads(bytes(text).decode("utf-8"))
    except Exception:  # ValueError/UnicodeError differ between runtimes
        raise OtaRejected("malformed", "channel document is not valid UTF-8 JSON")
    _check_object(fields, _TOP, "channel document")
    if fields["type"] != TYPE:
        raise OtaRejected("malformed", "not a channel document (type %r)" % fields["type"])
    if fields["format"] != FORMAT:
        raise OtaRejected("malformed", "channel document format %d is not supported" % fields["format"])
    boards = fields["boards"]
    if not isinstance(boards, dict) or len(boards) > _MAX_BOARDS:
        raise OtaRejected("malformed", "channel document boards is not an object of at most %d boards" % _MAX_BOARDS)
    for board, entry in boards.items():
        if not name_ok(board):
            raise OtaRejected("malformed", "channel document has a bad board name")
        _check_object(entry, _ENTRY, "channel entry for %s" % board)
    if fields["expires"] <= fields["issued"]:
        raise OtaRejected("malformed", "channel document expires before it was issued")
    if manifest.encode(fields) != bytes(text):
        raise OtaRejected("malformed", "channel document JSON is not in canonical form")
    return ChannelDocument(fields)


def verify(signed, anchors, now):
    """Check a signed channel document (JSON + 0xFF padding + signature
    sector) under `anchors` (sbv2.TrustAnchors: the handset's OTA trust
    store) at time `now` (UNIX seconds; None refuses: expiry cannot be
    checked). Returns the ChannelDocument. The sequence is the caller's to
    check against what this handset has seen (ChannelState)."""
    n = len(signed)
    if n < 2 * _SECTOR or n % _SECTOR or n > MAX_SIGNED_SIZE:
        raise OtaRejected("malformed", "signed channel document is %d bytes, not 2 to 4 whole 4 KiB sectors" % n)
    mv = memoryview(signed)
    body = mv[: n - _SECTOR]
    blocks = sbv2.parse_signature_sector(mv[n - _SECTOR :])
    digests = {"sha256": sha256(body)}
    for b in blocks:
        if b.hash_name == "sha384":
            from hushphone.ota.sha384 import sha384

            digests["sha384"] = sha384(body)
            break
    sbv2.check_signatures(blocks, digests, anchors)
    doc = decode(manifest.strip_padding(body))
    if now is None:
        raise OtaRejected("expired", "the current time is unknown, so the channel document's expiry cannot be checked")
    if now >= doc.expires:
        raise OtaRejected("expired", "channel document expired at %d, it is now %d" % (doc.expires, now))
    return doc


def resolve(base_url, relative):
    """The bundle's URL: `relative` against the channel document's URL."""
    return base_url[: base_url.rfind("/") + 1] + relative
