# Byte-level PCM helpers for the per-frame path (16-bit LE signed mono).
# Viper on MicroPython so nothing is allocated per frame (a memoryview
# slice is a heap object there); plain-Python twins (NAME_py) on CPython,
# and on both runtimes in tests/core/test_viper_twins.
from hushphone.compat import IS_MICROPYTHON

def copy_into_py(dst, src, src_offset, n):
    """dst[0:n] = src[src_offset:src_offset+n] (bytes)."""
    dst[0:n] = src[src_offset : src_offset + n]


def scale_into_py(dst, src, n, gain_q8):
    """dst = src * gain_q8/256 for n bytes of 16-bit LE samples."""
    import struct

    count = n // 2
    fmt = "<%dh" % count
    samples = struct.unpack_from(fmt, src, 0)
    struct.pack_into(fmt, dst, 0, *[(x * gain_q8) >> 8 for x in samples])


def fill_zero_py(dst, n):
    dst[0:n] = bytes(n)


if IS_MICROPYTHON:
    import micropython

    @micropython.viper
    def copy_into_viper(dst, src, src_offset: int, n: int):
        """dst[0:n] = src[src_offset:src_offset+n] (bytes)."""
        d = ptr8(dst)  # noqa: F821  (viper built-in)
        s = ptr8(src)  # noqa: F821
        i = 0
        while i < n:
            d[i] = s[src_offset + i]
            i += 1

    @micropython.viper
    def scale_into_viper(dst, src, n: int, gain_q8: int):
        """dst = src * gain_q8/256 for n bytes of 16-bit LE samples."""
        d = ptr8(dst)  # noqa: F821
        s = ptr8(src)  # noqa: F821
        i = 0
        while i < n:
            v = s[i] | (s[i + 1] << 8)
            if v >= 32768:
                v -= 65536
            v = (v * gain_q8) >> 8
            d[i] = v & 0xFF
            d[i + 1] = (v >> 8) & 0xFF
            i += 2

    @micropython.viper
    def fill_zero_viper(dst, n: int):
        d = ptr8(dst)  # noqa: F821
        i = 0
        while i < n:
            d[i] = 0
            i += 1


if IS_MICROPYTHON:
    copy_into = copy_into_viper
    scale_into = scale_into_viper
    fill_zero = fill_zero_viper
else:
    copy_into = copy_into_py
    scale_into = scale_into_py
    fill_zero = fill_zero_py
