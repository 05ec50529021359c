# Transparency: what each party can see of the handset's calls, stated from
# the live configuration (DESIGN "privacy-first": the phone and the tools
# can state exactly which protections are active). Sans-IO; the About
# screen (app/ui.py), the console's `report` and `hushctl handset report`
# all use report() and about_lines(), so they cannot disagree.
#
# Parties: the proxy (the SIP provider's server; none in direct calls),
# the peer (the other phone and its provider), the network (anyone on the
# path between the handset and the proxy or relay).


def relays_media(uri):
    """Whether this firmware carries call media through the TURN relay at
    `uri`: over UDP (turn:) and TLS (turns:), yes; TURN over plain TCP
    carries no calls, so such a relay hides nothing, and the report says so."""
    from hushphone.turn import uri as turn_uri

    try:
        return turn_uri.parse(uri).transport in ("udp", "tls")
    except turn_uri.TurnUriError:
        return False

NEVER = "never"  # the proxy can decrypt media: never (ZRTP only)
FALLBACK = "only with peers without ZRTP"  # SDES fallback allowed
ALWAYS = "always"  # ZRTP off: every call's keys are in SIP
PLAIN = "plain RTP allowed"  # allow_insecure_media: anyone on the path


def report(aor, proxy_host, withhold, zrtp, sdes_fallback, allow_insecure=False, turn=None, direct=False):
    """What each party sees. turn: (uri, user) of the relay or None; direct:
    calls go to the peer over mutual TLS, no proxy. Returns a JSON-ready
    dict {"proxy": {...} or None, "peer": {...}, "network": {...}}."""
    relay = _relay_host(turn[0]) if turn and relays_media(turn[0]) else None
    if allow_insecure:
        decrypt = PLAIN
    elif not zrtp:
        decrypt = ALWAYS
    else:
        decrypt = FALLBACK if sdes_fallback else NEVER
    media_address = "the relay's (%s)" % relay if relay else "yours"
    proxy = None
    if not direct:
        proxy = {
            "host": proxy_host,
            "aor": aor,  # it authenticates us: withholding hides us from the peer, not from the proxy
            "ip": "yours (SIP over TLS)",
            "media_address": media_address,
            "can_decrypt_media": decrypt,
        }
    peer = {
        "caller_id": "withheld (anonymous)" if withhold else aor,
        "media_address": media_address,
        "device_certificate": direct,  # mutual TLS: the peer sees our certificate
        "sas": bool(zrtp),  # a ZRTP peer and we can compare the SAS
    }
    network = {
        "signalling": "encrypted (TLS) to %s" % (proxy_host if not direct else "the peer"),
        "media": "unencrypted RTP possible" if allow_insecure else "encrypted (SRTP), fixed-size packets",
        "endpoints": ("your IP to the proxy and the relay %s" % relay) if relay else "your IP to the proxy and peer",
    }
    if relay:
        network["relay"] = turn[0].split(":", 1)[0]  # turn (UDP/TCP) or turns (TLS)
    elif turn:
        network["relay"] = "configured, but calls do not use TURN over plain TCP: your IP is seen"
    return {"proxy": proxy, "peer": peer, "network": network}


def _relay_host(uri):
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    rest = rest.split("?", 1)[0]
    if rest.startswith("["):
        return rest[1:rest.find("]")] if "]" in rest else rest
    return rest.split(":", 1)[0]


# Whether the proxy can decrypt media: (long, short) lines.
_DECRYPT = {NEVER: (" decrypts: never", " decrypt: no"), FALLBACK: (" decrypts: if no ZRTP", " decrypt: some"),
            ALWAYS: (" decrypts: yes (SDES)", " decrypt: all"), PLAIN: (" decrypts: PLAIN ok", " decrypt: all")}


def about_lines(r):
    """The About screen's lines for a report (long form, short form): each
    fits 22 columns in its long form and 14 in its short one."""
    lines = []
    proxy = r["proxy"]
    if proxy is None:
        lines.append(("No proxy (direct)", "No proxy"))
    else:
        lines.append(("Proxy sees:", "Proxy sees:"))
        lines.append((" your account", " account"))
        lines.append((" your IP address", " your IP"))
        relay = proxy["media_address"] != "yours"
        lines.append((" media: via relay" if relay else " your media IP", " relay IP" if relay else " media IP"))
        lines.append(_DECRYPT[proxy["can_decrypt_media"]])
    peer = r["peer"]
    lines.append(("Peer sees:", "Peer sees:"))
    withheld = peer["caller_id"].startswith("withheld")
    lines.append((" caller ID: withheld" if withheld else " your caller ID", " ID withheld" if withheld else " your ID"))
    relay = peer["media_address"] != "yours"
    lines.append((" relay's IP, not yours" if relay else " your IP address", " relay IP" if relay else " your IP"))
    if peer["device_certificate"]:
        lines.append((" your certificate", " your cert"))
    lines.append(("Network sees:", "Network sees:"))
    relayed = r["peer"]["media_address"] != "yours"
    lines.append((" who: proxy, relay" if relayed else " who: proxy/peer", " endpoints"))
    lines.append((" content: encrypted" if "unencrypted" not in r["network"]["media"] else " media: PLAIN ok",
                  " encrypted" if "unencrypted" not in r["network"]["media"] else " PLAIN ok"))
    return lines
