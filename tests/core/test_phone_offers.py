# What the phone app offers when it calls, and how it reacts to a refusal:
# a peer that requires ZRTP (linphone with ZRTP mandatory does this) answers
# our usual offer, SDES keys next to a=zrtp-hash, with 488; the phone offers
# once more with ZRTP alone, in a new INVITE. A real Phone (sim HAL, ZRTP
# on) calls a bare user agent over the fake SIP link; the peer's answers
# are scripted. The end-to-end call with linphone is in
# tests/sim/test_phone_zrtp_linphone.py.
import os
import unittest

from hushphone import sdp
from hushphone.app import callcontrol as cc
from hushphone.crypto.random import random_bytes
from hushphone.sip import events
from hushphone.sip.useragent import UaConfig, UserAgent

from sip_fakelink import Counter, FakeLink, FakeRegistrar
from test_phone_resilience import USERS, _hex, events_named, make_phone


class ZrtpAloneAfter488(unittest.TestCase):
    def setUp(self):
        self.dir = "/tmp/hush_offers_" + _hex(random_bytes(6))
        os.mkdir(self.dir)
        self.alice = make_phone(self.dir + "/alice", "alice", zrtp=True)
        self.peer = UserAgent(UaConfig("sip:bob@example.test", "bob", USERS["bob"]), Counter(b"peer"))
        self.link = FakeLink(self.alice.ua, self.peer, FakeRegistrar(USERS))
        self.alice.ua.connection_made(0)
        self.peer.connection_made(0)
        self.alice.ua.register(0)
        self.offers = []  # the SDP of each INVITE the peer got

    def tearDown(self):
        for line in self.alice.calls.lines:
            if line.ref is not None:
                line.ref[1].close()

    def settle(self, answer):
        """Carry SIP; the peer answers each new INVITE with answer(call)."""
        for _ in range(20):
            self.link.pump()
            moved = False
            while True:
                ev = self.alice.ua.next_event()
                if ev is None:
                    break
                moved = True
                self.alice.sip.on_event(ev)
            while True:
                ev = self.peer.next_event()
                if ev is None:
                    break
                moved = True
                if isinstance(ev, events.IncomingCall):
                    self.offers.append(sdp.SessionDescription.parse(ev.body))
                    answer(ev.call)
            if not moved:
                return

    def refuse(self, call):
        self.peer.reject(call, 0, 488)

    def test_a_488_brings_one_new_offer_with_zrtp_alone(self):
        self.alice.dial("bob")
        self.settle(self.refuse)
        self.assertEqual(len(self.offers), 2)
        first, again = self.offers[0].audio(), self.offers[1].audio()
        self.assertEqual(first.proto, "RTP/SAVP")
        self.assertTrue(first.get_all("crypto"))
        self.assertEqual(again.proto, "RTP/AVP")
        self.assertEqual(again.get_all("crypto"), [])  # no keys in SIP at all
        self.assertEqual(again.get_all("zrtp-hash"), first.get_all("zrtp-hash"))  # the same ZRTP endpoint
        self.assertEqual(again.port, first.port)
        self.assertEqual(len(events_named(self.alice, "offer_again")), 1)
        # Refused again: the call fails with that status, no third offer.
        ended = events_named(self.alice, "ended")
        self.assertEqual(len(ended), 1)
        self.assertEqual(ended[0]["kind"], "failed")
        self.assertEqual(self.alice.calls.state, cc.IDLE)

    def test_a_zrtp_answer_to_the_new_offer_makes_a_zrtp_call(self):
        def answer_second(call):
            if len(self.offers) == 1:
                self.peer.reject(call, 0, 488)
                return
            body, _neg = sdp.answer(call.invite.body, "192.0.2.9", 40000, ["PCMU"], [], Counter(b"ans"),
                                    zrtp_hash=("1.10", "ab" * 32))
            self.peer.answer(call, body.to_bytes(), 0)

        self.alice.dial("bob")
        self.settle(answer_second)
        self.assertEqual(len(self.offers), 2)
        self.assertEqual(self.alice.calls.state, cc.IN_CALL)
        in_call = events_named(self.alice, "in_call")
        self.assertEqual(in_call[0]["security"], "zrtp")
        self.assertEqual(in_call[0]["label"], "ZRTP: securing...")  # no audio before ZRTP is secure
        self.assertEqual(events_named(self.alice, "ended"), [])

    def test_other_failures_and_a_zrtp_only_phone_are_not_retried(self):
        def busy(call):
            self.peer.reject(call, 0, 486)

        self.alice.dial("bob")
        self.settle(busy)
        self.assertEqual(len(self.offers), 1)
        self.assertEqual(events_named(self.alice, "ended")[0]["reason"], cc.failure_text(486))

        self.alice.policy.zrtp_only = True  # its first offer already had no SDES keys
        self.alice.dial("bob")
        self.settle(self.refuse)
        self.assertEqual(len(self.offers), 2)
        self.assertEqual(self.offers[1].audio().proto, "RTP/AVP")
        self.assertEqual(events_named(self.alice, "offer_again"), [])


if __name__ == "__main__":
    unittest.main()
