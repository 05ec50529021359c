"""How much heap the firmware needs when it is loaded from its filesystem
image (the stock-MicroPython path: imported code lives in the heap), found
on the MicroPython unix port: the smallest heap, in 25 KiB steps, with which
a handset booted through the loader registers with Kamailio.

    .venv/bin/python tools/stock_heap.py

The unix port is 64-bit: its objects are larger than on a 32-bit ESP32, so
this overstates the ESP32's need (bytecode itself is the same size)."""
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "host_tools"), str(REPO / "firmware" / "lib")]

from hushctl import boards, fsimage  # noqa: E402
from hushctl.sim import SimError  # noqa: E402
from tests.sim.phone_lab import PhoneLab  # noqa: E402


def registers(parts, layout, heap_kib, tmp):
    d = Path(tmp) / ("heap%d" % heap_kib)
    d.mkdir()
    lab = PhoneLab(d)
    try:
        flash = fsimage.write_sim_flash(parts, layout, d / "flash")
        h = lab.handset("alice", register=False, boot={"flash": flash, "heapsize": "%dK" % heap_kib})
        h.wait_event("registered", 30)
        return True
    except SimError:
        return False
    finally:
        lab.close()


def main():
    board = boards.get_board("sim")
    release = subprocess.run([str(Path(sys.executable).parent / "micropython"), "-c",
                              "import sys; print('%d.%d' % sys.implementation.version[:2])"],
                             capture_output=True, text=True, env={"MICROPYPATH": ""}).stdout.strip()
    built = fsimage.build(board, release)
    bytecode = sum(len(d) for p, d in built.files.items() if p.endswith(".mpy"))
    with tempfile.TemporaryDirectory() as tmp:
        low, high = 100, 1000  # KiB: fails, registers
        assert not registers(built.partitions(), built.layout, low, tmp) and registers(built.partitions(),
                                                                                          built.layout, high, tmp)
        while high - low > 25:
            mid = (low + high) // 2
            if registers(built.partitions(), built.layout, mid, tmp):
                high = mid
            else:
                low = mid
    print("firmware bytecode (x64 .mpy): %d KiB in %d files" % (bytecode // 1024, len(built.files)))
    print("heap needed to boot from the image and register (unix port, 64-bit): %d-%d KiB" % (low, high))
    print("for comparison: an ESP32 without PSRAM has 107 KiB free after boot (FIELD-NOTES)")


if __name__ == "__main__":
    main()
