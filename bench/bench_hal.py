"""The HAL's per-frame work: the I2S frame conversions of hal/esp32/audio.py
(16->32-bit widening at 8 kHz, the 16 kHz bus's 2:1 decimation and 1:2
interpolation), a 4x3 key-matrix scan with debounce, and reading a frame
from a WAV file (hal/unix). The viper versions run on the MicroPython unix
port beside plain-Python loops doing the same work (the reference, timed in
the same run); CPython runs the plain twins. Microseconds per frame/poll.

Run: .venv/bin/python bench/bench_hal.py   (or `make bench`)"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.runtimes import run_micropython  # noqa: E402

SCRIPT = """
import sys, time, os
from hushphone.compat import ticks_diff as diff, ticks_us as ticks
from hushphone.hal.esp32 import audio
from hushphone.hal.esp32.keypad import MatrixKeypad
from hushphone.audio.tone import ToneGenerator
from hushphone.hal.unix.wav import WavWriter
from hushphone.hal.unix.audio import WavSource

def best(fn, loops):
    out = None
    for _ in range(5):
        t0 = ticks()
        for _ in range(loops):
            fn()
        us = diff(ticks(), t0) / loops
        out = us if out is None or us < out else out
    return out

pcm8 = ToneGenerator(1000).frame()
pcm16 = ToneGenerator(1000, rate=16000, frame_samples=320).frame()
wide = bytearray(640)
wide2 = bytearray(1280)
half = bytearray(320)

def plain_widen():
    for i in range(160):
        wide[4 * i] = 0
        wide[4 * i + 1] = 0
        wide[4 * i + 2] = pcm8[2 * i]
        wide[4 * i + 3] = pcm8[2 * i + 1]

def plain_decimate():
    prev = 0
    for i in range(160):
        a = pcm16[4 * i] | (pcm16[4 * i + 1] << 8)
        if a >= 32768:
            a -= 65536
        b = pcm16[4 * i + 2] | (pcm16[4 * i + 3] << 8)
        if b >= 32768:
            b -= 65536
        y = (prev + 2 * a + b) >> 2
        half[2 * i] = y & 0xFF
        half[2 * i + 1] = (y >> 8) & 0xFF
        prev = b

class Pin:
    def init(self, *a, **k):
        pass
    def value(self, v=None):
        return 1

keys = MatrixKeypad([Pin() for _ in range(4)], [Pin() for _ in range(3)],
                    [["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"], ["*", "0", "#"]],
                    mode_in=1, mode_out=3, pull_up=2)
now = [0]
def scan():
    now[0] += 1
    keys.poll(now[0])

import binascii
path = "/tmp/bench_hal_%s.wav" % binascii.hexlify(os.urandom(4)).decode()
w = WavWriter(path)
for _ in range(50):
    w.write(pcm8)
w.close()
src = WavSource(path, loop=True)
frame = bytearray(320)

rows = [
    ("widen 16->32 (8 kHz frame)", best(lambda: audio.widen_16_to_32(wide, pcm8, 160), 2000)),
    ("decimate 16k->8k frame", best(lambda: audio.decimate_2(half, pcm16, 160, 0), 2000)),
    ("upsample+widen 8k->16k frame", best(lambda: audio.upsample_widen(wide2, pcm8, 160, 0), 2000)),
    ("plain-Python widen loop", best(plain_widen, 200)),
    ("plain-Python decimate loop", best(plain_decimate, 200)),
    ("key matrix 4x3 scan+debounce", best(scan, 2000)),
    ("WAV source: one frame", best(lambda: src.fill(frame), 2000)),
]
src.close()
os.remove(path)
for name, us in rows:
    print("%s|%.2f" % (name, us))
"""


def run_cpython():
    import subprocess

    from tests.support.runtimes import FIRMWARE_LIB, REPO

    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300,
                            env={"PYTHONPATH": str(FIRMWARE_LIB), "PATH": "/usr/bin:/bin"}, cwd=str(REPO))
    if result.returncode:
        raise SystemExit("CPython run failed:\n" + result.stderr)
    return dict(line.split("|") for line in result.stdout.splitlines() if "|" in line)


def run_mpy():
    result = run_micropython(["-c", SCRIPT], timeout=300)
    if result.returncode:
        raise SystemExit("MicroPython run failed:\n" + result.stdout + result.stderr)
    return dict(line.split("|") for line in result.stdout.splitlines() if "|" in line)


def main():
    mpy = run_mpy()
    cpy = run_cpython()
    print("%-32s %16s %14s" % ("per frame / poll (us)", "MicroPython unix", "CPython"))
    for name in mpy:
        print("%-32s %16s %14s" % (name, mpy[name], cpy[name]))
    ratio = float(mpy["plain-Python widen loop"]) / float(mpy["widen 16->32 (8 kHz frame)"])
    ratio_d = float(mpy["plain-Python decimate loop"]) / float(mpy["decimate 16k->8k frame"])
    print("viper vs plain Python on the unix port: widen x%.0f, decimate x%.0f" % (ratio, ratio_d))
    print("(one frame is 20 000 us; an ESP32 at 240 MHz is roughly 10-30x slower than this x86 unix port)")


if __name__ == "__main__":
    main()
