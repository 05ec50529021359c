# ZRTP for the phone app: the ZID cache (retained secrets, kept in the
# secrets store), the pool of ephemeral key pairs filled while idle, a
# fresh engine for each call, and what the phone does with ZRTP events
# (SAS shown, key-change warning, a call ended on mismatch or failure)
# and with the user's SAS verdict.
import gc

_REFILL_EVERY_TICKS = 10  # ZRTP key pool: one pair per 200 ms while idle
_REFILL_PAUSE_TICKS = 1500  # ... and a 30 s pause after one found no memory


class _StoreStorage:
    """The ZID cache's storage (get/set of blobs) on a HAL Store: the
    secrets store, as retained secrets are secrets."""

    def __init__(self, store):
        self._store = store

    def get(self, key):
        return self._store.get_bytes(key)

    def set(self, key, value):
        self._store.set_bytes(key, value)
        self._store.commit()


class ZrtpCalls:
    """The phone's ZRTP side; `phone` is the app (app/phone.py). With ZRTP
    off (policy), zid_cache and keypool are None and engine() too."""

    def __init__(self, phone, enabled):
        self.phone = phone
        self.zid_cache = None
        self.keypool = None
        self.refill_at = 0  # the main loop's tick count of the next refill
        if enabled:
            from hushphone.zrtp.cache import ZidCache
            from hushphone.zrtp.keypool import KeyPool

            self.zid_cache = ZidCache(_StoreStorage(phone.hal.secrets), phone.hal.random_bytes)
            self.keypool = KeyPool(phone.hal.random_bytes)

    def engine(self):
        """A fresh ZRTP engine for a call (our Hello hash goes into the SDP),
        or None when ZRTP is off."""
        if self.zid_cache is None:
            return None
        from hushphone.zrtp.engine import ZrtpEngine

        hal = self.phone.hal
        return ZrtpEngine(self.zid_cache, hal.random_bytes, keypool=self.keypool,
                          wall_time_s=hal.clock.unix_time() or 0)

    def refill_due(self, ticks):
        return self.keypool is not None and ticks >= self.refill_at

    def refill(self, ticks):
        """One ephemeral ZRTP key pair made while idle (every 10 ticks). A
        pair that finds no memory is no fault: the pool pauses for a while
        and a call makes its pair when it needs one."""
        self.refill_at = ticks + _REFILL_EVERY_TICKS
        try:
            self.keypool.refill_one()
        except MemoryError:
            gc.collect()
            self.refill_at = ticks + _REFILL_PAUSE_TICKS

    def on_event(self, line, media, e, now):
        from hushphone.zrtp import events as zev

        phone = self.phone
        security = media.security
        if isinstance(e, zev.ZrtpSecure):
            # (the key agreement's garbage was collected as the session went
            # secure, before its SRTP contexts were made: app/zrtpmedia.py)
            security.zrtp_secure(e.sas, e.verified)
            phone.emit("secure", peer=line.peer, sas=e.sas, verified=e.verified, cache_matched=e.cache_matched,
                       suite=e.srtp_suite, agreement=e.agreement, label=security.label())
        elif isinstance(e, zev.ZrtpCacheMismatch):
            security.keys_changed = True
            phone.emit("zrtp_warning", peer=line.peer, text=e.message)
        elif isinstance(e, zev.ZrtpHelloHashMismatch):
            # The Hello does not match the SDP: someone may be rewriting
            # the media path. No call rather than an unauthenticated one.
            phone.emit("refused", peer=line.peer, status=None, reason="ZRTP Hello does not match the signalling")
            phone.calls.hangup(now, "ZRTP mismatch", line)
        elif isinstance(e, zev.ZrtpFailed):
            phone.emit("refused", peer=line.peer, status=None, reason="ZRTP failed: %s" % e.reason)
            phone.calls.hangup(now, "ZRTP failed", line)
        phone.actions()
        phone.refresh()

    def sas_verdict(self, confirmed, now):
        """The user compared the SAS with the peer: Confirm marks the peer
        verified in the ZID cache; Reject ends the call (a man in the middle
        may be listening)."""
        phone = self.phone
        line = phone.calls.current
        media = line.ref[1] if line is not None and line.ref is not None else None
        if media is None or media.engine is None or media.security is None or not media.security.secure:
            return
        media.engine.set_verified(confirmed)
        if confirmed:
            media.security.verified = True
            media.security.keys_changed = False
            phone.emit("sas_confirmed", peer=line.peer, sas=media.security.sas)
        else:
            phone.emit("sas_rejected", peer=line.peer, sas=media.security.sas)
            phone.calls.hangup(now, "SAS rejected", line)
