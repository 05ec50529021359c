# RFC 3261 §17 transactions over a reliable transport, with a fake clock:
# timeouts (B, F, H and the Timer C-like INVITE expiry), retransmission
# absorption, the ACK of non-2xx responses, 2xx ACK pass-through, CANCEL
# matching, and failure on a lost connection.
import unittest

from hushphone.sip import timers
from hushphone.sip.message import Headers, Request, parse_message, parse_via
from hushphone.sip.transaction import TransactionTable, make_response


def request(method, branch="z9hG4bKabc123", cseq=1, to_tag=None, host="pc.invalid"):
    h = Headers()
    h.add("Via", "SIP/2.0/TLS %s;branch=%s;rport" % (host, branch))
    h.add("Max-Forwards", "70")
    h.add("From", "<sip:alice@example.test>;tag=ftag")
    h.add("To", "<sip:bob@example.test>" + (";tag=" + to_tag if to_tag else ""))
    h.add("Call-ID", "call-1")
    h.add("CSeq", "%d %s" % (cseq, method))
    return Request(method, "sip:bob@example.test", h)


def ack_for(branch, to_tag):
    r = request("ACK", branch, to_tag=to_tag)
    r.headers.set("CSeq", "1 ACK")
    return r


class ClientTransactions(unittest.TestCase):
    def test_non_invite_times_out_with_timer_f(self):
        table = TransactionTable()
        tx = table.send_request(request("OPTIONS"), 1000)
        self.assertEqual(len(table.outbox), 1)  # sent once: no Timer E over TLS
        self.assertEqual(table.get_timer(), 1000 + timers.TIMER_F)
        self.assertEqual(table.handle_timer(1000 + timers.TIMER_F - 1), [])
        self.assertEqual(table.handle_timer(1000 + timers.TIMER_F), [(tx, "timeout")])
        self.assertEqual(table.get_timer(), None)
        self.assertEqual(len(table.outbox), 1)

    def test_non_invite_final_response_ends_it_at_once(self):
        table = TransactionTable()
        req = request("BYE")
        tx = table.send_request(req, 0)
        self.assertEqual(table.match_response(make_response(req, 100), 5), (tx, True))
        self.assertEqual(tx.state, "proceeding")
        self.assertEqual(table.match_response(make_response(req, 200, None, "t"), 6), (tx, True))
        self.assertEqual(tx.state, "terminated")  # Timer K = 0 on TLS
        # a late retransmission finds no transaction (a stray, dropped by the UA)
        self.assertEqual(table.match_response(make_response(req, 200, None, "t"), 7), (None, True))

    def test_invite_times_out_with_timer_b_before_any_response(self):
        table = TransactionTable()
        tx = table.send_request(request("INVITE"), 0)
        self.assertEqual(table.get_timer(), timers.TIMER_B)
        self.assertEqual(table.handle_timer(timers.TIMER_B), [(tx, "timeout")])

    def test_invite_expiry_after_provisional_asks_for_cancel_then_times_out(self):
        table = TransactionTable()
        inv = request("INVITE")
        tx = table.send_request(inv, 0)
        tx.expiry = 60000
        table.match_response(make_response(inv, 180, None, "t"), 100)
        self.assertEqual(table.get_timer(), 100 + 60000)  # Timer B no longer runs
        self.assertEqual(table.handle_timer(100 + 60000), [(tx, "expired")])
        self.assertEqual(table.handle_timer(100 + 60000 + timers.TIMER_B), [(tx, "timeout")])

    def test_non_2xx_is_acknowledged_inside_the_transaction(self):
        table = TransactionTable()
        inv = request("INVITE")
        inv.headers.add("Route", "<sip:proxy.example.test;lr>")
        tx = table.send_request(inv, 0)
        table.outbox = []
        busy = make_response(inv, 486, None, "callee")
        self.assertEqual(table.match_response(busy, 10), (tx, True))
        self.assertEqual(len(table.outbox), 1)
        ack = parse_message(table.outbox[0])
        self.assertEqual(ack.method, "ACK")
        self.assertEqual(ack.uri, inv.uri)
        self.assertEqual(parse_via(ack.headers.get("Via")).branch, "z9hG4bKabc123")  # same transaction
        self.assertEqual(ack.headers.get("To"), "<sip:bob@example.test>;tag=callee")
        self.assertEqual(ack.headers.get("CSeq"), "1 ACK")
        self.assertEqual(ack.headers.get("Route"), "<sip:proxy.example.test;lr>")
        self.assertEqual(tx.state, "terminated")  # Timer D = 0 over TLS

    def test_retransmitted_2xx_reaches_the_tu_until_timer_m(self):
        table = TransactionTable()
        inv = request("INVITE")
        tx = table.send_request(inv, 0)
        ok = make_response(inv, 200, None, "callee")
        self.assertEqual(table.match_response(ok, 10), (tx, True))
        self.assertEqual(tx.state, "accepted")
        self.assertEqual(table.match_response(ok, 20), (tx, True))  # the TU sends its ACK again
        self.assertEqual(table.match_response(make_response(inv, 180, None, "x"), 21), (tx, False))
        self.assertEqual(table.handle_timer(10 + timers.TIMER_M), [(tx, None)])
        self.assertEqual(table.match_response(ok, 10 + timers.TIMER_M + 1), (None, True))

    def test_response_matches_branch_and_method(self):
        table = TransactionTable()
        inv = request("INVITE")
        table.send_request(inv, 0)
        other = make_response(request("INVITE", branch="z9hG4bKother"), 200, None, "t")
        self.assertEqual(table.match_response(other, 1), (None, True))
        cancel_resp = make_response(inv, 200, None, "t")
        cancel_resp.headers.set("CSeq", "1 CANCEL")
        self.assertEqual(table.match_response(cancel_resp, 1), (None, True))

    def test_connection_loss_fails_pending_client_transactions(self):
        table = TransactionTable()
        a = table.send_request(request("INVITE"), 0)
        b = table.send_request(request("OPTIONS", branch="z9hG4bKo"), 0)
        failed = table.connection_lost()
        self.assertEqual(len(failed), 2)
        self.assertIn(a, failed)
        self.assertIn(b, failed)
        self.assertEqual(table.get_timer(), None)
        self.assertEqual(table.outbox, [])


