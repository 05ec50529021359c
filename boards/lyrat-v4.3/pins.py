# Espressif ESP32-LyraT v4.3 (ESP32-WROVER-B: 4 MB flash, 8 MB PSRAM), pins
# from esp-adf's lyrat_v4_3 board_def.h / board_pins_config.c (touch pads:
# Set = TOUCH9 = GPIO32, Play = TOUCH8 = GPIO33, Vol+ = TOUCH7 = GPIO27),
# plus the handset add-ons Hushphone needs: a 4x3 dial pad and an SSD1306
# on the codec's I2C bus. The dial pad takes the SD card's pins (2, 4, 14,
# 15, so the card slot stays empty; the rows are inputs at reset, leaving
# the GPIO2/GPIO15 straps alone), GPIO19 (headphone detect), GPIO22 (green
# LED) and GPIO13 (the Vol- touch pad), which a desk phone does not need.
# Frozen into the firmware as the module `pins`; plain data only.
BOARD = "lyrat-v4.3"
CHIP = "esp32"
PINS = {
    "i2s": {"bck": 5, "ws": 25, "dout": 26, "din": 35, "mclk": 0},
    "i2c": {"id": 0, "sda": 18, "scl": 23, "freq": 100000},
    "codec": {"type": "es8388", "address": 0x10, "input": "line1"},
    "pa_enable": 21,
    "matrix": {"rows": [2, 4, 14, 15], "cols": [19, 22, 13], "keys": ["123", "456", "789", "*0#"]},
    "buttons": [
        {"pin": 36, "press": "MUTE", "active_low": True},  # Rec
        {"pin": 39, "press": "BACK", "active_low": True},  # Mode
    ],
    "touch": [
        {"pin": 33, "press": "HOOK"},  # Play: lift / hang up
        {"pin": 32, "press": "OK"},  # Set
        {"pin": 27, "press": "UP"},  # Vol+
    ],
    "display": {"type": "ssd1306", "address": 0x3C, "width": 128, "height": 64},
}
