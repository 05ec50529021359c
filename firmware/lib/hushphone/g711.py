# G.711 (ITU-T) mu-law and A-law for 16-bit little-endian signed mono PCM,
# bit-exact with the standard tables (the reference tests compare all 65,536
# inputs and all 256 codes with CPython's audioop).
#
# Encoding follows the standard algorithm: mu-law quantises the top 14 bits
# (sample >> 2), A-law the top 13 bits (sample >> 3); the segment (exponent)
# comes from a 256-byte lookup table instead of a search. The common
# "biased 16-bit" mu-law formula is NOT used: it differs from the standard
# tables on 381 inputs (negative samples are truncated towards -inf first).
# Decoding is one lookup per code in a table of 16-bit samples, copied at
# import into a bytearray (heap data is word aligned: viper reads it as
# 16-bit words; a bytes literal may sit unaligned in flash).
#
# The media engine calls the *_into variants every 20 ms: they write into the
# caller's buffer and allocate nothing. On MicroPython they are viper loops;
# the plain-Python twins run on CPython (and are cross-checked on both).
# Encoding uses byte access only; decoding writes 32-bit words where the
# output is word aligned (little-endian targets: x86, ARM, Xtensa) and
# bytes elsewhere.
from hushphone.compat import IS_MICROPYTHON

if IS_MICROPYTHON:
    import micropython


class G711Error(ValueError):
    """Misuse of the codec: odd PCM length, output buffer too small or not
    writable, or an argument that is not a byte buffer."""


# Segment number by the top 8 bits of the magnitude (mu-law: the biased
# 13-bit magnitude >> 5; A-law: the 12-bit magnitude >> 4): 0 for indexes
# 0-1, then bit_length(index) - 1, up to 7.
_SEGMENT = (
    b"\x00\x00\x01\x01"
    + b"\x02" * 4
    + b"\x03" * 8
    + b"\x04" * 16
    + b"\x05" * 32
    + b"\x06" * 64
    + b"\x07" * 128
)

