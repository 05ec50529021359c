# The outgoing offer plan (app/offers.py) on real SDP: ZRTP first with no
# keys in SIP; SDES keys only after a 488/606 or a silent peer without
# ZRTP, and only when the policy allows the fallback; re-INVITEs in the
# call's mode.
import unittest

from hushphone import sdp
from hushphone.app import offers, security
from hushphone.app.offers import FALL_BACK, GIVE_UP, HELLO_WAIT_MS, OfferPlan, plan_for
from hushphone.app.security import MediaPolicy, PolicyRefused
from hushphone.crypto.random import random_bytes

ZHASH = ("1.10", "ab" * 32)
PEER_ZHASH = ("1.10", "cd" * 32)
SUITES = list(security.SRTP_SUITES)


def offer_of(plan):
    return sdp.build_offer("127.0.0.1", 20000, ["PCMU"], plan.suites(), random_bytes, zrtp_hash=ZHASH)


def answer_to(offer, zrtp=False, allow_plain=False):
    """(answer SDP, our view of it) for a peer with or without ZRTP."""
    body, _neg = sdp.answer(offer.to_bytes(), "127.0.0.1", 30000, ["PCMU"], SUITES, random_bytes,
                            zrtp_hash=PEER_ZHASH if zrtp else None, allow_plain=allow_plain)
    return body, sdp.process_answer(offer, body.to_bytes())


class FirstOffer(unittest.TestCase):
    def test_zrtp_first_has_no_keys(self):
        plan = OfferPlan(MediaPolicy(zrtp=True))
        offer = offer_of(plan)
        m = offer.audio()
        self.assertEqual(m.proto, "RTP/AVP")
        self.assertEqual(m.get_all("crypto"), [])
        self.assertNotIn(b"a=crypto", offer.to_bytes())
        self.assertIn(b"a=zrtp-hash:1.10 " + b"ab" * 32, offer.to_bytes())

    def test_without_zrtp_the_first_offer_is_sdes(self):
        plan = OfferPlan(MediaPolicy(zrtp=False))
        self.assertEqual(plan.suites(), SUITES)
        self.assertEqual(offer_of(plan).audio().proto, "RTP/SAVP")

    def test_a_zrtp_answer_makes_a_zrtp_call(self):
        plan = OfferPlan(MediaPolicy(zrtp=True))
        offer = offer_of(plan)
        _body, neg = answer_to(offer, zrtp=True)
        sec = plan.answered(neg, 0)
        self.assertEqual(sec.kind, security.ZRTP)
        self.assertIsNone(plan.hello_deadline)
        self.assertEqual(plan.suites(), [])  # a re-INVITE (hold) carries no keys either


class RefusedFallback(unittest.TestCase):
    def test_488_and_606_bring_one_sdes_offer(self):
        for status in (488, 606):
            plan = OfferPlan(MediaPolicy(zrtp=True))
            self.assertTrue(plan.refused(status))
            again = offer_of(plan)
            self.assertEqual(again.audio().proto, "RTP/SAVP")
            self.assertEqual(len(again.audio().get_all("crypto")), len(SUITES))
            self.assertEqual(plan.fell_back, status)
            self.assertFalse(plan.refused(status))  # refused again: the call fails, no third offer

    def test_other_statuses_are_not_a_refusal_of_zrtp(self):
        for status in (403, 404, 415, 480, 486, 500, 603):
            plan = OfferPlan(MediaPolicy(zrtp=True))
            self.assertFalse(plan.refused(status), status)
            self.assertEqual(plan.suites(), [])

    def test_no_fallback_when_the_setting_forbids_it(self):
        for policy in (MediaPolicy(zrtp=True, sdes_fallback=False), MediaPolicy(zrtp_only=True)):
            plan = OfferPlan(policy)
            self.assertFalse(plan.refused(488))
            self.assertEqual(plan.suites(), [])

    def test_an_sdes_answer_to_the_fallback_is_sdes(self):
        plan = OfferPlan(MediaPolicy(zrtp=True))
        plan.refused(488)
        offer = offer_of(plan)
        _body, neg = answer_to(offer)
        sec = plan.answered(neg, 0)
        self.assertEqual(sec.kind, security.SDES)
        self.assertEqual(sec.label(), "SRTP (provider can decrypt)")
        self.assertEqual(plan.suites(), SUITES)  # hold/resume re-INVITEs: fresh SDES keys

    def test_a_zrtp_answer_to_the_fallback_still_wins(self):
        plan = OfferPlan(MediaPolicy(zrtp=True))
        plan.refused(488)
        _body, neg = answer_to(offer_of(plan), zrtp=True)
        self.assertEqual(plan.answered(neg, 0).kind, security.ZRTP)


class SilentPeer(unittest.TestCase):
    """A peer that takes the keyless offer as plain RTP (no a=zrtp-hash, no
    keys in its answer)."""

    def plain_answer(self, policy):
        plan = OfferPlan(policy)
        _body, neg = answer_to(offer_of(plan), allow_plain=True)
        self.assertIsNone(neg.zrtp_hash)
        self.assertIsNone(neg.crypto_suite)
        return plan, plan.answered(neg, 1000)

    def test_waits_for_hello_then_falls_back(self):
        plan, sec = self.plain_answer(MediaPolicy(zrtp=True))
        self.assertEqual(sec.kind, security.ZRTP)
        self.assertFalse(sec.secure)  # nothing flows while waiting
        self.assertEqual(plan.hello_deadline, 1000 + HELLO_WAIT_MS)
        self.assertIsNone(plan.silent(1000 + HELLO_WAIT_MS - 1, False))
        self.assertEqual(plan.silent(1000 + HELLO_WAIT_MS, False), FALL_BACK)
        self.assertEqual(plan.fell_back, "no ZRTP")
        self.assertEqual(plan.suites(), SUITES)  # the re-INVITE's offer
        self.assertIsNone(plan.silent(99999, False))  # once

    def test_a_hello_in_time_keeps_zrtp(self):
        plan, _sec = self.plain_answer(MediaPolicy(zrtp=True))
        self.assertIsNone(plan.silent(1500, True))
        self.assertIsNone(plan.silent(1000 + HELLO_WAIT_MS * 2, False))
        self.assertEqual(plan.suites(), [])

    def test_without_fallback_the_call_ends(self):
        plan, _sec = self.plain_answer(MediaPolicy(zrtp=True, sdes_fallback=False))
        self.assertEqual(plan.silent(1000 + HELLO_WAIT_MS, False), GIVE_UP)
        self.assertEqual(plan.suites(), [])

    def test_without_zrtp_a_plain_answer_is_refused(self):
        plan = OfferPlan(MediaPolicy(zrtp=False))
        offer = offer_of(plan)  # SDES keys: RTP/SAVP
        self.assertEqual(offer.audio().proto, "RTP/SAVP")
        rejected = sdp.Negotiated()
        self.assertRaises(PolicyRefused, plan.answered, rejected, 0)


class AnsweredCalls(unittest.TestCase):
    def test_plan_for_an_answered_call_follows_its_mode(self):
        policy = MediaPolicy(zrtp=True)
        self.assertEqual(plan_for(policy, security.CallSecurity(security.ZRTP)).suites(), [])
        self.assertEqual(plan_for(policy, security.CallSecurity(security.SDES)).suites(), SUITES)
        self.assertEqual(plan_for(policy, security.CallSecurity(security.NONE)).suites(), [])
        self.assertEqual(offers.FALLBACK_STATUSES, (488, 606))


if __name__ == "__main__":
    unittest.main()
