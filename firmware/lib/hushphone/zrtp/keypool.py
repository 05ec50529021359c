# Ephemeral key pairs made ahead of time. A DH-3072 pair costs tens of
# milliseconds on a PC and seconds on an ESP32, X25519 a few milliseconds
# to a few hundred; the phone fills this pool while idle (one pair per
# call to refill_one(), so the caller's loop stays responsive) and a call
# takes a ready pair instead of waiting. Each pair is used once.
from hushphone.zrtp import dh


class KeyPool:
    def __init__(self, random_bytes, targets=None):
        """`targets`: how many ready pairs to keep per agreement."""
        self._random = random_bytes
        self._targets = targets if targets is not None else {dh.KA_X255: 2, dh.KA_DH3K: 1}
        self._ready = {}
        for agreement in self._targets:
            self._ready[agreement] = []
        self.made_on_demand = 0  # pairs a call had to wait for

    def ready(self, agreement):
        return len(self._ready.get(agreement, ()))

    def full(self):
        for agreement, target in self._targets.items():
            if len(self._ready[agreement]) < target:
                return False
        return True

    def refill_one(self):
        """Make one missing pair, fastest agreement first; False when the
        pool is already full (nothing to do while idle)."""
        best = None
        for agreement, target in self._targets.items():
            if len(self._ready[agreement]) < target:
                if best is None or dh.SPEED_RANK.get(agreement, 9) < dh.SPEED_RANK.get(best, 9):
                    best = agreement
        if best is None:
            return False
        self._ready[best].append(dh.generate(best, self._random))
        return True

    def fill(self, limit=16):
        """Refill completely (bounded), e.g. at boot."""
        for _ in range(limit):
            if not self.refill_one():
                return

    def take(self, agreement):
        """A ready pair of `agreement`, or a new one made now."""
        ready = self._ready.get(agreement)
        if ready:
            return ready.pop(0)
        self.made_on_demand += 1
        return dh.generate(agreement, self._random)
