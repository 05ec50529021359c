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


class IdleCollector:
    """idle(spare_ms) after a tick's work: collects when free memory is
    below the reserve (a quarter of the heap, at least 16 KiB) and the
    spare time covers what the last collection took. Nothing on CPython."""

    def __init__(self, reserve=None):
        self.collections = 0
        self.cost_us = 0  # the last idle collection
        self.worst_us = 0
        if IS_MICROPYTHON:
            heap = gc.mem_free() + gc.mem_alloc()
            self.reserve = reserve if reserve is not None else max(_MIN_RESERVE, heap // 4)
        else:
            self.reserve = 0

    def idle(self, spare_ms):
        if not IS_MICROPYTHON or gc.mem_free() >= self.reserve:
            return False
        if spare_ms * 1000 < self.cost_us + _MARGIN_MS * 1000:
            return False  # not enough time this tick: the next one
        t0 = ticks_us()
        gc.collect()
        cost = ticks_diff(ticks_us(), t0)
        self.cost_us = cost
        if cost > self.worst_us:
            self.worst_us = cost
        self.collections += 1
        return True


_collector = None


def idle_collect(spare_ms):
    """The phone's collector (one per process), made on first use."""
    global _collector
    if _collector is None:
        _collector = IdleCollector()
    return _collector.idle(spare_ms)
