# Secure random bytes: os.urandom is the OS CSPRNG on unix and the hardware
# RNG on ESP32 (MicroPython's esp32 port maps it to esp_random()).
import os


def random_bytes(n):
    return os.urandom(n)


def random_u32():
    b = os.urandom(4)
    return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]


def random_below(bound):
    """A uniform random integer in [0, bound) for 0 < bound <= 2**32."""
    if bound <= 0:
        raise ValueError("bound must be positive")
    limit = (1 << 32) - ((1 << 32) % bound)
    for _ in range(64):  # expected tries < 2; bounded all the same
        r = random_u32()
        if r < limit:
            return r % bound
    raise RuntimeError("random source is not random")
