# Bad input never crashes the user agent: messages from a real exchange,
# mutated (bytes flipped, lines dropped, duplicated or cut, values swapped
# between messages), fed to agents in every call state. receive() must
# return normally every time (malformed input is counted or answered).
import unittest

from hushphone.sip.useragent import UaConfig, UserAgent

from sip_fakelink import Counter, FakeLink, FakeRegistrar, events_of

ROUNDS = 400


def corpus():
    """Every message two agents exchange in one call, and the agents mid-call."""
    reg = FakeRegistrar({"alice": "pa", "bob": "pb"})
    a = UserAgent(UaConfig("sip:alice@example.test", "alice", "pa"), Counter(b"fa"))
    b = UserAgent(UaConfig("sip:bob@example.test", "bob", "pb"), Counter(b"fb"))
    link = FakeLink(a, b, reg, record_route=["<sip:p.example.test;lr>"], proxy_auth=True)
    a.register(0)
    b.register(0)
    link.pump()
    events_of(a)
    events_of(b)
    call = a.call("bob", b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
                  b"m=audio 4000 RTP/AVP 0\r\n", 0)
    link.pump()
    incoming = events_of(b)[0].call
    b.ringing(incoming, 0)
    b.answer(incoming, b"v=0\r\n", 0)
    link.pump()
    a.reinvite(call, b"v=0\r\n", 0)
    link.pump()
    b.accept_update(incoming, b"v=0\r\n", 0)
    link.pump()
    messages = [d for _, d in link.log if d.strip(b"\r\n")]
    return messages, a, b


class Mutator:
    def __init__(self, seed):
        self.rnd = Counter(seed)

    def below(self, n):
        b = self.rnd(2)
        return ((b[0] << 8) | b[1]) % n

    def mutate(self, data, others):
        lines = data.split(b"\r\n")
        kind = self.below(7)
        if kind == 0:  # flip some bytes
            out = bytearray(data)
            for _ in range(1 + self.below(4)):
                i = self.below(len(out))
                out[i] = self.rnd(1)[0]
            return bytes(out)
        if kind == 1:  # drop a line
            del lines[self.below(len(lines))]
        elif kind == 2:  # duplicate a line
            i = self.below(len(lines))
            lines.insert(i, lines[i])
        elif kind == 3:  # cut the message short
            return data[: self.below(len(data))]
        elif kind == 4:  # a header line from another message
            other = others[self.below(len(others))].split(b"\r\n")
            lines[1 + self.below(max(1, len(lines) - 1))] = other[self.below(len(other))]
        elif kind == 5:  # empty a header value
            i = 1 + self.below(max(1, len(lines) - 1))
            if b":" in lines[i]:
                lines[i] = lines[i].split(b":")[0] + b":"
        else:  # swap the start line with another message's
            other = others[self.below(len(others))].split(b"\r\n")
            lines[0] = other[0]
        return b"\r\n".join(lines)


class Fuzz(unittest.TestCase):
    def test_mutated_messages_never_raise(self):
        messages, a, b = corpus()
        self.assertGreater(len(messages), 10)
        m = Mutator(b"fuzz")
        handled = 0
        for i in range(ROUNDS):
            data = m.mutate(messages[i % len(messages)], messages)
            target = a if i % 2 else b
            try:
                target.receive(data, 1000 + i)
                target.data_to_send()
                events_of(target)
            except Exception as e:  # the property under test: nothing escapes
                self.fail("round %d raised %r for %r" % (i, e, data[:200]))
            handled += 1
        self.assertEqual(handled, ROUNDS)
        self.assertGreater(a.bad_messages + b.bad_messages, ROUNDS // 10)

    def test_mutated_answers_to_a_pending_invite(self):
        m = Mutator(b"answers")
        for i in range(60):
            reg = FakeRegistrar({})
            a = UserAgent(UaConfig("sip:alice@example.test"), Counter(b"pa%d" % i))
            b = UserAgent(UaConfig("sip:bob@example.test"), Counter(b"pb%d" % i))
            link = FakeLink(a, b, reg)
            call = a.call("bob", b"v=0\r\n", 0)
            link.drop = lambda sender, data: sender == "b"
            link.pump()
            incoming = events_of(b)[0].call
            b.ringing(incoming, 0)
            b.answer(incoming, b"v=0\r\n", 0)
            link.pump()
            answers = [d for n, d in link.log if n == "b"]
            for data in answers:
                try:
                    a.receive(m.mutate(data, answers), 1)
                    a.data_to_send()
                    events_of(a)
                    a.handle_timer(100000)
                except Exception as e:
                    self.fail("round %d raised %r" % (i, e))
            self.assertIn(call.state, ("calling", "early", "confirmed", "ended"))

    def test_valid_messages_replayed_out_of_order_never_raise(self):
        messages, a, b = corpus()
        for i, data in enumerate(reversed(messages)):
            for ua in (a, b):
                ua.receive(data, 5000 + i)
                ua.data_to_send()
        self.assertEqual(a.bad_messages + b.bad_messages, 0)
