# What the ZRTP engine tells the app (engine.next_event()).

# Error codes of the ZRTP Error message (RFC 6189 §5.9), also used in
# ZrtpFailed when the engine itself gives up.
E_MALFORMED = 0x10
E_SOFTWARE = 0x20
E_VERSION = 0x30
E_HELLO_MISMATCH = 0x40
E_HASH = 0x51
E_CIPHER = 0x52
E_AGREEMENT = 0x53
E_AUTH_TAG = 0x54
E_SAS = 0x55
E_DH_BAD_PV = 0x61
E_DH_HVI = 0x62
E_CONFIRM_MAC = 0x70
E_EQUAL_ZID = 0x90
E_TIMEOUT = 0xB0


class ZrtpSecure:
    """The key agreement is done: show "ZRTP", the SAS and verify/reject.

    sas: the string to read aloud; sas_type: "B32" or "B256"; verified:
    both sides have this peer marked as verified and the retained secret
    matched; srtp_suite, and the master keys and salts for what we send
    (tx) and receive (rx). srtp_contexts() builds the two SrtpContexts."""

    def __init__(self, sas, sas_type, verified, srtp_suite, tx_key, tx_salt, rx_key, rx_salt, peer_zid, agreement, cache_matched):
        self.sas = sas
        self.sas_type = sas_type
        self.verified = verified
        self.srtp_suite = srtp_suite
        self.tx_key = tx_key
        self.tx_salt = tx_salt
        self.rx_key = rx_key
        self.rx_salt = rx_salt
        self.peer_zid = peer_zid
        self.agreement = agreement
        self.cache_matched = cache_matched

    def srtp_contexts(self, max_packet=1500):
        """(sender context, receiver context); `max_packet` sizes their
        buffers (a call's media needs far less than the default)."""
        return self.tx_context(max_packet), self.rx_context(max_packet)

    def tx_context(self, max_packet=1500):
        from hushphone.srtp import SrtpContext

        return SrtpContext(self.srtp_suite, self.tx_key, self.tx_salt, max_packet=max_packet)

    def rx_context(self, max_packet=1500):
        from hushphone.srtp import SrtpContext

        return SrtpContext(self.srtp_suite, self.rx_key, self.rx_salt, max_packet=max_packet)

    def __repr__(self):
        return "<ZrtpSecure sas=%s %s verified=%s>" % (self.sas, self.srtp_suite, self.verified)


class ZrtpCacheMismatch:
    """We had a retained secret for this peer and it did not match: keys
    changed. The display warns "Keys changed: verify the SAS"; the cache is
    only updated once the user confirms the SAS (RFC 6189 §4.6.1.1)."""

    message = "Keys changed: verify the SAS"

    def __init__(self, peer_zid):
        self.peer_zid = peer_zid


class ZrtpHelloHashMismatch:
    """The peer's Hello does not hash to the a=zrtp-hash of its SDP: a man
    in the middle may be rewriting the media path (RFC 6189 §8.1)."""

    def __init__(self, expected, received):
        self.expected = expected
        self.received = received


class ZrtpFailed:
    """No secure call: `code` is a ZRTP error code, `reason` a line for the
    log/display, `by_peer` whether the peer's Error message reported it."""

    def __init__(self, code, reason, by_peer=False):
        self.code = code
        self.reason = reason
        self.by_peer = by_peer

    def __repr__(self):
        return "<ZrtpFailed 0x%x %s>" % (self.code, self.reason)