# Decoded sample for each code, 16-bit little-endian (the G.711 tables).
_ULAW_TO_PCM = (
    b"\x84\x82\x84\x86\x84\x8a\x84\x8e\x84\x92\x84\x96\x84\x9a\x84\x9e"
    b"\x84\xa2\x84\xa6\x84\xaa\x84\xae\x84\xb2\x84\xb6\x84\xba\x84\xbe"
    b"\x84\xc1\x84\xc3\x84\xc5\x84\xc7\x84\xc9\x84\xcb\x84\xcd\x84\xcf"
    b"\x84\xd1\x84\xd3\x84\xd5\x84\xd7\x84\xd9\x84\xdb\x84\xdd\x84\xdf"
    b"\x04\xe1\x04\xe2\x04\xe3\x04\xe4\x04\xe5\x04\xe6\x04\xe7\x04\xe8"
    b"\x04\xe9\x04\xea\x04\xeb\x04\xec\x04\xed\x04\xee\x04\xef\x04\xf0"
    b"\xc4\xf0\x44\xf1\xc4\xf1\x44\xf2\xc4\xf2\x44\xf3\xc4\xf3\x44\xf4"
    b"\xc4\xf4\x44\xf5\xc4\xf5\x44\xf6\xc4\xf6\x44\xf7\xc4\xf7\x44\xf8"
    b"\xa4\xf8\xe4\xf8\x24\xf9\x64\xf9\xa4\xf9\xe4\xf9\x24\xfa\x64\xfa"
    b"\xa4\xfa\xe4\xfa\x24\xfb\x64\xfb\xa4\xfb\xe4\xfb\x24\xfc\x64\xfc"
    b"\x94\xfc\xb4\xfc\xd4\xfc\xf4\xfc\x14\xfd\x34\xfd\x54\xfd\x74\xfd"
    b"\x94\xfd\xb4\xfd\xd4\xfd\xf4\xfd\x14\xfe\x34\xfe\x54\xfe\x74\xfe"
    b"\x8c\xfe\x9c\xfe\xac\xfe\xbc\xfe\xcc\xfe\xdc\xfe\xec\xfe\xfc\xfe"
    b"\x0c\xff\x1c\xff\x2c\xff\x3c\xff\x4c\xff\x5c\xff\x6c\xff\x7c\xff"
    b"\x88\xff\x90\xff\x98\xff\xa0\xff\xa8\xff\xb0\xff\xb8\xff\xc0\xff"
    b"\xc8\xff\xd0\xff\xd8\xff\xe0\xff\xe8\xff\xf0\xff\xf8\xff\x00\x00"
    b"\x7c\x7d\x7c\x79\x7c\x75\x7c\x71\x7c\x6d\x7c\x69\x7c\x65\x7c\x61"
    b"\x7c\x5d\x7c\x59\x7c\x55\x7c\x51\x7c\x4d\x7c\x49\x7c\x45\x7c\x41"
    b"\x7c\x3e\x7c\x3c\x7c\x3a\x7c\x38\x7c\x36\x7c\x34\x7c\x32\x7c\x30"
    b"\x7c\x2e\x7c\x2c\x7c\x2a\x7c\x28\x7c\x26\x7c\x24\x7c\x22\x7c\x20"
    b"\xfc\x1e\xfc\x1d\xfc\x1c\xfc\x1b\xfc\x1a\xfc\x19\xfc\x18\xfc\x17"
    b"\xfc\x16\xfc\x15\xfc\x14\xfc\x13\xfc\x12\xfc\x11\xfc\x10\xfc\x0f"
    b"\x3c\x0f\xbc\x0e\x3c\x0e\xbc\x0d\x3c\x0d\xbc\x0c\x3c\x0c\xbc\x0b"
    b"\x3c\x0b\xbc\x0a\x3c\x0a\xbc\x09\x3c\x09\xbc\x08\x3c\x08\xbc\x07"
    b"\x5c\x07\x1c\x07\xdc\x06\x9c\x06\x5c\x06\x1c\x06\xdc\x05\x9c\x05"
    b"\x5c\x05\x1c\x05\xdc\x04\x9c\x04\x5c\x04\x1c\x04\xdc\x03\x9c\x03"
    b"\x6c\x03\x4c\x03\x2c\x03\x0c\x03\xec\x02\xcc\x02\xac\x02\x8c\x02"
    b"\x6c\x02\x4c\x02\x2c\x02\x0c\x02\xec\x01\xcc\x01\xac\x01\x8c\x01"
    b"\x74\x01\x64\x01\x54\x01\x44\x01\x34\x01\x24\x01\x14\x01\x04\x01"
    b"\xf4\x00\xe4\x00\xd4\x00\xc4\x00\xb4\x00\xa4\x00\x94\x00\x84\x00"
    b"\x78\x00\x70\x00\x68\x00\x60\x00\x58\x00\x50\x00\x48\x00\x40\x00"
    b"\x38\x00\x30\x00\x28\x00\x20\x00\x18\x00\x10\x00\x08\x00\x00\x00"
)
_ALAW_TO_PCM = (
    b"\x80\xea\x80\xeb\x80\xe8\x80\xe9\x80\xee\x80\xef\x80\xec\x80\xed"
    b"\x80\xe2\x80\xe3\x80\xe0\x80\xe1\x80\xe6\x80\xe7\x80\xe4\x80\xe5"
    b"\x40\xf5\xc0\xf5\x40\xf4\xc0\xf4\x40\xf7\xc0\xf7\x40\xf6\xc0\xf6"
    b"\x40\xf1\xc0\xf1\x40\xf0\xc0\xf0\x40\xf3\xc0\xf3\x40\xf2\xc0\xf2"
    b"\x00\xaa\x00\xae\x00\xa2\x00\xa6\x00\xba\x00\xbe\x00\xb2\x00\xb6"
    b"\x00\x8a\x00\x8e\x00\x82\x00\x86\x00\x9a\x00\x9e\x00\x92\x00\x96"
    b"\x00\xd5\x00\xd7\x00\xd1\x00\xd3\x00\xdd\x00\xdf\x00\xd9\x00\xdb"
    b"\x00\xc5\x00\xc7\x00\xc1\x00\xc3\x00\xcd\x00\xcf\x00\xc9\x00\xcb"
    b"\xa8\xfe\xb8\xfe\x88\xfe\x98\xfe\xe8\xfe\xf8\xfe\xc8\xfe\xd8\xfe"
    b"\x28\xfe\x38\xfe\x08\xfe\x18\xfe\x68\xfe\x78\xfe\x48\xfe\x58\xfe"
    b"\xa8\xff\xb8\xff\x88\xff\x98\xff\xe8\xff\xf8\xff\xc8\xff\xd8\xff"
    b"\x28\xff\x38\xff\x08\xff\x18\xff\x68\xff\x78\xff\x48\xff\x58\xff"
    b"\xa0\xfa\xe0\xfa\x20\xfa\x60\xfa\xa0\xfb\xe0\xfb\x20\xfb\x60\xfb"
    b"\xa0\xf8\xe0\xf8\x20\xf8\x60\xf8\xa0\xf9\xe0\xf9\x20\xf9\x60\xf9"
    b"\x50\xfd\x70\xfd\x10\xfd\x30\xfd\xd0\xfd\xf0\xfd\x90\xfd\xb0\xfd"
    b"\x50\xfc\x70\xfc\x10\xfc\x30\xfc\xd0\xfc\xf0\xfc\x90\xfc\xb0\xfc"
    b"\x80\x15\x80\x14\x80\x17\x80\x16\x80\x11\x80\x10\x80\x13\x80\x12"
    b"\x80\x1d\x80\x1c\x80\x1f\x80\x1e\x80\x19\x80\x18\x80\x1b\x80\x1a"
    b"\xc0\x0a\x40\x0a\xc0\x0b\x40\x0b\xc0\x08\x40\x08\xc0\x09\x40\x09"
    b"\xc0\x0e\x40\x0e\xc0\x0f\x40\x0f\xc0\x0c\x40\x0c\xc0\x0d\x40\x0d"
    b"\x00\x56\x00\x52\x00\x5e\x00\x5a\x00\x46\x00\x42\x00\x4e\x00\x4a"
    b"\x00\x76\x00\x72\x00\x7e\x00\x7a\x00\x66\x00\x62\x00\x6e\x00\x6a"
    b"\x00\x2b\x00\x29\x00\x2f\x00\x2d\x00\x23\x00\x21\x00\x27\x00\x25"
    b"\x00\x3b\x00\x39\x00\x3f\x00\x3d\x00\x33\x00\x31\x00\x37\x00\x35"
    b"\x58\x01\x48\x01\x78\x01\x68\x01\x18\x01\x08\x01\x38\x01\x28\x01"
    b"\xd8\x01\xc8\x01\xf8\x01\xe8\x01\x98\x01\x88\x01\xb8\x01\xa8\x01"
    b"\x58\x00\x48\x00\x78\x00\x68\x00\x18\x00\x08\x00\x38\x00\x28\x00"
    b"\xd8\x00\xc8\x00\xf8\x00\xe8\x00\x98\x00\x88\x00\xb8\x00\xa8\x00"
    b"\x60\x05\x20\x05\xe0\x05\xa0\x05\x60\x04\x20\x04\xe0\x04\xa0\x04"
    b"\x60\x07\x20\x07\xe0\x07\xa0\x07\x60\x06\x20\x06\xe0\x06\xa0\x06"
    b"\xb0\x02\x90\x02\xf0\x02\xd0\x02\x30\x02\x10\x02\x70\x02\x50\x02"
    b"\xb0\x03\x90\x03\xf0\x03\xd0\x03\x30\x03\x10\x03\x70\x03\x50\x03"
)

