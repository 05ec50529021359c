# AI-Thinker ESP32-A1S Audio Kit v2.2 (ESP32-A1S module: 4 MB flash, 8 MB
# PSRAM). This revision has the ES8388 codec (the early "v2.1 A247" boards
# carried an AC101 instead: check the chip marked next to the module; they
# are not supported). Pins from the kit's schematic and the ES8388 board
# files for esp-adf (ai_thinker_audio_kit_v2_2, "variant 5": BCK on GPIO27;
# "variant 7" modules with BCK on GPIO5 need their own pin map). The six keys are the
# phone's hook and navigation keys. There is no dial pad: the kit has too
# few free pins with pull-ups for a matrix (GPIO12 selects the flash
# voltage at reset, 34-39 have no pull-ups), so numbers are picked from
# contacts and the call log. DIP switch: 2 and 3 on, so KEY2 is GPIO13.
# Frozen into the firmware as the module `pins`; plain data only.
BOARD = "audiokit-a1s"
CHIP = "esp32"
PINS = {
    "i2s": {"bck": 27, "ws": 25, "dout": 26, "din": 35, "mclk": 0},
    "i2c": {"id": 0, "sda": 33, "scl": 32, "freq": 100000},
    "codec": {"type": "es8388", "address": 0x10, "input": "line1"},
    "pa_enable": 21,
    "buttons": [
        {"pin": 36, "press": "HOOK", "active_low": True},  # KEY1
        {"pin": 13, "press": "BACK", "active_low": True},  # KEY2
        {"pin": 19, "press": "OK", "active_low": True},  # KEY3
        {"pin": 23, "press": "UP", "active_low": True},  # KEY4
        {"pin": 18, "press": "DOWN", "active_low": True},  # KEY5
        {"pin": 5, "press": "MUTE", "active_low": True},  # KEY6
    ],
    "display": {"type": "ssd1306", "address": 0x3C, "width": 128, "height": 64},
}