class ServerTransactions(unittest.TestCase):
    def test_retransmitted_request_gets_the_last_response_again(self):
        table = TransactionTable()
        req = request("OPTIONS")
        tx, new = table.match_request(req, 0)
        self.assertTrue(new)
        table.respond(tx, make_response(req, 100), 1)
        table.outbox = []
        self.assertEqual(table.match_request(req, 2), (tx, False))
        self.assertEqual([parse_message(b).status for b in table.outbox], [100])

    def test_ack_of_a_non_2xx_is_absorbed(self):
        table = TransactionTable()
        inv = request("INVITE")
        tx, _ = table.match_request(inv, 0)
        table.respond(tx, make_response(inv, 486, None, "me"), 1)
        self.assertEqual(tx.state, "completed")
        self.assertEqual(table.get_timer(), 1 + timers.TIMER_H)
        self.assertEqual(table.match_request(ack_for("z9hG4bKabc123", "me"), 2), (tx, False))
        self.assertEqual(tx.state, "terminated")
        self.assertEqual(table.get_timer(), None)

    def test_missing_ack_fires_timer_h(self):
        table = TransactionTable()
        inv = request("INVITE")
        tx, _ = table.match_request(inv, 0)
        table.respond(tx, make_response(inv, 603, None, "me"), 1)
        self.assertEqual(table.handle_timer(1 + timers.TIMER_H), [(tx, "no_ack")])

    def test_ack_of_a_2xx_goes_to_the_dialog_layer(self):
        table = TransactionTable()
        inv = request("INVITE")
        tx, _ = table.match_request(inv, 0)
        table.respond(tx, make_response(inv, 200, None, "me"), 1)
        self.assertEqual(tx.state, "accepted")
        self.assertEqual(table.match_request(ack_for("z9hG4bKnew", "me"), 2), (None, False))
        # a retransmitted INVITE is still absorbed until Timer L
        table.outbox = []
        self.assertEqual(table.match_request(inv, 3), (tx, False))
        self.assertEqual(table.handle_timer(1 + timers.TIMER_L), [(tx, None)])

    def test_cancel_finds_its_invite_by_branch_and_sent_by(self):
        table = TransactionTable()
        inv = request("INVITE")
        tx, _ = table.match_request(inv, 0)
        cancel = request("CANCEL")
        ctx, new = table.match_request(cancel, 1)
        self.assertTrue(new)
        self.assertIsNot(ctx, tx)
        self.assertIs(table.find_invite_server(cancel), tx)
        self.assertIsNone(table.find_invite_server(request("CANCEL", host="other.invalid")))
        self.assertIsNone(table.find_invite_server(request("CANCEL", branch="z9hG4bKzzz")))

    def test_responding_twice_with_a_final_response_is_a_local_error(self):
        from hushphone.sip.message import LocalSipError

        table = TransactionTable()
        req = request("OPTIONS")
        tx, _ = table.match_request(req, 0)
        table.respond(tx, make_response(req, 200, None, "me"), 1)
        with self.assertRaises(LocalSipError):
            tx.respond(make_response(req, 200, None, "me"), 2, [])
