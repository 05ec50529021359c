# The TURN client's cores on both runtimes: the STUN codec against the RFC
# 5769 test vectors (decode, MESSAGE-INTEGRITY with short- and long-term
# keys, FINGERPRINT, XOR'd IPv4/IPv6 addresses, byte-exact re-encoding),
# then the sans-IO TurnClient against a small scripted server: the 401
# challenge and the long-term credential, Allocate, CreatePermission,
# ChannelBind, Send/Data indications, ChannelData, refresh timers,
# retransmissions, a stale nonce and forged answers.
import binascii
import struct
import unittest

from hushphone.turn import client as tc
from hushphone.turn import stun


def h(text):
    return binascii.unhexlify("".join(text.split()))


TXID = h("b7e7a701bc34d686fa87dfae")
SHORT_TERM_PW = b"VOkJxbRl1RmTxUk/WvJxBt"

# RFC 5769 §2.1-2.4.
SAMPLE_REQUEST = h("""
000100582112a442b7e7a701bc34d686fa87dfae802200105354554e20746573742063
6c69656e74002400046e0001ff80290008932ff9b151263b36000600096576746a3a68
367659202020000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e5
7a3bcf""")
SAMPLE_IPV4_RESPONSE = h("""
0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f72
2000200008000 1a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06b
e7d780280004c07d4c96""".replace(" ", ""))
SAMPLE_IPV6_RESPONSE = h("""
010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f72
20002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d900080014a382954e4be6
7bf11784c97c8292c275bfe3ed4180280004c8fb0b4c""")
SAMPLE_LONG_TERM = h("""
000100602112a44278ad3433c6ad72c029da412e00060012e3839ee38388e383aae383
83e382afe382b9000000150 01c662f2f3439396b39353464364f4c33346f4c394653
547679363473410014000b6578616d706c652e6f726700000800 14f67024656dd64a3e
02b8e0712e85c9a28ca89666""".replace(" ", ""))
LT_USER = "\u30de\u30c8\u30ea\u30c3\u30af\u30b9"


