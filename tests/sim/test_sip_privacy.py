"""Privacy by default, checked on what a real Kamailio received from our
user agents: across two consecutive registrations and two calls no
identifier repeats (Call-ID, tags, branches, contact user and host, digest
cnonce, SDP session id and port) except the address-of-record and the
credentials; there is no User-Agent or Server header; and a withheld call
carries no identity in From or Contact (RFC 3323)."""
import asyncio
import os

from tests.sim.conftest import USERS
from tests.sim.kamailio import Kamailio, free_port
from tests.sim.sipphone import Phone

from hushphone import sdp  # noqa: E402  (sipphone put firmware/lib on sys.path)
from hushphone.sip import events  # noqa: E402
from hushphone.sip.message import parse_auth_params, parse_message, parse_name_addr, parse_via  # noqa: E402

SUITES = ("AES_CM_128_HMAC_SHA1_80",)


def identifiers(msg):
    """The values a UA chose itself in one message, as (kind, value)."""
    h = msg.headers
    out = {("call-id", h.get("Call-ID"))}
    for name in ("From", "To"):
        tag = parse_name_addr(h.get(name)).tag
        if tag is not None:
            out.add(("tag", tag))
    for value in h.get_all("Via"):
        via = parse_via(value)
        if via.host.endswith(".invalid"):  # ours, not Kamailio's own Via
            out.add(("branch", via.branch))
            out.add(("host", via.host))
    for value in h.get_all("Contact"):
        uri = parse_name_addr(value).uri
        out.add(("contact-user", uri.user))
        out.add(("host", uri.host))
    for name in ("Authorization", "Proxy-Authorization"):
        if h.get(name):
            out.add(("cnonce", parse_auth_params(h.get(name))[1].get("cnonce")))
    if msg.body:
        desc = sdp.SessionDescription.parse(msg.body)
        out.add(("sdp-session", str(desc.origin.session_id)))
        out.add(("rtp-port", str(desc.audio().port)))
    return out


def test_nothing_repeats_and_withheld_calls_are_anonymous(tmp_path, pki):
    groups = []  # one set of Call-IDs per registration or call

    async def scenario(k):
        async with Phone(k, pki, "alice", USERS["alice"]) as alice, Phone(k, pki, "bob", USERS["bob"]) as bob:
            for _ in range(2):  # two consecutive registrations of alice
                assert isinstance(await alice.register(), events.Registered)
                groups.append(alice.ua.registration._call_id)
                alice.act("unregister")
                await alice.expect(events.Unregistered)
            assert isinstance(await alice.register(), events.Registered)
            assert isinstance(await bob.register(), events.Registered)
            for anonymous in (False, True):
                offer = sdp.build_offer("127.0.0.1", free_port(), ["PCMU"], SUITES, os.urandom)
                call = alice.act("call", "bob", offer.to_bytes(), anonymous=anonymous)
                incoming = await bob.expect(events.IncomingCall)
                answer, _ = sdp.answer(incoming.body, "127.0.0.1", free_port(), ["PCMU"], SUITES, os.urandom)
                bob.act("answer", incoming.call, answer.to_bytes())
                await alice.expect(events.CallAnswered)
                await bob.expect(events.CallConfirmed)
                alice.act("hangup", call)
                await alice.expect(events.CallEnded)
                await bob.expect(events.CallEnded)
                groups.append(call.call_id)

    with Kamailio(tmp_path, pki, USERS) as k:
        asyncio.run(asyncio.wait_for(scenario(k), 90))
        received = [parse_message(m) for m in k.received()]

    by_group = {}
    for msg in received:
        by_group.setdefault(msg.headers.get("Call-ID"), []).append(msg)
    assert all(g in by_group for g in groups)

    # 1. nothing links two registrations or two calls
    seen = {}
    for group in groups:
        for msg in by_group[group]:
            for value in identifiers(msg):
                owner = seen.setdefault(value, group)
                assert owner == group, "%r repeats across registrations/calls" % (value,)
    kinds = {kind for kind, _ in seen}
    assert kinds >= {"call-id", "tag", "branch", "host", "contact-user", "cnonce", "sdp-session", "rtp-port"}

    # 2. no software version strings, no identity headers we were not asked for
    for msg in received:
        for name in ("User-Agent", "Server", "P-Preferred-Identity"):
            assert name not in msg.headers, msg

    # 3. the withheld call: no "alice" in anything alice sent in that dialog
    anonymous = by_group[groups[-1]]
    invite = [m for m in anonymous if m.is_request and m.method == "INVITE"][0]
    assert parse_name_addr(invite.headers.get("From")).uri.host == "anonymous.invalid"
    assert parse_name_addr(invite.headers.get("From")).display == "Anonymous"
    assert invite.headers.get("Privacy") == "id"
    for msg in anonymous:
        if msg.is_request and parse_name_addr(msg.headers.get("From")).uri.user == "anonymous":
            assert b"alice" not in msg.to_bytes(), msg.to_bytes()