# Argument checks use exact types (no subclasses): they run on every 20 ms
# frame and type() identity is the cheapest test on MicroPython.


def _length(buf):
    kind = type(buf)
    if kind is not bytearray and kind is not memoryview and kind is not bytes:
        raise G711Error("input must be bytes, bytearray or memoryview, not %s" % kind.__name__)
    return len(buf)


def _frame(src, out, in_width, out_width):
    """Checks the arguments of a *_into call; returns the sample count."""
    n = _length(src)
    if n % in_width:
        raise G711Error("16-bit PCM must have an even number of bytes, got %d" % n)
    n //= in_width
    kind = type(out)
    if kind is not bytearray:
        if kind is not memoryview:
            raise G711Error("output must be a bytearray or memoryview, not %s" % kind.__name__)
        if len(out) and not _writable(out):
            raise G711Error("output memoryview is read-only")
    if len(out) < n * out_width:
        raise G711Error("output buffer too small: %d bytes, need %d" % (len(out), n * out_width))
    return n


def _writable(view):
    # Viper would write through a read-only view (of bytes) without a
    # complaint: probe with a one-byte write that changes nothing.
    try:
        view[0] = view[0]
    except TypeError:
        return False
    return True


# --- plain-Python twins (CPython; also run on MicroPython by the tests) ---


