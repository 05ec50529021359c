# What the phone app offers when it calls, and how it falls back (the offer
# plan, app/offers.py, wired into the app): ZRTP first with no keys in SIP;
# a peer that refuses it (488, 606) gets one new INVITE with SDES keys, a
# peer that answers without ZRTP and stays silent gets a re-INVITE with
# SDES keys after HELLO_WAIT_MS, both only when the fallback is allowed;
# hold re-INVITEs offer in the call's mode. A real Phone (sim HAL, ZRTP on)
# calls a bare user agent over the fake SIP link; the peer's answers are
# scripted. The calls with linphone and baresip are in
# tests/sim/test_offer_policy.py.
import os
import unittest

from hushphone import sdp
from hushphone.app import callcontrol as cc
from hushphone.app.offers import HELLO_WAIT_MS
from hushphone.app.security import SRTP_SUITES
from hushphone.crypto.random import random_bytes
from hushphone.sip import events
from hushphone.sip.useragent import UaConfig, UserAgent

from sip_fakelink import Counter, FakeLink, FakeRegistrar
from test_phone_resilience import USERS, _hex, events_named, make_phone

PEER_ZRTP = ("1.10", "ab" * 32)


class OfferPlanInThePhone(unittest.TestCase):
    def setUp(self):
        self.dir = "/tmp/hush_offers_" + _hex(random_bytes(6))
        os.mkdir(self.dir)
        self.alice = None
        self.offers = []  # the SDP of each INVITE and re-INVITE the peer got

    def start(self, **config):
        self.alice = make_phone(self.dir + "/alice", "alice", zrtp=True, **config)
        self.peer = UserAgent(UaConfig("sip:bob@example.test", "bob", USERS["bob"]), Counter(b"peer"))
        self.link = FakeLink(self.alice.ua, self.peer, FakeRegistrar(USERS))
        self.alice.ua.connection_made(0)
        self.peer.connection_made(0)
        self.alice.ua.register(0)

    def tearDown(self):
        if self.alice is not None:
            for line in self.alice.calls.lines:
                if line.ref is not None:
                    line.ref[1].close()

    def settle(self, answer, update=None):
        """Carry SIP; the peer answers each new INVITE with answer(call)
        and each re-INVITE with update(call, body)."""
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
                elif isinstance(ev, events.UpdateRequested):
                    self.offers.append(sdp.SessionDescription.parse(ev.body))
                    update(ev.call, ev.body)
            if not moved:
                return

    def reply(self, call, body=None, zrtp=False, plain=False):
        """The peer answers `body` (default: the INVITE's offer): with its
        own ZRTP, with SDES, or as plain RTP (no ZRTP, no keys)."""
        offer = body if body is not None else call.invite.body
        answer, _neg = sdp.answer(offer, "127.0.0.1", 40000, ["PCMU"], list(SRTP_SUITES), Counter(b"ans"),
                                  zrtp_hash=PEER_ZRTP if zrtp else None, allow_plain=plain)
        return answer.to_bytes()

    def refuse(self, status):
        return lambda call: self.peer.reject(call, 0, status)

    def keys_in(self, n):
        return self.offers[n].audio().get_all("crypto")

    def test_a_zrtp_peer_gets_no_keys(self):
        self.start()
        self.alice.dial("bob")
        self.settle(lambda call: self.peer.answer(call, self.reply(call, zrtp=True), 0))
        self.assertEqual(len(self.offers), 1)
        self.assertEqual(self.offers[0].audio().proto, "RTP/AVP")
        self.assertEqual(self.keys_in(0), [])
        self.assertEqual(len(self.offers[0].audio().get_all("zrtp-hash")), 1)
        in_call = events_named(self.alice, "in_call")[0]
        self.assertEqual((in_call["security"], in_call["label"]), ("zrtp", "ZRTP: securing..."))
        # Hold: the re-INVITE carries no keys either.
        self.alice.key("HOLD")
        self.settle(None, lambda call, body: self.peer.accept_update(call, self.reply(call, body, zrtp=True), 0))
        self.assertEqual(len(self.offers), 2)
        self.assertEqual(self.offers[1].audio().direction(), "sendonly")
        self.assertEqual(self.keys_in(1), [])
        self.assertEqual(events_named(self.alice, "ended"), [])

    def test_a_refusal_brings_one_offer_with_sdes_keys(self):
        for status in (488, 606):
            self.offers = []
            if self.alice is None:
                self.start()
            self.alice.dial("bob")
            self.settle(self.refuse(status))
            self.assertEqual(len(self.offers), 2, status)
            first, again = self.offers[0].audio(), self.offers[1].audio()
            self.assertEqual((first.proto, first.get_all("crypto")), ("RTP/AVP", []))
            self.assertEqual(again.proto, "RTP/SAVP")
            self.assertEqual(len(again.get_all("crypto")), len(SRTP_SUITES))
            self.assertEqual(again.get_all("zrtp-hash"), first.get_all("zrtp-hash"))  # ZRTP still wins if it can
            self.assertEqual(again.port, first.port)
            self.assertEqual(events_named(self.alice, "offer_again")[-1]["offer"], "sdes")
            # Refused again: the call fails with that status, no third offer.
            self.assertEqual(events_named(self.alice, "ended")[-1]["kind"], "failed")
            self.assertEqual(self.alice.calls.state, cc.IDLE)

    def test_an_sdes_answer_to_the_fallback_makes_an_sdes_call(self):
        self.start()

        def sdes_peer(call):
            if not sdp.SessionDescription.parse(call.invite.body).audio().get_all("crypto"):
                self.peer.reject(call, 0, 488)  # as baresip and linphone with SDES mandatory do
                return
            self.peer.answer(call, self.reply(call), 0)

        self.alice.dial("bob")
        self.settle(sdes_peer)
        self.assertEqual(self.alice.calls.state, cc.IN_CALL)
        in_call = events_named(self.alice, "in_call")[0]
        self.assertEqual((in_call["security"], in_call["label"]), ("sdes", "SRTP (provider can decrypt)"))
        self.alice.key("HOLD")  # an SDES call re-keys with fresh SDES keys
        self.settle(None, lambda call, body: self.peer.accept_update(call, self.reply(call, body), 0))
        self.assertEqual(len(self.keys_in(2)), len(SRTP_SUITES))

    def test_no_fallback_when_the_setting_forbids_it(self):
        self.start(sdes_fallback=False)
        self.alice.dial("bob")
        self.settle(self.refuse(488))
        self.assertEqual(len(self.offers), 1)
        self.assertEqual(self.keys_in(0), [])
        self.assertEqual(events_named(self.alice, "offer_again"), [])
        self.assertEqual(events_named(self.alice, "ended")[0]["reason"], cc.failure_text(488))

    def test_other_failures_are_not_retried(self):
        self.start()
        self.alice.dial("bob")
        self.settle(self.refuse(486))
        self.assertEqual(len(self.offers), 1)
        self.assertEqual(events_named(self.alice, "ended")[0]["reason"], cc.failure_text(486))

    def silent_call(self, **config):
        """The peer takes the keyless offer as plain RTP (no a=zrtp-hash, no
        keys) and never speaks ZRTP."""
        self.start(**config)
        self.alice.dial("bob")
        self.settle(lambda call: self.peer.answer(call, self.reply(call, plain=True), 0))
        line = self.alice.calls.current
        media = line.ref[1]
        self.assertEqual(self.alice.calls.state, cc.IN_CALL)
        self.assertEqual(media.security.label(), "ZRTP: securing...")
        self.assertIsNone(media.session)  # nothing flows while we wait
        # The wait is counted from when the answer came (the phone's clock
        # is real, so a loaded machine may be well past it by now).
        return line, media, media.plan.hello_deadline - HELLO_WAIT_MS

    def test_a_silent_peer_without_zrtp_gets_sdes_keys_by_re_invite(self):
        line, media, now = self.silent_call()
        self.alice._line_media(line, now + HELLO_WAIT_MS - 100, True)
        self.settle(None)
        self.assertEqual(len(self.offers), 1)  # still waiting
        self.alice._line_media(line, now + HELLO_WAIT_MS + 100, True)
        self.settle(None, lambda call, body: self.peer.accept_update(call, self.reply(call, body), 0))
        self.assertEqual(len(self.offers), 2)
        self.assertEqual(self.offers[1].audio().proto, "RTP/SAVP")
        self.assertEqual(len(self.keys_in(1)), len(SRTP_SUITES))
        again = events_named(self.alice, "offer_again")
        self.assertEqual([(e["offer"], e["status"]) for e in again], [("sdes", None)])
        secured = events_named(self.alice, "media_security")
        self.assertEqual(secured[0]["label"], "SRTP (provider can decrypt)")
        self.assertEqual(media.security.kind, "sdes")
        self.assertIsNotNone(media.session)  # keyed: audio may flow now
        self.assertEqual(events_named(self.alice, "ended"), [])

    def test_a_silent_peer_without_fallback_is_hung_up(self):
        line, media, now = self.silent_call(sdes_fallback=False)
        self.alice._line_media(line, now + HELLO_WAIT_MS + 100, True)
        self.settle(None)
        self.assertEqual(len(self.offers), 1)
        refused = events_named(self.alice, "refused")
        self.assertEqual(refused[0]["reason"], "ZRTP required, the peer has none")
        self.assertEqual(events_named(self.alice, "ended")[0]["reason"], "no ZRTP")


if __name__ == "__main__":
    unittest.main()
