# AES counter mode for one packet at a time (RFC 3711 §4.1.1), without
# per-packet allocation: the counter blocks are written into a buffer made
# once, and all of a packet's blocks go through ONE AES-ECB call into a
# preallocated keystream buffer.
from hushphone.crypto.aes import AesEcb
from hushphone.srtp.fastpath import fill_counters, set_iv, xor_in_place


class KeystreamBuffers:
    """Counter blocks and keystream for packets of up to max_bytes. The
    SRTP and SRTCP ciphers of a context share one (a packet is processed
    start to finish before the next)."""

    def __init__(self, max_bytes):
        nblocks = (max_bytes + 15) >> 4
        ctr = bytearray(nblocks << 4)
        self.ctr = ctr
        self.keystream = bytearray(nblocks << 4)
        self.iv = bytearray(16)  # salt ^ SSRC ^ index of the packet at hand
        # views[n] = the first n counter blocks, made on first use per size
        self._ctr_view = memoryview(ctr)
        self.views = [None] * (nblocks + 1)

    def counter_view(self, nblocks):
        view = self.views[nblocks] = self._ctr_view[: nblocks << 4]
        return view


class PacketCipher:
    def __init__(self, session_key, session_salt, buffers):
        self._encrypt_into = AesEcb(session_key).encrypt_into
        self._salt = bytes(session_salt)
        self._buffers = buffers
        self._ctr = buffers.ctr
        self._ks = buffers.keystream
        self._iv = buffers.iv
        self._views = buffers.views

    def crypt(self, buf, at, n, ssrc_at, i_hi, i_lo):
        """buf[at:at+n] ^= the keystream for the SSRC found at
        buf[ssrc_at:ssrc_at+4] and the packet index whose upper and lower
        24 bits are i_hi and i_lo (in place: the header stays in the clear)."""
        if n <= 0:
            return
        iv = self._iv
        iv[8] = i_hi >> 16
        iv[9] = (i_hi >> 8) & 0xFF
        iv[10] = i_hi & 0xFF
        iv[11] = i_lo >> 16
        iv[12] = (i_lo >> 8) & 0xFF
        iv[13] = i_lo & 0xFF
        set_iv(iv, self._salt, buf, ssrc_at)
        nblocks = (n + 15) >> 4
        fill_counters(self._ctr, iv, nblocks)
        ks = self._ks
        view = self._views[nblocks]
        if view is None:
            view = self._buffers.counter_view(nblocks)
        self._encrypt_into(view, ks)
        xor_in_place(buf, at, ks, n)
