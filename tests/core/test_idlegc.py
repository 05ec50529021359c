# The idle collector collects only when free memory is short and the tick
# has the spare time for it; on CPython it does nothing.
import gc
import unittest

from coretest import IS_MICROPYTHON
from hushphone.app.idlegc import IdleCollector


class IdleCollectorTest(unittest.TestCase):
    def test_collects_when_short_of_memory_and_time_allows(self):
        if not IS_MICROPYTHON:
            c = IdleCollector()
            self.assertFalse(c.idle(20))
            self.assertEqual(c.collections, 0)
            return
        roomy = IdleCollector(reserve=0)  # never short of memory
        self.assertFalse(roomy.idle(20))
        short = IdleCollector(reserve=gc.mem_free() + gc.mem_alloc() + 1)  # always short
        self.assertFalse(short.idle(1))  # 1 ms spare: less than the 2 ms margin
        garbage = [bytearray(64) for _ in range(50)]
        del garbage
        before = gc.mem_free()
        self.assertTrue(short.idle(20))
        self.assertEqual(short.collections, 1)
        self.assertGreater(gc.mem_free(), before)  # the garbage was collected
        self.assertGreater(short.cost_us, 0)
        # the next tick must have room for what a collection took, plus 2 ms
        # still short after collecting: it looks again at the next tick, if
        # that tick has room for what a collection took, plus 2 ms
        self.assertFalse(short.idle((short.cost_us + 999) // 1000 + 1))
        self.assertEqual(short.collections, 1)
        self.assertTrue(short.idle(20))
        self.assertEqual(short.collections, 2)

    def test_looks_at_the_heap_rarely_when_there_is_room(self):
        if not IS_MICROPYTHON:
            return
        roomy = IdleCollector(reserve=0)
        for _ in range(100):
            roomy.idle(20)
        self.assertEqual(roomy.collections, 0)
        self.assertEqual(roomy.looks, 1)  # then not again for 500 ticks (nothing is used up)


if __name__ == "__main__":
    unittest.main()