class StunVectors(unittest.TestCase):
    def test_sample_request(self):
        m = stun.Message.decode(SAMPLE_REQUEST)
        self.assertEqual((m.method, m.cls, m.txid), (stun.BINDING, stun.REQUEST, TXID))
        self.assertEqual(m.get(stun.SOFTWARE), b"STUN test client")
        self.assertEqual(m.get(stun.USERNAME), b"evtj:h6vY")
        self.assertTrue(m.check_integrity(SHORT_TERM_PW))
        self.assertFalse(m.check_integrity(SHORT_TERM_PW + b"x"))
        self.assertTrue(m.check_fingerprint())
        again = stun.Message(stun.BINDING, stun.REQUEST, TXID, [a for a in m.attrs if a[0] not in (0x8, 0x8028)])
        self.assertEqual(again.encode(SHORT_TERM_PW, fingerprint=True, pad=b" "), SAMPLE_REQUEST)

    def test_sample_responses(self):
        for raw, ip, text in ((SAMPLE_IPV4_RESPONSE, h("c0000201"), "192.0.2.1"),
                              (SAMPLE_IPV6_RESPONSE, h("20010db8123456780011223344556677"),
                               "2001:db8:1234:5678:11:2233:4455:6677")):
            m = stun.Message.decode(raw)
            self.assertEqual((m.method, m.cls), (stun.BINDING, stun.SUCCESS))
            self.assertEqual(m.xor_address(stun.XOR_MAPPED_ADDRESS), (ip, 32853))
            self.assertEqual(stun.ip_text(ip), text)
            self.assertEqual(stun.ip_bytes(text), ip)
            self.assertTrue(m.check_integrity(SHORT_TERM_PW))
            self.assertTrue(m.check_fingerprint())
            built = stun.Message(stun.BINDING, stun.SUCCESS, TXID)
            built.add(stun.SOFTWARE, b"test vector")
            built.add(stun.XOR_MAPPED_ADDRESS, stun.encode_xor_address((ip, 32853), TXID))
            self.assertEqual(built.encode(SHORT_TERM_PW, fingerprint=True, pad=b" "), raw)

    def test_sample_request_with_long_term_authentication(self):
        m = stun.Message.decode(SAMPLE_LONG_TERM)
        self.assertEqual(m.get(stun.USERNAME).decode(), LT_USER)
        self.assertEqual(m.get(stun.NONCE), b"f//499k954d6OL34oL9FSTvy64sA")
        self.assertEqual(m.get(stun.REALM), b"example.org")
        key = stun.long_term_key(LT_USER, "example.org", "TheMatrIX")
        self.assertTrue(m.check_integrity(key))
        self.assertFalse(m.check_integrity(stun.long_term_key(LT_USER, "example.org", "TheMatrix")))
        self.assertFalse(m.check_fingerprint())  # it has none
        built = stun.Message(m.method, m.cls, m.txid, [a for a in m.attrs if a[0] != stun.MESSAGE_INTEGRITY])
        self.assertEqual(built.encode(key), SAMPLE_LONG_TERM)

    def test_tampering_is_detected(self):
        for i in (25, 40, 60, 100):
            bad = bytearray(SAMPLE_REQUEST)
            bad[i] ^= 1
            try:
                m = stun.Message.decode(bytes(bad))
            except stun.StunError:
                continue
            self.assertFalse(m.check_integrity(SHORT_TERM_PW) and m.check_fingerprint(), i)

    def test_bad_input_is_a_stun_error(self):
        for bad in (b"", b"\x00" * 19, SAMPLE_REQUEST[:-1], SAMPLE_REQUEST[:20] + b"\x00\x06\x00\xff",
                    b"\x80" + SAMPLE_REQUEST[1:], SAMPLE_REQUEST[:4] + b"\x00" * 16,
                    b"\x00\x01\x00\x04" + SAMPLE_REQUEST[4:20] + b"\x00\x08\x00\x00"):
            self.assertRaises(stun.StunError, stun.Message.decode, bad)
        for bad in ("1.2.3", "1.2.3.256", "a.b.c.d", "1::2::3", "12345::1"):
            self.assertRaises(stun.StunError, stun.ip_bytes, bad)
        self.assertEqual(stun.ip_bytes("::1"), bytes(15) + b"\x01")

    def test_types_and_channel_data(self):
        for method in (stun.ALLOCATE, stun.REFRESH, stun.CHANNEL_BIND, stun.CREATE_PERMISSION):
            for cls in (stun.REQUEST, stun.SUCCESS, stun.ERROR):
                self.assertEqual(stun.split_type(stun.message_type(method, cls)), (method, cls))
        self.assertEqual(stun.message_type(stun.ALLOCATE, stun.ERROR), 0x0113)
        self.assertEqual(stun.message_type(stun.DATA, stun.INDICATION), 0x0017)
        cd = stun.encode_channel_data(0x4001, b"abcde", stream=True)
        self.assertEqual(cd, b"\x40\x01\x00\x05abcde\x00\x00\x00")
        self.assertEqual(stun.decode_channel_data(cd), (0x4001, b"abcde"))
        self.assertEqual(stun.frame_length(cd + b"\x00\x01"), 12)
        self.assertEqual(stun.frame_length(SAMPLE_REQUEST[:50]), 0)
        self.assertEqual(stun.frame_length(SAMPLE_REQUEST), len(SAMPLE_REQUEST))
        self.assertRaises(stun.StunError, stun.frame_length, b"\x80\x00\x00\x00")


class Counter:
    def __init__(self):
        self.n = 0

    def __call__(self, size):
        self.n += 1
        return struct.pack("!I", self.n) + bytes(size - 4)


REALM = b"hush.test"
NONCE = b"nonce-1"
RELAYED = (stun.ip_bytes("127.0.0.3"), 50000)
MAPPED = (stun.ip_bytes("127.0.0.2"), 40000)
PEER = (stun.ip_bytes("127.0.0.4"), 30000)


class FakeServer:
    """Answers like a TURN server with the long-term credential."""

    def __init__(self, user="u", password="p"):
        self.key = stun.long_term_key(user, REALM.decode(), password)
        self.nonce = NONCE
        self.seen = []
        self.stale_once = False

    def answer(self, data):
        m = stun.Message.decode(data)
        self.seen.append(m)
        if m.cls == stun.INDICATION:
            return None
        if m.get(stun.USERNAME) is None or not m.check_integrity(self.key):
            r = stun.Message(m.method, stun.ERROR, m.txid).add(stun.ERROR_CODE, stun.encode_error(401, "Unauthorized"))
            r.add(stun.REALM, REALM).add(stun.NONCE, self.nonce)
            return r.encode(fingerprint=True)
        if self.stale_once:
            self.stale_once = False
            self.nonce = b"nonce-2"
            r = stun.Message(m.method, stun.ERROR, m.txid).add(stun.ERROR_CODE, stun.encode_error(438, "Stale Nonce"))
            r.add(stun.REALM, REALM).add(stun.NONCE, self.nonce)
            return r.encode(self.key, fingerprint=True)
        r = stun.Message(m.method, stun.SUCCESS, m.txid)
        if m.method == stun.ALLOCATE:
            r.add(stun.XOR_RELAYED_ADDRESS, stun.encode_xor_address(RELAYED, m.txid))
            r.add(stun.XOR_MAPPED_ADDRESS, stun.encode_xor_address(MAPPED, m.txid))
            r.add(stun.LIFETIME, struct.pack("!I", 600))
        elif m.method == stun.REFRESH:
            r.add(stun.LIFETIME, m.get(stun.LIFETIME))
        return r.encode(self.key, fingerprint=True)


