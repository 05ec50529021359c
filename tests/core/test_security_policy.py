# Media security policy on real SDP offer/answer outcomes: SRTP required,
# SDES shown as readable by the provider, plain RTP only when allowed,
# ZRTP preferred when both sides run it; indicator strings.
import unittest

from hushphone import sdp
from hushphone.app import security
from hushphone.app.security import CallSecurity, MediaPolicy, PolicyRefused
from hushphone.crypto.random import random_bytes


def negotiate(offer_suites, allow_plain=False, offer_zrtp=None, answer_zrtp=None):
    offer = sdp.build_offer("127.0.0.1", 20000, ["PCMU"], offer_suites, random_bytes, zrtp_hash=offer_zrtp)
    _answer, neg = sdp.answer(offer.to_bytes(), "127.0.0.1", 30000, ["PCMU", "PCMA"],
                              list(security.SRTP_SUITES), random_bytes, zrtp_hash=answer_zrtp,
                              allow_plain=allow_plain)
    return neg


ZHASH = ("1.10", "ab" * 32)


class PolicyTest(unittest.TestCase):
    def test_sdes_over_tls_accepted_and_labelled(self):
        sec = MediaPolicy().decide(negotiate(["AES_CM_128_HMAC_SHA1_80"]))
        self.assertEqual(sec.kind, security.SDES)
        self.assertEqual(sec.label(), "SRTP (provider can decrypt)")
        self.assertTrue(sec.secure)

    def test_plain_rtp_refused_by_default(self):
        neg = negotiate([], allow_plain=True)  # the SDP layer would take it...
        self.assertFalse(neg.rejected)
        with self.assertRaises(PolicyRefused) as cm:
            MediaPolicy().decide(neg)  # ...the policy does not
        self.assertEqual(cm.exception.status, 488)
        self.assertIn("unencrypted", cm.exception.reason)
        self.assertTrue(negotiate([]).rejected)  # and by default neither does SDP

    def test_plain_rtp_when_explicitly_allowed(self):
        sec = MediaPolicy(allow_insecure=True).decide(negotiate([], allow_plain=True))
        self.assertEqual(sec.kind, security.NONE)
        self.assertEqual(sec.label(), "NOT ENCRYPTED")
        self.assertEqual(sec.short_label(), "INSECURE")

    def test_sdes_needs_tls(self):
        policy = MediaPolicy(signalling="tcp")
        self.assertEqual(policy.offer_suites(), [])
        self.assertRaises(PolicyRefused, policy.decide, negotiate(["AES_CM_128_HMAC_SHA1_80"]))
        self.assertEqual(MediaPolicy().offer_suites(), list(security.SRTP_SUITES))

    def test_rejected_stream_refused(self):
        neg = negotiate(["AES_256_CM_HMAC_SHA1_80"])  # a suite we do not offer or accept
        self.assertTrue(neg.rejected)
        self.assertRaises(PolicyRefused, MediaPolicy().decide, neg)
        self.assertRaises(PolicyRefused, MediaPolicy().decide, None)

    def test_zrtp_preferred_when_both_run_it(self):
        neg = negotiate(["AES_CM_128_HMAC_SHA1_80"], offer_zrtp=ZHASH, answer_zrtp=ZHASH)
        sec = MediaPolicy(zrtp=True).decide(neg)
        self.assertEqual(sec.kind, security.ZRTP)
        self.assertFalse(sec.secure)
        self.assertEqual(sec.label(), "ZRTP: securing...")
        sec.zrtp_secure("ab3d", False)
        self.assertEqual(sec.label(), "ZRTP SAS ab3d")
        sec.zrtp_secure("ab3d", True)
        self.assertEqual(sec.label(), "ZRTP ab3d (verified)")
        sec.keys_changed = True
        self.assertEqual(sec.warning(), "Keys changed: verify the SAS")
        # Without ZRTP in our policy the same answer is plain SDES.
        self.assertEqual(MediaPolicy().decide(neg).kind, security.SDES)

    def test_zrtp_only_offers_no_sdes_keys_and_needs_zrtp(self):
        policy = MediaPolicy(zrtp_only=True)
        self.assertTrue(policy.zrtp)
        self.assertEqual(policy.offer_suites(), [])
        offer = sdp.build_offer("127.0.0.1", 20000, ["PCMU"], policy.offer_suites(), random_bytes, zrtp_hash=ZHASH)
        self.assertEqual(offer.audio().proto, "RTP/AVP")  # what a ZRTP-mandatory peer accepts
        neg = negotiate(policy.offer_suites(), offer_zrtp=ZHASH, answer_zrtp=ZHASH)
        self.assertEqual(policy.decide(neg).kind, security.ZRTP)
        # An SDES answer or offer (no ZRTP on the peer's side) is refused,
        # and so is plain RTP even where insecure media is allowed.
        with self.assertRaises(PolicyRefused) as cm:
            policy.decide(negotiate(["AES_CM_128_HMAC_SHA1_80"], offer_zrtp=ZHASH))
        self.assertEqual(cm.exception.status, 488)
        self.assertIn("ZRTP required", cm.exception.reason)
        plain = negotiate([], allow_plain=True)
        self.assertRaises(PolicyRefused, MediaPolicy(allow_insecure=True, zrtp_only=True).decide, plain)
        self.assertEqual(policy.protections(), ["SIP: TLS, cert checked", "ZRTP required", "No keys in SIP"])

    def test_transparency_lines(self):
        lines = MediaPolicy().protections()
        self.assertIn("SRTP required", lines)
        self.assertIn("UNENCRYPTED allowed", MediaPolicy(allow_insecure=True).protections())
        self.assertNotIn("SRTP required", MediaPolicy(allow_insecure=True).protections())
        self.assertIn("ZRTP keys preferred", MediaPolicy(zrtp=True).protections())
        self.assertNotIn("ZRTP keys preferred", lines)


if __name__ == "__main__":
    unittest.main()
