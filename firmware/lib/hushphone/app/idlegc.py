# Garbage collection where it costs nothing: in the idle part of the 20 ms
# tick. MicroPython collects when an allocation finds no room, and that
# collection (a mark of everything alive and a sweep of the heap: ~50 us at
# 128 KiB and ~0.5 ms at 4 MiB on x86, one to two orders of magnitude more
# on an ESP32) stalls whatever was allocating: a received packet, a frame.
# A call's media allocates nothing per frame except the packet object the
# socket's read makes, so collecting in the spare time after a tick's work,
# before free memory runs short, keeps collections out of frame work.
import gc

from hushphone.compat import IS_MICROPYTHON, ticks_diff, ticks_us

_MIN_RESERVE = 16 * 1024
_MARGIN_MS = 2  # spare time left after a collection, at least
_MAX_WAIT = 500  # ticks between looks at the heap, at most (10 s)


class IdleCollector:
    """idle(spare_ms) after each tick's work. It looks at the heap now and
    then (gc.mem_free scans the allocation table: ~1 ms at 4 MiB on x86,
    so not every tick), learns how fast the ticks use memory, and collects
    when free memory is below the reserve, at a tick whose spare time
    covers what the last collection took; the next look comes when about
    half the headroom is used. The reserve: half of what was free after
    the last collection (at least 16 KiB), so half the free heap is always
    left for what cannot wait (a SIP message, a key agreement). Nothing on
    CPython."""

    def __init__(self, reserve=None):
        self.collections = 0
        self.looks = 0
        self.cost_us = 0  # the last idle collection
        self.worst_us = 0
        self._tick = 0
        self._due = 0
        self._free = None  # at the last look (after collecting, if it did)
        self._looked = 0
        self._rate = 0  # bytes per tick, as last seen
        self._fixed = reserve is not None
        self.reserve = reserve if reserve is not None else _MIN_RESERVE

    def idle(self, spare_ms):
        """Returns True when it collected."""
        if not IS_MICROPYTHON:
            return False
        self._tick += 1
        if self._tick < self._due:
            return False
        if spare_ms * 1000 < self.cost_us + _MARGIN_MS * 1000:
            return False  # not enough spare time in this tick: the next one
        free = gc.mem_free()
        self.looks += 1
        if self._free is not None and self._tick > self._looked and free < self._free:
            self._rate = (self._free - free) // (self._tick - self._looked)
        collected = False
        if free < self.reserve:
            t0 = ticks_us()
            gc.collect()
            cost = ticks_diff(ticks_us(), t0)
            self.cost_us = cost
            if cost > self.worst_us:
                self.worst_us = cost
            self.collections += 1
            collected = True
            free = gc.mem_free()
        if not self._fixed and (collected or self.looks == 1):
            self.reserve = max(_MIN_RESERVE, free // 2)
        self._free = free
        self._looked = self._tick
        headroom = free - self.reserve
        wait = _MAX_WAIT
        if self._rate > 0 and headroom > 0:
            wait = min(_MAX_WAIT, max(1, headroom // self._rate // 2))
        elif headroom <= 0:
            wait = 1  # still short after collecting: look again next tick
        self._due = self._tick + wait
        return collected


_collector = None


def idle_collect(spare_ms):
    """The phone's collector (one per process), made on first use."""
    global _collector
    if _collector is None:
        _collector = IdleCollector()
    return _collector.idle(spare_ms)