def events(c):
    out = []
    while True:
        e = c.next_event()
        if e is None:
            return out
        out.append(e)


def pump(c, server, now=0, drop=False):
    for d in c.datagrams_to_send():
        r = server.answer(d)
        if r is not None and not drop:
            c.receive(r, now)


class TurnClientTest(unittest.TestCase):
    def allocated(self, **kw):
        c = tc.TurnClient("u", "p", Counter(), **kw)
        server = FakeServer()
        c.allocate(0)
        for _ in range(3):
            pump(c, server)
        evs = events(c)
        self.assertEqual(c.state, tc.ALLOCATED)
        self.assertEqual(len(evs), 1)
        self.assertEqual((evs[0].relayed, evs[0].mapped, evs[0].lifetime), (RELAYED, MAPPED, 600))
        return c, server

    def test_challenge_then_allocation_with_the_long_term_credential(self):
        c, server = self.allocated()
        first, second = server.seen[0], server.seen[1]
        self.assertIsNone(first.get(stun.USERNAME))
        self.assertEqual(first.get(stun.REQUESTED_TRANSPORT), b"\x11\x00\x00\x00")
        self.assertEqual(second.get(stun.USERNAME), b"u")
        self.assertEqual((second.get(stun.REALM), second.get(stun.NONCE)), (REALM, NONCE))
        self.assertTrue(second.check_integrity(server.key) and second.check_fingerprint())
        self.assertNotIn(b"p", [v for _k, v in second.attrs])  # the password itself never travels

    def test_wrong_password_fails_once_challenged(self):
        c = tc.TurnClient("u", "wrong", Counter())
        c.allocate(0)
        for _ in range(4):
            pump(c, FakeServer())
        evs = events(c)
        self.assertEqual(c.state, tc.FAILED)
        self.assertEqual(evs[0].code, 401)

    def test_permission_channel_and_data_both_ways(self):
        c, server = self.allocated()
        c.permit(PEER[0], 10)
        pump(c, server, 10)
        self.assertEqual([type(e) for e in events(c)], [tc.Permitted])
        sent = c.wrap(PEER, b"hello")  # no channel yet: a Send indication
        m = stun.Message.decode(sent)
        self.assertEqual((m.method, m.cls), (stun.SEND, stun.INDICATION))
        self.assertEqual((m.xor_address(stun.XOR_PEER_ADDRESS), m.get(stun.DATA_ATTR)), (PEER, b"hello"))
        channel = c.bind(PEER, 20)
        pump(c, server, 20)
        bound = events(c)
        self.assertEqual((bound[0].peer, bound[0].channel), (PEER, channel))
        self.assertEqual(c.wrap(PEER, b"rtp!"), struct.pack("!HH", channel, 4) + b"rtp!")
        c.receive(stun.encode_channel_data(channel, b"back"), 30)
        ind = stun.Message(stun.DATA, stun.INDICATION, bytes(12))
        ind.add(stun.XOR_PEER_ADDRESS, stun.encode_xor_address(PEER, bytes(12))).add(stun.DATA_ATTR, b"via data")
        c.receive(ind.encode(), 31)
        c.receive(stun.encode_channel_data(channel + 1, b"nobody"), 32)  # no such channel: dropped
        got = [(e.peer, e.payload) for e in events(c)]
        self.assertEqual(got, [(PEER, b"back"), (PEER, b"via data")])
        self.assertEqual(c.stats["dropped"], 1)

    def test_media_through_a_channel_makes_no_garbage_when_sent(self):
        # A 20 ms frame through the relay: ChannelData is built in the
        # client's buffer (MicroPython counts the allocations).
        import gc

        from coretest import IS_MICROPYTHON

        c, server = self.allocated()
        c.bind(PEER, 0)
        pump(c, server)
        events(c)
        packet = bytes(range(172))
        for stream in (False, True):
            c.stream = stream
            for _ in range(3):
                c.wrap(PEER, packet)
            if IS_MICROPYTHON:
                gc.collect()
                before = gc.mem_alloc()
                for _ in range(50):
                    c.wrap(PEER, packet)
                self.assertEqual(gc.mem_alloc() - before, 0)
            frame = bytes(c.wrap(PEER, packet))
            self.assertEqual(stun.decode_channel_data(frame), (0x4000, packet))
            self.assertEqual(len(frame), 4 + 172)
            odd = bytes(c.wrap(PEER, b"abcde"))  # padded to 4 on a stream only (RFC 8656 §12.5)
            self.assertEqual(odd, b"\x40\x00\x00\x05abcde" + (b"\0\0\0" if stream else b""))
        self.assertEqual(c.unwrap(stun.encode_channel_data(0x4000, b"back")), b"back")
        self.assertIsNone(c.unwrap(stun.encode_channel_data(0x4005, b"nobody")))
        self.assertIsNone(c.unwrap(SAMPLE_REQUEST))

    def test_refreshes_keep_allocation_permission_and_channel(self):
        c, server = self.allocated()
        c.permit(stun.ip_bytes("127.0.0.9"), 0)
        c.bind(PEER, 0)
        pump(c, server)
        events(c)
        n = len(server.seen)
        timer = c.get_timer()
        self.assertEqual(timer, tc.PERMISSION_REFRESH_MS)
        c.handle_timer(timer)
        pump(c, server, timer)
        self.assertEqual([m.method for m in server.seen[n:]], [stun.CREATE_PERMISSION])
        c.handle_timer(tc.CHANNEL_REFRESH_MS)
        pump(c, server, tc.CHANNEL_REFRESH_MS)
        self.assertIn(stun.CHANNEL_BIND, [m.method for m in server.seen[n:]])
        c.handle_timer(540000 + 1)
        pump(c, server, 540001)
        self.assertIn(stun.REFRESH, [m.method for m in server.seen[n:]])  # at lifetime - 60 s
        self.assertEqual(c.state, tc.ALLOCATED)
        self.assertLessEqual(len(server.seen) - n, 5)  # no refresh storm
        c.close(600000)
        last = stun.Message.decode(c.datagrams_to_send()[0])
        self.assertEqual((last.method, last.get(stun.LIFETIME)), (stun.REFRESH, b"\x00\x00\x00\x00"))

    def test_stale_nonce_is_renewed(self):
        c, server = self.allocated()
        server.stale_once = True
        c.permit(PEER[0], 0)
        pump(c, server)
        pump(c, server)
        self.assertEqual([type(e) for e in events(c)], [tc.Permitted])
        self.assertEqual(server.seen[-1].get(stun.NONCE), b"nonce-2")

    def test_retransmission_over_udp_only(self):
        c = tc.TurnClient("u", "p", Counter())
        c.allocate(0)
        first = c.datagrams_to_send()[0]
        now, resent = 0, 0
        for _ in range(20):
            t = c.get_timer()
            if t is None:
                break
            now = t
            c.handle_timer(now)
            resent += len(c.datagrams_to_send())
        self.assertEqual(resent, 6)  # 7 tries in all
        self.assertEqual(c.state, tc.FAILED)
        self.assertIn("no answer", events(c)[0].reason)
        s = tc.TurnClient("u", "p", Counter(), stream=True)
        s.allocate(0)
        s.datagrams_to_send()
        s.handle_timer(s.get_timer())
        self.assertEqual(s.datagrams_to_send(), ())
        self.assertEqual(s.state, tc.FAILED)
        self.assertTrue(first)

    def test_forged_answers_are_dropped(self):
        c, server = self.allocated()
        c.permit(PEER[0], 0)
        sent = stun.Message.decode(c.datagrams_to_send()[0])
        forged = stun.Message(stun.CREATE_PERMISSION, stun.SUCCESS, sent.txid).encode(b"k" * 16)
        c.receive(forged, 0)  # right transaction, wrong key
        c.receive(b"\x00\x01garbage", 0)
        c.receive(stun.Message(stun.CREATE_PERMISSION, stun.SUCCESS, b"x" * 12).encode(server.key), 0)
        self.assertEqual(events(c), [])
        self.assertEqual(c.stats["dropped"], 3)
        self.assertRaises(tc.TurnError, tc.TurnClient("u", "p", Counter()).wrap, PEER, b"x")


if __name__ == "__main__":
    unittest.main()


class TurnUriTest(unittest.TestCase):
    def test_forms(self):
        from hushphone.turn import uri

        for text, want in (("turn:relay.example.org", ("turn", "relay.example.org", 3478, "udp")),
                           ("turn:127.0.0.3:3479?transport=udp", ("turn", "127.0.0.3", 3479, "udp")),
                           ("turn:r.example?transport=tcp", ("turn", "r.example", 3478, "tcp")),
                           ("turns:r.example", ("turns", "r.example", 5349, "tls")),
                           ("turns:[2001:db8::1]:443", ("turns", "2001:db8::1", 443, "tls"))):
            u = uri.parse(text)
            self.assertEqual((u.scheme, u.host, u.port, u.transport), want, text)
        for bad in ("stun:x", "turn:", "turn:x:0", "turn:x:99999", "turn:x?transport=sctp", "turns:x?transport=udp",
                    "turn:[::1", "turn:x:ab"):
            self.assertRaises(uri.TurnUriError, uri.parse, bad)