def _ulaw_encode_py(pcm, out, n):
    seg_of = _SEGMENT
    for i in range(n):
        x = pcm[2 * i] | (pcm[2 * i + 1] << 8)
        if x & 0x8000:
            # -(sample >> 2) with an arithmetic shift, from the raw bits
            mag = ((x ^ 0xFFFF) >> 2) + 1
            mask = 0x7F
        else:
            mag = x >> 2
            mask = 0xFF
        if mag > 8158:  # clip; the standard's 8159 gives the same code but
            mag = 8158  # would push the table index past 255
        mag += 33  # bias
        seg = seg_of[mag >> 5]
        out[i] = ((seg << 4) | ((mag >> (seg + 1)) & 0xF)) ^ mask


def _alaw_encode_py(pcm, out, n):
    seg_of = _SEGMENT
    for i in range(n):
        x = pcm[2 * i] | (pcm[2 * i + 1] << 8)
        if x & 0x8000:
            mag = (x ^ 0xFFFF) >> 3  # -(sample >> 3) - 1
            mask = 0x55
        else:
            mag = x >> 3
            mask = 0xD5
        seg = seg_of[mag >> 4]
        shift = seg if seg else 1
        out[i] = ((seg << 4) | ((mag >> shift) & 0xF)) ^ mask


def _decode_py(data, out, n, table):
    for i in range(n):
        c = data[i] << 1
        out[2 * i] = table[c]
        out[2 * i + 1] = table[c + 1]


# word-aligned copies for the viper decoder (see the top)
_ULAW16 = bytearray(_ULAW_TO_PCM)
_ALAW16 = bytearray(_ALAW_TO_PCM)


if IS_MICROPYTHON:
    # Viper twins: the same steps on machine words.

    @micropython.viper
    def _ulaw_encode_viper(pcm, out, n: int):
        src = ptr8(pcm)
        dst = ptr8(out)
        seg_of = ptr8(_SEGMENT)
        i = 0
        while i < n:
            x = src[2 * i] | (src[2 * i + 1] << 8)
            if x & 0x8000:
                mag = ((x ^ 0xFFFF) >> 2) + 1
                mask = 0x7F
            else:
                mag = x >> 2
                mask = 0xFF
            if mag > 8158:
                mag = 8158
            mag += 33
            seg = seg_of[mag >> 5]
            dst[i] = ((seg << 4) | ((mag >> (seg + 1)) & 0xF)) ^ mask
            i += 1

    @micropython.viper
    def _alaw_encode_viper(pcm, out, n: int):
        src = ptr8(pcm)
        dst = ptr8(out)
        seg_of = ptr8(_SEGMENT)
        i = 0
        while i < n:
            x = src[2 * i] | (src[2 * i + 1] << 8)
            if x & 0x8000:
                mag = (x ^ 0xFFFF) >> 3
                mask = 0x55
            else:
                mag = x >> 3
                mask = 0xD5
            seg = seg_of[mag >> 4]
            shift = seg
            if shift == 0:
                shift = 1
            dst[i] = ((seg << 4) | ((mag >> shift) & 0xF)) ^ mask
            i += 1

    @micropython.viper
    def _decode_viper(data: ptr8, out: ptr8, n: int, table):
        # table: the 16-bit samples (a word-aligned bytearray). Eight codes
        # per step, four 32-bit stores, walking pointers (viper's indexed
        # access multiplies on every use).
        tab = ptr16(table)  # noqa: F821
        i = 0
        if int(uint(out)) & 3 == 0:  # noqa: F821
            src = uint(data)  # noqa: F821
            end = src + uint(n & ~7)  # noqa: F821
            dst = ptr32(out)  # noqa: F821
            while src < end:
                p = ptr8(src)  # noqa: F821
                dst[0] = tab[p[0]] | (tab[p[1]] << 16)
                dst[1] = tab[p[2]] | (tab[p[3]] << 16)
                dst[2] = tab[p[4]] | (tab[p[5]] << 16)
                dst[3] = tab[p[6]] | (tab[p[7]] << 16)
                dst = ptr32(uint(dst) + 16)  # noqa: F821
                src += 8
            i = n & ~7
        while i < n:  # the rest, or an unaligned output: bytes
            v = tab[data[i]]
            out[2 * i] = v & 0xFF
            out[2 * i + 1] = (v >> 8) & 0xFF
            i += 1

    _ulaw_encode_fast = _ulaw_encode_viper
    _alaw_encode_fast = _alaw_encode_viper
    _decode_fast = _decode_viper
