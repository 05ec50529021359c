# Call log retention by count and by age (clock passed in), clear, and the
# file on the handset.
import os
import unittest

from hushphone.app.calllog import CallLog, CallLogError
from hushphone.crypto.random import random_bytes

DAY = 86400
T0 = 1700000000


def _hex(b):
    return "".join("%02x" % x for x in b)


class CallLogTest(unittest.TestCase):
    def setUp(self):
        self.path = "/tmp/hush_calllog_test_%s.json" % _hex(random_bytes(8))

    def tearDown(self):
        for p in (self.path, self.path + ".tmp"):
            try:
                os.remove(p)
            except OSError:
                pass

    def test_count_limit_keeps_the_newest(self):
        log = CallLog(self.path, max_entries=3, max_days=30)
        for i in range(5):
            log.add("out", "p%d" % i, i, T0 + i)
        self.assertEqual([e["peer"] for e in log.view(T0 + 5)], ["p4", "p3", "p2"])
        self.assertEqual([e["peer"] for e in CallLog(self.path, 3, 30).load(T0 + 5).entries], ["p4", "p3", "p2"])

    def test_age_limit_with_a_passed_in_clock(self):
        log = CallLog(self.path, max_entries=100, max_days=2)
        log.add("in", "old", 10, T0)
        log.add("missed", "new", 0, T0 + DAY)
        self.assertEqual(len(log.view(T0 + 2 * DAY)), 2)  # exactly 2 days: still kept
        self.assertEqual([e["peer"] for e in log.view(T0 + 2 * DAY + 1)], ["new"])
        # Pruned on load too, and the file follows on the next write.
        log2 = CallLog(self.path, max_entries=100, max_days=2).load(T0 + 3 * DAY + 1)
        self.assertEqual(log2.entries, [])

    def test_unknown_date_only_count_applies(self):
        log = CallLog(None, max_entries=2, max_days=1)
        log.add("out", "a", 1, None)
        log.add("out", "b", 1, T0)
        self.assertEqual([e["peer"] for e in log.view(T0 + 10 * DAY)], ["a"])
        log.add("out", "c", 1, None)
        log.add("out", "d", 1, None)
        self.assertEqual([e["peer"] for e in log.view(None)], ["d", "c"])

    def test_clear(self):
        log = CallLog(self.path)
        log.add("in", "a", 5, T0)
        log.clear()
        self.assertEqual(log.view(T0), [])
        self.assertEqual(CallLog(self.path).load(T0).entries, [])

    def test_bad_input(self):
        self.assertRaises(CallLogError, CallLog, None, 0)
        self.assertRaises(CallLogError, CallLog(None).add, "weird", "a", 0, T0)
        with open(self.path, "w") as f:
            f.write("{broken")
        self.assertEqual(CallLog(self.path).load(T0).entries, [])
        with open(self.path, "w") as f:
            f.write('[{"kind": "in", "peer": "a", "secs": 1, "t": %d}, 5, {"kind": "bogus"}]' % T0)
        self.assertEqual(len(CallLog(self.path).load(T0).entries), 1)


if __name__ == "__main__":
    unittest.main()
