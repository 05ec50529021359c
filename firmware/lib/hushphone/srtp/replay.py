# Replay protection (RFC 3711 §3.3.2): the highest authenticated index of a
# stream and a ring of which of the last `size` indices were seen (slot
# index % size, one byte each: cheaper to test and set than bits), so
# sliding forward costs nothing and allocates nothing.


class ReplayWindow:
    def __init__(self, size):
        self.top = -1  # highest index accepted so far; -1 before the first
        self.size = size
        self.mask = size - 1
        self.seen = bytearray(size)

    def fresh(self, index):
        """May a packet with this index be accepted (newer than the top, or
        inside the window and not seen yet)?"""
        top = self.top
        if index > top:
            return True
        if top - index >= self.size:
            return False
        return not self.seen[index & self.mask]

    def accept(self, index):
        """Record an authenticated index (fresh() said yes). The in-order
        case (index == top + 1) needs only `top = index` and its slot set:
        the SRTP context does that inline on its per-packet path."""
        top = self.top
        if index > top:
            if index != top + 1:
                self._skip(top, index)
            self.top = index
        self.seen[index & self.mask] = 1

    def _skip(self, top, index):
        # The slots of top+1 .. index-1 now stand for indices never seen:
        # clear them (all of them when the jump is a window or more).
        seen = self.seen
        if top < 0 or index - top >= self.size:
            for i in range(len(seen)):
                seen[i] = 0
            return
        mask = self.mask
        for i in range(top + 1, index):
            seen[i & mask] = 0
