# What an outgoing call offers, and when it falls back (DESIGN: keys stay
# off the signalling path whenever the peer can do better). Sans-IO: the
# phone app asks, and tells it what the peer did.
#
#   1. ZRTP first: RTP/AVP with a=zrtp-hash and no a=crypto. Nothing in SIP
#      lets a proxy decrypt the call.
#   2. SDES keys (a=crypto, shown "provider can decrypt") only when the
#      policy allows the fallback (setting sdes_fallback) and the peer
#        - refuses the keyless offer (488 Not Acceptable Here, 606 Not
#          Acceptable): once, a new INVITE with SDES keys (and a=zrtp-hash
#          still: ZRTP wins if the peer runs it after all); or
#        - answers without ZRTP and without keys, and sends no ZRTP message
#          within HELLO_WAIT_MS: a re-INVITE with SDES keys in the dialog.
#      Without the fallback the call fails (ZRTP or no call).
#   No audio is sent or played before the media is encrypted: while the
#   call waits for ZRTP nothing flows (the ZRTP-keyed session carries
#   audio only once secure), and an SDES call starts keyed.
#
# Re-INVITEs (hold, resume) offer in the call's mode: no keys for ZRTP,
# fresh SDES keys for an SDES call.
from hushphone.app.security import NONE, SDES, ZRTP, CallSecurity

FALLBACK_STATUSES = (488, 606)
HELLO_WAIT_MS = 3000  # a ZRTP peer sends Hello at once (T1 = 50 ms) when its media starts

# What silent() asks the app to do.
FALL_BACK = "sdes"
GIVE_UP = "end"


class OfferPlan:
    """One call's offers. mode: ZRTP while keys are (to be) agreed in the
    media path, SDES once keys went into SIP, NONE for a plain call."""

    def __init__(self, policy, mode=None):
        self.policy = policy
        self.mode = mode if mode is not None else (ZRTP if policy.zrtp else SDES)
        self.hello_deadline = None  # waiting for a ZRTP message from a peer that did not say ZRTP
        self.fell_back = None  # why we offered SDES keys: a status, or "no ZRTP"

    def suites(self):
        """The a=crypto suites for our next offer (initial or re-INVITE)."""
        return self.policy.sdes_suites() if self.mode == SDES else []

    def refused(self, status):
        """The peer refused our offer with `status`: True when a new offer
        with SDES keys should go out (once per call)."""
        if self.mode != ZRTP or status not in FALLBACK_STATUSES or self.fell_back is not None:
            return False
        if not self.policy.sdes_fallback or not self.policy.sdes_suites():
            return False
        self.mode = SDES
        self.fell_back = status
        return True

    def answered(self, neg, now):
        """The CallSecurity for the peer's answer to our offer (or
        PolicyRefused). An answer to a keyless offer without a=zrtp-hash
        may still come from a ZRTP peer (linphone answers with an empty
        one): the call waits for its Hello, silent, until silent() says."""
        if (self.mode == ZRTP and self.policy.zrtp and neg is not None and not neg.rejected
                and neg.zrtp_hash is None and neg.crypto_suite is None):
            self.hello_deadline = now + HELLO_WAIT_MS
            return CallSecurity(ZRTP)
        security = self.policy.decide(neg)
        self.mode = security.kind
        return security

    def silent(self, now, heard_zrtp):
        """Each tick while waiting for ZRTP: None (go on), FALL_BACK (send
        a re-INVITE with SDES keys) or GIVE_UP (hang up: the peer does
        not do ZRTP and the fallback is not allowed)."""
        if self.hello_deadline is None:
            return None
        if heard_zrtp:
            self.hello_deadline = None
            return None
        if now < self.hello_deadline:
            return None
        self.hello_deadline = None
        if self.policy.sdes_fallback and self.policy.sdes_suites():
            self.mode = SDES
            self.fell_back = "no ZRTP"
            return FALL_BACK
        return GIVE_UP


def plan_for(policy, security):
    """The plan of a call we answered (for our re-INVITEs): its mode."""
    return OfferPlan(policy, security.kind if security is not None else NONE)
