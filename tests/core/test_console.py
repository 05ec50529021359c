# The console control channel: control lines parsed strictly (a typo is a
# ConsoleError, never a crash), events as one JSON line each, and the
# non-blocking line reader over a pipe.
import os
import unittest

from hushphone.app.console import ConsoleError, LineReader, event_line, parse, parse_event


class ParseTest(unittest.TestCase):
    def test_commands(self):
        self.assertEqual(parse("key 5"), ("key", "5"))
        self.assertEqual(parse("  KEY   CALL \r"), ("key", "CALL"))
        self.assertEqual(parse("keys 1,2,wait:300,CALL"), ("keys", "1,2,wait:300,CALL"))
        self.assertEqual(parse("dial bob"), ("dial", "bob"))
        self.assertEqual(parse("stats"), ("stats", None))
        self.assertEqual(parse("quit"), ("quit", None))
        self.assertIsNone(parse(""))
        self.assertIsNone(parse("   # a comment"))

    def test_bad_lines(self):
        for line in ("kex 5", "key", "key 5 6", "dial", "stats now", "quit please", "\u00e9"):
            self.assertRaises(ConsoleError, parse, line)

    def test_events(self):
        line = event_line("dtmf", {"key": "5", "peer": "b\u00f6b"})
        self.assertTrue(line.startswith("@event {"))
        self.assertNotIn("\n", line)
        self.assertEqual(parse_event(line), {"event": "dtmf", "key": "5", "peer": "b\u00f6b"})
        self.assertIsNone(parse_event("|a display line|"))
        self.assertIsNone(parse_event("@event {broken"))
        self.assertIsNone(parse_event("@event [1]"))


class LineReaderTest(unittest.TestCase):
    def test_lines_from_a_file_then_end_of_input(self):
        path = "/tmp/hush_console_test_%d" % id(self)
        with open(path, "wb") as f:
            f.write(b"key 1\nkey 2\n" + b"x" * 2000 + b"\nstats\npartial")
        try:
            with open(path, "rb") as f:
                reader = LineReader(f)
                lines = []
                for _ in range(50):  # bounded: the reader takes at most 512 bytes per poll on MicroPython
                    lines += reader.poll()
                    if reader.closed:
                        break
        finally:
            os.remove(path)
        self.assertEqual(lines, ["key 1", "key 2", "stats"])
        self.assertEqual(reader.dropped, 1)  # the over-long line
        self.assertTrue(reader.closed)

    def test_pipe_does_not_block(self):
        if not hasattr(os, "pipe"):  # the unix port has no os.pipe: the file test covers it there
            return
        r, w = os.pipe()
        reader = LineReader(open(r, "rb"))
        self.assertEqual(reader.poll(), [])  # nothing yet: returns at once
        os.write(w, b"key 1\nkey")
        self.assertEqual(reader.poll(), ["key 1"])
        os.write(w, b" 2\nstats\n")
        self.assertEqual(reader.poll(), ["key 2", "stats"])
        os.close(w)
        self.assertEqual(reader.poll(), [])
        self.assertTrue(reader.closed)


if __name__ == "__main__":
    unittest.main()
