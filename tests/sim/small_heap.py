"""A simulated handset whose running phone has exactly the heap a
`-X heapsize=128K` MicroPython has, with its code out of the way.

A handset runs its firmware frozen in flash: the code takes no heap. The
unix port cannot freeze modules without being rebuilt, and its heap holds
the ~390 KiB of precompiled code (a bare `-X heapsize=128K` fails while
importing the app). So the small handset's program (`entry(...)`):

1. imports every module the app will ever import (CODE_MODULES) with the
   collector off, so the code and the garbage of importing it lie in one
   run at the bottom of the heap;
2. collects, then fills every hole that left in that run with one-block
   ballast objects (a hole there would be free heap a handset does not
   have), and trims what is free above it to `phone_heap` bytes;
3. starts the app, and at its end prints the modules imported after the
   start (there must be none: they would be code counted as the phone's).

`-X heapsize` is the code's span (measured by the same program in a large
heap, `code_span`) plus the phone's heap plus slack that step 2 fills."""
import subprocess

from hushctl.sim import micropython_exe

# Every module the app imports in its life, a call included (ZRTP and the
# OTA partition are imported when first needed; asyncio's parts when the
# event loop first uses them).
CODE_MODULES = (
    "hushphone.hal.unix.display", "hushphone.app.phone", "hushphone.hal.unix.board",
    "hushphone.hal.unix.partition", "hushphone.ota.otadata",
    "hushphone.zrtp.engine", "hushphone.app.zrtpmedia", "hushphone.zrtp.cache", "hushphone.zrtp.keypool",
    "asyncio.event", "asyncio.funcs", "asyncio.stream",
)
_SLOTS = 8192  # ballast objects: one per 32-byte block in the code's holes (~3,400 today)
SLACK_KIB = 32

_PRELUDE = """
import gc
gc.disable()
_slots = [None] * %(slots)d
import sys
%(imports)s
_top = bytearray(1)
print("CODE SPAN", gc.mem_alloc())
gc.collect()
_n = 0
_limit = id(_top)
while _n < %(slots)d:
    _o = _n + 0.5  # a one-block object made at run time (a boxed float)
    if id(_o) > _limit:
        break
    _slots[_n] = _o
    _n += 1
if _n == %(slots)d:
    raise SystemExit("small heap: more holes in the code than ballast slots")
_o = None
gc.collect()
_extra = gc.mem_free() - %(phone_heap)8d
if %(phone_heap)8d and _extra > 64:  # 0: only measuring the code's span
    _slots[_n] = bytearray(_extra - 64)
gc.collect()
gc.enable()
print("HEAP FOR THE PHONE", gc.mem_free())
"""

_APP = """
code = set(sys.modules)
import hushphone.app.phone as app
app.main(["phone", sys.argv[-1]])
print("LATE IMPORTS:", sorted(set(sys.modules) - code))
"""


def _prelude(phone_heap):
    imports = "\n".join("import %s" % m for m in CODE_MODULES)
    return _PRELUDE % {"slots": _SLOTS, "imports": imports, "phone_heap": phone_heap}


def entry(phone_heap):
    """The small handset's program (for micropython -c), `phone_heap`
    bytes free for the running phone."""
    return _prelude(phone_heap) + _APP


def _run(heapsize, program, mpy_dir=None):
    env = {"MICROPYPATH": "%s:.frozen" % mpy_dir} if mpy_dir else {"MICROPYPATH": ".frozen"}
    out = subprocess.run([micropython_exe(), "-X", "heapsize=%s" % heapsize, "-c", program], capture_output=True,
                         text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def bare_heap_free(heapsize):
    """Bytes free in a bare MicroPython started with -X heapsize=`heapsize`
    (e.g. "128K"): what the phone gets when its code is elsewhere."""
    out = _run(heapsize, "import gc\ngc.collect()\nprint('FREE', gc.mem_free())")
    return int(out.split("FREE")[1].split()[0])


def code_span(mpy_dir):
    """Bytes of heap the code takes laid out by the prelude (live code and
    the holes its import left, which the prelude fills)."""
    out = _run("8M", _prelude(0), mpy_dir)
    return int(out.split("CODE SPAN")[1].split()[0])


def heapsize_kib(span, phone_heap):
    """The -X heapsize (KiB) for a handset with `phone_heap` bytes free."""
    return (span + phone_heap) // 1024 + SLACK_KIB


def phone_heap_of(output):
    """The free heap the prelude left for the phone, from the handset's output."""
    return int(output.split("HEAP FOR THE PHONE")[1].split()[0])


_FOOTPRINT = """
import gc
gc.collect()
before = gc.mem_alloc()
%s
gc.collect()
print("FOOTPRINT", gc.mem_alloc() - before)
"""


def import_footprint(mpy_dir):
    """Heap bytes the app's code holds once imported (live objects only,
    in a large heap): the figure a frozen firmware saves a handset."""
    out = _run("8M", _FOOTPRINT % "\n".join("import %s" % m for m in CODE_MODULES), mpy_dir)
    return int(out.split("FOOTPRINT")[1].split()[0])