else:
    _ulaw_encode_fast = _ulaw_encode_py
    _alaw_encode_fast = _alaw_encode_py
    _decode_fast = _decode_py


# --- public API ---


def ulaw_encode_into(pcm, out):
    """Encode 16-bit PCM into mu-law codes in `out`; returns the number of
    bytes written (one per sample). Allocates nothing."""
    n = _frame(pcm, out, 2, 1)
    _ulaw_encode_fast(pcm, out, n)
    return n


def alaw_encode_into(pcm, out):
    """Encode 16-bit PCM into A-law codes in `out`; returns the number of
    bytes written (one per sample). Allocates nothing."""
    n = _frame(pcm, out, 2, 1)
    _alaw_encode_fast(pcm, out, n)
    return n


def ulaw_decode_into(data, out):
    """Decode mu-law codes into 16-bit PCM in `out`; returns the number of
    bytes written (two per code). Allocates nothing."""
    # the usual call (bytes into a bytearray) checked inline: one call less
    kind = type(data)
    if (kind is bytearray or kind is bytes) and type(out) is bytearray and len(out) >= 2 * len(data):
        n = len(data)
    else:
        n = _frame(data, out, 1, 2)
    _decode_fast(data, out, n, _ULAW16)
    return 2 * n


def alaw_decode_into(data, out):
    """Decode A-law codes into 16-bit PCM in `out`; returns the number of
    bytes written (two per code). Allocates nothing."""
    kind = type(data)
    if (kind is bytearray or kind is bytes) and type(out) is bytearray and len(out) >= 2 * len(data):
        n = len(data)
    else:
        n = _frame(data, out, 1, 2)
    _decode_fast(data, out, n, _ALAW16)
    return 2 * n


def frame_decoder(codec):
    """The media path's decoder for "PCMU" or "PCMA": (decode, table), to
    be called as decode(data, out, n, table). It is the viper loop itself,
    with no checks per call: only for buffers made and checked once by the
    caller (app/media.py: a jitter-buffer slot of n codes into an output
    of 2n bytes). Everyone else: ulaw_decode_into / alaw_decode_into."""
    if codec == "PCMU":
        return _decode_fast, _ULAW16
    if codec == "PCMA":
        return _decode_fast, _ALAW16
    raise G711Error("unknown G.711 codec %r" % (codec,))


def ulaw_encode(pcm):
    out = bytearray(_length(pcm) >> 1)
    ulaw_encode_into(pcm, out)
    return bytes(out)


def alaw_encode(pcm):
    out = bytearray(_length(pcm) >> 1)
    alaw_encode_into(pcm, out)
    return bytes(out)


def ulaw_decode(data):
    out = bytearray(2 * _length(data))
    ulaw_decode_into(data, out)
    return bytes(out)


def alaw_decode(data):
    out = bytearray(2 * _length(data))
    alaw_decode_into(data, out)
    return bytes(out)
