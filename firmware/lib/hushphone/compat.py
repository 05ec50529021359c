# The one place that looks at which Python runs this code.
# Everything else imports IS_MICROPYTHON, const and friends from here.
import sys

IS_MICROPYTHON = sys.implementation.name == "micropython"

if IS_MICROPYTHON:
    from micropython import const  # noqa: F401  (the compiler folds const())
else:

    def const(value):
        return value


def ticks_us():
    """A monotonic microsecond counter (for benchmarks and statistics only:
    protocol cores never read the clock themselves)."""
    import time

    if IS_MICROPYTHON:
        return time.ticks_us()
    return time.perf_counter_ns() // 1000


async def sleep_ms(ms):
    """asyncio's sleep in milliseconds on either runtime."""
    import asyncio

    if IS_MICROPYTHON:
        await asyncio.sleep_ms(ms)
    else:
        await asyncio.sleep(ms / 1000)


def ticks_diff(end, start):
    import time

    if IS_MICROPYTHON:
        return time.ticks_diff(end, start)
    return end - start
