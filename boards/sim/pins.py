# The simulated handset (MicroPython unix port): no pins. hal/unix/board.py
# builds its HAL from a config of files (WAV audio, key scripts, NVS as
# JSON); the entry is the same main.py as on a handset.
BOARD = "sim"
CHIP = "sim"
PINS = {}
