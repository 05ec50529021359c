# Media security policy: which calls the handset accepts and how it shows
# their protection. Secure by default (DESIGN "privacy-first"):
#
# - SRTP is required. Keys agreed end to end by ZRTP are preferred and shown
#   as "ZRTP" with the short authentication string (SAS) to compare.
# - SDES keys travel inside SIP, which the provider's proxy reads: accepted
#   only when SIP runs over TLS (the only transport this phone has) and
#   shown as "SRTP (provider can decrypt)".
# - Plain RTP is refused unless the configuration explicitly allows insecure
#   calls (allow_insecure_media), and then shown as "NOT ENCRYPTED".
#
# Sans-IO: decide() looks at the SDP outcome (sdp.Negotiated), nothing else.

ZRTP = "zrtp"
SDES = "sdes"
NONE = "none"

LABEL_SDES = "SRTP (provider can decrypt)"
LABEL_NONE = "NOT ENCRYPTED"
LABEL_ZRTP = "ZRTP"
LABEL_ZRTP_PENDING = "ZRTP: securing..."
LABEL_KEYS_CHANGED = "Keys changed: verify the SAS"

# What SDES suites we offer and accept, strongest first.
SRTP_SUITES = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32")


class PolicyRefused(Exception):
    """The call's media does not meet the policy; `status` is the SIP
    status to refuse it with (488 Not Acceptable Here)."""

    def __init__(self, reason, status=488):
        super().__init__(reason)
        self.reason = reason
        self.status = status


class CallSecurity:
    """The protection of one call's media. kind: ZRTP, SDES or NONE.
    For ZRTP: sas (None until agreed), verified (the peer's SAS was
    confirmed before and the cached secret matched), keys_changed (cache
    mismatch: warn), secure (the key agreement finished)."""

    def __init__(self, kind):
        self.kind = kind
        self.sas = None
        self.verified = False
        self.keys_changed = False
        self.secure = kind != ZRTP

    def zrtp_secure(self, sas, verified):
        self.sas = sas
        self.verified = verified
        self.secure = True

    def label(self):
        """The indicator text for the status line."""
        if self.kind == SDES:
            return LABEL_SDES
        if self.kind == NONE:
            return LABEL_NONE
        if not self.secure:
            return LABEL_ZRTP_PENDING
        if self.verified:
            return "%s %s (verified)" % (LABEL_ZRTP, self.sas)
        return "%s SAS %s" % (LABEL_ZRTP, self.sas)

    def short_label(self):
        """A few characters for a narrow status line."""
        if self.kind == SDES:
            return "SRTP*"
        if self.kind == NONE:
            return "INSECURE"
        if not self.secure:
            return "ZRTP.."
        return "ZRTP %s%s" % (self.sas, "" if self.verified else "?")

    def warning(self):
        return LABEL_KEYS_CHANGED if self.keys_changed else None

    def __repr__(self):
        return "CallSecurity(%s)" % self.label()


class MediaPolicy:
    """allow_insecure: accept plain RTP (shown NOT ENCRYPTED); zrtp: offer
    ZRTP first, with no keys in SIP, and prefer it; sdes_fallback: a peer
    without ZRTP may have SDES keys (offered only after it refused ZRTP,
    app/offers.py; shown "provider can decrypt"); off, with zrtp: ZRTP or
    no call. zrtp_only=True is the same as zrtp with no SDES fallback.
    signalling: the SIP transport ("tls" on this phone)."""

    def __init__(self, allow_insecure=False, zrtp=False, signalling="tls", suites=SRTP_SUITES, zrtp_only=False,
                 sdes_fallback=True):
        self.allow_insecure = bool(allow_insecure)
        self.zrtp = bool(zrtp) or bool(zrtp_only)
        self.sdes_fallback = bool(sdes_fallback) and not zrtp_only
        self.signalling = signalling
        self.suites = tuple(suites)

    @property
    def zrtp_only(self):
        """ZRTP or no call: no SDES keys ever, offered or accepted."""
        return self.zrtp and not self.sdes_fallback

    @zrtp_only.setter
    def zrtp_only(self, value):
        if value:
            self.zrtp = True
        self.sdes_fallback = not value

    def sdes_suites(self):
        """The a=crypto suites an SDES offer carries: only over TLS, none
        when ZRTP is required."""
        return list(self.suites) if self.signalling == "tls" and not self.zrtp_only else []

    def offer_suites(self):
        """The a=crypto suites of a first offer: none when ZRTP is on (its
        keys never pass through SIP), else the SDES suites."""
        return [] if self.zrtp else self.sdes_suites()

    def decide(self, neg):
        """The CallSecurity for a negotiated stream (sdp.Negotiated), or
        PolicyRefused. ZRTP wins over SDES when both sides run it."""
        if neg is None or neg.rejected:
            raise PolicyRefused("no acceptable media: %s" % (getattr(neg, "reason", None) or "rejected"))
        if self.zrtp and neg.zrtp_hash is not None:
            return CallSecurity(ZRTP)
        if self.zrtp_only:
            raise PolicyRefused("ZRTP required, the peer has none")
        if neg.crypto_suite is not None:
            if self.signalling != "tls":
                raise PolicyRefused("SDES keys refused without TLS signalling")
            if neg.crypto_suite not in self.suites:
                raise PolicyRefused("SRTP suite %s not allowed" % neg.crypto_suite)
            return CallSecurity(SDES)
        if self.allow_insecure:
            return CallSecurity(NONE)
        raise PolicyRefused("unencrypted media refused")

    def protections(self):
        """Lines for the about/transparency screen (short: a handset's
        display is narrow): what protects calls."""
        lines = ["SIP: TLS, cert checked"]
        if self.zrtp_only:
            return lines + ["ZRTP required", "No keys in SIP"]
        if self.zrtp:
            lines.append("ZRTP keys preferred")
            lines.append("SDES only if no ZRTP")
        lines.append("SRTP required" if not self.allow_insecure else "UNENCRYPTED allowed")
        lines.append("SDES only over TLS")
        return lines
