# A peer's bad message is the peer's: the phone answers it and carries on,
# and the supervisor never counts it as a fault of ours (issue 11 item 5:
# an INVITE with bad SDP and its CANCEL read together once raised
# LocalSipError out of the incoming-call handler, counted as a local fault;
# 5 pairs restarted SIP, ~500 reset the handset). A real Phone (sim HAL)
# with its own user agent; the peer's bytes are written by hand.
import os
import unittest

from hushphone.crypto.random import random_bytes
from hushphone.sip.errors import RemoteSipError, SipParseError
from hushphone.sip.framing import StreamParser

from test_phone_resilience import _hex, events_named, make_phone


def invite_and_cancel(n, body):
    common = ("Via: SIP/2.0/TLS a.invalid;branch=z9hG4bKpeer%d\r\nFrom: <sip:mallory@example.test>;tag=m%d\r\n"
              "To: <sip:bob@example.test>\r\nCall-ID: peer-%d@a.invalid\r\nMax-Forwards: 70\r\n" % (n, n, n))
    invite = ("INVITE sip:bob@example.test SIP/2.0\r\n%sCSeq: 1 INVITE\r\nContact: <sip:mallory@a.invalid>\r\n"
              "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n" % (common, len(body))).encode() + body
    cancel = ("CANCEL sip:bob@example.test SIP/2.0\r\n%sCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n" % common)
    return invite + cancel.encode()


class PeerFaults(unittest.TestCase):
    def setUp(self):
        self.dir = "/tmp/hush_peerfaults_" + _hex(random_bytes(6))
        os.mkdir(self.dir)
        self.bob = make_phone(self.dir + "/bob", "bob")
        self.bob.ua.connection_made(0)

    def feed_together(self, data):
        """Everything into the UA first, then its events to the phone (as
        one TLS read used to be handled)."""
        parser = StreamParser()
        parser.feed(data)
        while True:
            item = parser.next_event()
            if item is None:
                break
            self.bob.ua.receive(item, self.bob.now())
        while True:
            ev = self.bob.ua.next_event()
            if ev is None:
                break
            self.bob.sip.on_event(ev)
        return b"".join(self.bob.ua.data_to_send())

    def test_bad_sdp_and_cancel_in_one_read_are_no_fault(self):
        for n in range(12):  # more than the 5 faults that restart SIP
            out = self.feed_together(invite_and_cancel(n, b"v=0\r\nnot sdp\r\n"))
            self.assertIn(b"SIP/2.0 487", out)
            self.assertIn(b"CSeq: 1 CANCEL", out)
        self.assertEqual(events_named(self.bob, "fault"), [])
        self.assertEqual(events_named(self.bob, "sip_restart"), [])
        self.assertEqual(len(events_named(self.bob, "refused")), 12)
        self.assertEqual(self.bob.calls.lines, [])

    def test_the_peers_errors_are_logged_never_counted(self):
        sup = self.bob.supervisor
        for i in range(20):
            sup.note_fault(RemoteSipError("bad"), "sip", 1000 + i)
            sup.note_fault(SipParseError(400, "bad Via"), "sip-receive", 1000 + i)
        self.assertEqual(events_named(self.bob, "fault"), [])
        self.assertIsNone(sup.restart_at)
        peer = events_named(self.bob, "peer_error")
        self.assertEqual(len(peer), 40)
        self.assertEqual(peer[1], {"event": "peer_error", "where": "sip-receive", "error": "SipParseError"})

    def test_our_own_failures_in_the_transport_still_count(self):
        for _ in range(5):
            self.bob.supervisor.transport_fault(MemoryError(), "receive")
        faults = events_named(self.bob, "fault")
        self.assertEqual([f["where"] for f in faults], ["sip-receive"] * 5)
        self.assertEqual(len(events_named(self.bob, "sip_restart")), 1)


if __name__ == "__main__":
    unittest.main()
