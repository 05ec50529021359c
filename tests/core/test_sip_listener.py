# The listening transport's pure parts (sip/transport.py): where an
# outgoing message goes (its Call-ID), who a connection comes from, each
# connection's deadline; and the stream framer under pipelined input cut
# into reads (a flood of INVITE+CANCEL in one write once lost its framing:
# the buffer was compacted under a pending message).
import unittest

from hushphone.sip.framing import StreamParser
from hushphone.sip.transport import (HANDSHAKE_MS, IDLE_MS, MESSAGE_MS, WRITE_MS, _call_id_of, _Connection,
                                     _source_of)


def request(i, body):
    return (b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/TLS a.invalid;branch=z9hG4bK%d\r\nFrom: <sip:a@x>;tag=1\r\n"
            b"To: <sip:b@x>\r\nCall-ID: id-%d\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContact: <sip:a@x>\r\n"
            b"Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n" % (i, i, len(body)) + body)


class Routing(unittest.TestCase):
    def test_the_call_id_of_an_outgoing_message(self):
        self.assertEqual(_call_id_of(request(7, b"v=0\r\n")), "id-7")
        compact = b"SIP/2.0 200 OK\r\nv: SIP/2.0/TLS a\r\ni:  abc@h \r\nl: 0\r\n\r\n"
        self.assertEqual(_call_id_of(compact), "abc@h")
        self.assertIsNone(_call_id_of(b"\r\n\r\n"))  # a keepalive ping
        self.assertIsNone(_call_id_of(b"SIP/2.0 200 OK\r\nCall-Info: x\r\n\r\nCall-ID: body\r\n"))

    def test_the_source_without_its_port(self):
        self.assertEqual(_source_of(("127.0.0.2", 4242)), "127.0.0.2")
        sockaddr = b"\x02\x00\x10\x92\x7f\x00\x00\x02" + bytes(8)  # AF_INET, port, 127.0.0.2
        other_port = b"\x02\x00\x20\x00\x7f\x00\x00\x02" + bytes(8)
        self.assertEqual(_source_of(sockaddr), _source_of(other_port))
        self.assertNotEqual(_source_of(sockaddr), _source_of(b"\x02\x00\x10\x92\x7f\x00\x00\x03" + bytes(8)))


class Deadlines(unittest.TestCase):
    def test_each_phase_has_its_deadline(self):
        c = _Connection(None, "s", 1000)
        self.assertEqual(c.deadline(False), 1000 + HANDSHAKE_MS)  # before TLS and the first bytes
        c.opened = True
        c.last_message = 2000
        self.assertEqual(c.deadline(False), 2000 + IDLE_MS)
        self.assertIsNone(c.deadline(True))  # a call on it: no idle deadline
        c.partial_since = 3000
        self.assertEqual(c.deadline(True), 3000 + MESSAGE_MS)  # a message begun must end
        c.write_since = 2500
        self.assertEqual(c.deadline(True), 2500 + WRITE_MS)


class PipelinedFraming(unittest.TestCase):
    def test_pipelined_messages_cut_into_reads_keep_their_framing(self):
        messages = [request(i, b"x" * (100 + 37 * i)) for i in range(20)]
        data = b"".join(messages)
        for size in (7, 512, 2048):
            parser = StreamParser()
            got = []
            for k in range(0, len(data), size):
                parser.feed(data[k : k + size])
                while True:
                    item = parser.next_event()
                    if item is None:
                        break
                    got.append((item.headers.get("Call-ID"), len(item.body)))
            self.assertEqual(got, [("id-%d" % i, 100 + 37 * i) for i in range(20)], size)


if __name__ == "__main__":
    unittest.main()
