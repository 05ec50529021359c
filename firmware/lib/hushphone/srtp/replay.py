# Replay protection (RFC 3711 §3.3.2): the highest authenticated index of a
# stream and a ring bitmap of which of the last `size` indices were seen
# (bit index % size), so sliding forward costs nothing and allocates nothing.


class ReplayWindow:
    def __init__(self, size):
        self.top = -1  # highest index accepted so far; -1 before the first
        self.size = size
        self._mask = size - 1
        self._bits = bytearray(size >> 3)

    def fresh(self, index):
        """May a packet with this index be accepted (newer than the top, or
        inside the window and not seen yet)?"""
        top = self.top
        if index > top:
            return True
        if top - index >= self.size:
            return False
        pos = index & self._mask
        return not self._bits[pos >> 3] & (1 << (pos & 7))

    def accept(self, index):
        """Record an authenticated index (fresh() said yes)."""
        top = self.top
        if index > top:
            if index != top + 1:
                self._skip(top, index)
            self.top = index
        pos = index & self._mask
        self._bits[pos >> 3] |= 1 << (pos & 7)

    def _skip(self, top, index):
        # The slots of top+1 .. index-1 now stand for indices never seen:
        # clear them (all of them when the jump is a window or more).
        bits = self._bits
        if top < 0 or index - top >= self.size:
            for i in range(len(bits)):
                bits[i] = 0
            return
        mask = self._mask
        for i in range(top + 1, index):
            pos = i & mask
            bits[pos >> 3] &= ~(1 << (pos & 7))
