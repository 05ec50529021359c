"""SIP parsing on the MicroPython unix port within a handset's heap.
(The mutation fuzzing on this runtime runs as core modules:
tests/core/test_sip_fuzz_*.py through tests/test_core_on_micropython.py.)"""
# ---- heap footprint ---------------------------------------------------------

HEAP_WORK = """
import gc
from hushphone.sip.message import MAX_MESSAGE_SIZE, StreamParser, parse_message
gc.collect()
print("IMPORTED", gc.mem_alloc())
if SIZE:
    with open("invite.bin", "rb") as f:
        msg = f.read()
    if SIZE == "max":
        # Pad to MAX_MESSAGE_SIZE with header fields at the line limit.
        end = msg.find(b"\\r\\n\\r\\n") + 2
        pad = MAX_MESSAGE_SIZE - len(msg)
        fields = []
        while pad > 0:
            n = min(pad, 1900)
            fields.append(b"X-Pad: " + b"p" * (n - 9) + b"\\r\\n")
            pad -= n
        msg = msg[:end] + b"".join(fields) + msg[end:]
        fields = None
    size = len(msg)
    body = parse_message(msg).body
    gc.collect()
    for _ in range(3):
        # One message at a time, as the phone handles them.
        wire = parse_message(msg).to_bytes()
        parser = StreamParser()
        parser.feed(wire)
        wire = None
        assert parser.next_event().body == body
        parser = None
        gc.collect()
    print("WORKED", size)
"""


def _heap_run(tmp_path, size, extra):
    """Run HEAP_WORK on precompiled modules (bytecode .mpy, as frozen on
    the device) with a heap of: what the imports take + extra octets."""
    import subprocess

    from tests.support.runtimes import FIRMWARE_LIB, micropython_exe

    lib = tmp_path / "lib"
    if not lib.exists():
        mpy_cross = str(micropython_exe()).replace("micropython", "mpy-cross")
        sources = list((FIRMWARE_LIB / "hushphone" / "sip").glob("*.py"))
        sources += [FIRMWARE_LIB / "hushphone" / n for n in ("__init__.py", "compat.py")]
        for src in sources:
            dest = lib / src.relative_to(FIRMWARE_LIB).with_suffix(".mpy")
            dest.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([mpy_cross, "-o", str(dest), str(src)], check=True, capture_output=True)
        import test_sip_message_fuzz as fuzz

        (tmp_path / "invite.bin").write_bytes(fuzz.generated_seeds()[0])

    def run(size_arg, heap):
        # Relative paths and a fixed cwd keep the heap layout independent of
        # where pytest puts tmp_path.
        return subprocess.run([micropython_exe(), "-X", "heapsize=%d" % heap, "-c", "SIZE = %r\n%s" % (size_arg, HEAP_WORK)],
                              env={"MICROPYPATH": "lib"}, cwd=str(tmp_path), capture_output=True, text=True, timeout=120)

    first = run(None, 1024 * 1024)
    assert first.returncode == 0, first.stdout + first.stderr
    imported = int(first.stdout.split("IMPORTED")[1].split()[0])
    return imported, run(size, imported + extra)


def test_typical_invite_fits_a_small_heap(tmp_path):
    """Parse, serialise and stream-frame a 1.2 KB INVITE with an SDES+ZRTP
    offer in 40 KiB of heap beyond the imported modules (measured need on
    the 64-bit unix port: 21-24 KiB; an ESP32's 32-bit objects need less)."""
    imported, result = _heap_run(tmp_path, "typical", 40 * 1024)
    assert result.returncode == 0 and "WORKED" in result.stdout, (imported, result.stdout + result.stderr)


def test_max_size_message_fits_the_heap_budget(tmp_path):
    """The same for a MAX_MESSAGE_SIZE (8 KiB) message within 120 KiB beyond
    the imports (measured 65-80 KiB on the 64-bit unix port: several 8 KiB
    blocks must be contiguous in a fragmented heap). This bounds what a
    hostile peer can make the handset hold, and catches quadratic copies."""
    imported, result = _heap_run(tmp_path, "max", 120 * 1024)
    assert result.returncode == 0 and "WORKED 8192" in result.stdout, (imported, result.stdout + result.stderr)
