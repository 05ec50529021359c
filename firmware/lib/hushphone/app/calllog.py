# The call log, with purpose limitation: entries are kept for at most
# `max_days` days and at most `max_entries` calls, pruned whenever it is
# read or written, and the user can clear it. Stored as JSON on the
# handset's filesystem. Time is passed in: unix seconds, or None while the
# handset does not know the date (then only the count limit applies to it).
import json

DEFAULT_MAX_ENTRIES = 100
DEFAULT_MAX_DAYS = 30
_DAY_S = 86400
KINDS = ("in", "out", "missed", "declined", "busy", "failed")


class CallLogError(ValueError):
    """Bad call-log data (an unknown kind, a corrupt file)."""


class CallLog:
    """entries: newest first, each {"t": unix seconds or None, "kind",
    "peer", "secs": call duration}."""

    def __init__(self, path=None, max_entries=DEFAULT_MAX_ENTRIES, max_days=DEFAULT_MAX_DAYS):
        if max_entries < 1 or max_days < 1:
            raise CallLogError("retention limits must be at least 1")
        self.path = path
        self.max_entries = max_entries
        self.max_days = max_days
        self.entries = []

    def load(self, now_s=None):
        if self.path is None:
            return self
        try:
            f = open(self.path, "r")
        except OSError:
            self.entries = []
            return self
        with f:
            try:
                data = json.load(f)
            except ValueError:
                data = None
        if not isinstance(data, list):
            data = []  # a damaged log is dropped rather than kept half-read
        self.entries = [e for e in data if isinstance(e, dict) and e.get("kind") in KINDS]
        self.prune(now_s)
        return self

    def save(self):
        if self.path is None:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.entries, f)
        import os

        os.rename(tmp, self.path)

    def add(self, kind, peer, secs, now_s):
        if kind not in KINDS:
            raise CallLogError("unknown call kind %r" % (kind,))
        self.entries.insert(0, {"t": now_s, "kind": kind, "peer": peer, "secs": int(secs)})
        self.prune(now_s)
        self.save()

    def prune(self, now_s):
        """Drop what is older than max_days (when the date is known) and
        all but the newest max_entries."""
        if now_s is not None:
            oldest = now_s - self.max_days * _DAY_S
            self.entries = [e for e in self.entries if e["t"] is None or e["t"] >= oldest]
        del self.entries[self.max_entries:]

    def clear(self):
        self.entries = []
        self.save()

    def view(self, now_s):
        """The entries after pruning, newest first."""
        self.prune(now_s)
        return list(self.entries)
