# SIP message syntax: the public face of the parsing modules beside it.
# Contract with the transaction/dialog/UA modules (see the task brief):
#   SipError, SipParseError(.status, .reason, .message, .fatal), RemoteSipError
#   parse_message(bytes) -> Request | Response   (only SipParseError escapes)
#   Request(method, uri, headers, body), Response(status, reason, headers, body)
#   Headers, parse_uri/SipUri/uri_equal, parse_name_addr/NameAddr,
#   parse_via/Via, parse_cseq, parse_auth_params/parse_challenges,
#   StreamParser, MAX_MESSAGE_SIZE/MAX_HEADERS/MAX_LINE.
# Additions beyond the brief: SipParseError.message/.fatal, LocalSipError,
# Headers.get_fields/count, Params (ordered, case-insensitive; values as
# received, quoted strings keep their quotes), unquote/quote/unescape,
# SipUri.opaque (non-SIP schemes), SipUri.host_port(), Via.branch/sent_by(),
# NameAddr.tag, canonical_name/COMPACT/LIST_HEADERS.
# Choices: SipUri.user and param values stay %-escaped as received (str()
# reproduces them; uri_equal() and unescape() compare/decode); header param
# values keep their quotes (unquote() them). parse_message validates the
# mandatory and structured headers (From/To/Call-ID/CSeq once, Via, Contact,
# Route, Record-Route, Max-Forwards, CSeq method = request method) and
# rejects, strictly, extra SP in the Request-Line and headers in the
# Request-URI (RFC 4475 §3.1.2.9-11 allow either choice). Without
# Content-Length a datagram's body is the rest of it; on a stream it is a
# fatal error. Limits: model.py.
from hushphone.sip.errors import PEER_ERRORS, LocalSipError, RemoteSipError, SipError, SipParseError  # noqa: F401
from hushphone.sip.framing import StreamParser  # noqa: F401
from hushphone.sip.headers import (  # noqa: F401
    COMPACT,
    LIST_HEADERS,
    Headers,
    NameAddr,
    Via,
    canonical_name,
    parse_auth_params,
    parse_challenges,
    parse_cseq,
    parse_name_addr,
    parse_via,
)
from hushphone.sip.model import MAX_HEADERS, MAX_LINE, MAX_MESSAGE_SIZE, Request, Response  # noqa: F401
from hushphone.sip.parser import parse_message  # noqa: F401
from hushphone.sip.syntax import Params, quote, unescape, unquote  # noqa: F401
from hushphone.sip.uri import SipUri, parse_uri, uri_equal  # noqa: F401
