# Signed over-the-air updates: the update format (ESP-IDF app image + Secure
# Boot V2 signature sector, signed manifest, .hushota bundle) and the
# streaming verifier that both the handset and `hushctl ota verify` run.


class OtaRejected(Exception):
    """An update (or a part of one) was refused. `reason` is a short machine
    word ("signature", "untrusted-key", "revoked-key", "digest", "board",
    "chip", "expired", "downgrade", "truncated", "oversized", "malformed",
    "mismatch", "unconfirmed", "revoked-technician", "kind"); the message says what
    exactly was wrong."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __str__(self):
        return "%s: %s" % (self.reason, self.message)
