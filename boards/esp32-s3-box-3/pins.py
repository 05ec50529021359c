# Espressif ESP32-S3-BOX-3 (ESP32-S3-WROOM-1-N16R16V: 16 MB flash, 16 MB
# octal PSRAM, so GPIO26-37 belong to flash and PSRAM). Pins from esp-bsp's
# esp-box-3 board support: ES8311 DAC (0x18) and ES7210 microphone ADC
# (0x40) on one I2S bus and one I2C bus, speaker amplifier on GPIO46,
# ILI9342C 320x240 SPI LCD, mute button on GPIO1, boot button on GPIO0.
# The dial pad is an add-on on the BOX-3 dock's PMOD header.
# Frozen into the firmware as the module `pins`; plain data only.
BOARD = "esp32-s3-box-3"
CHIP = "esp32s3"
PINS = {
    "i2s": {"bck": 17, "ws": 45, "dout": 15, "din": 16, "mclk": 2, "rate": 16000},  # ES7210: no 8 kHz at 256 fs
    "i2c": {"id": 0, "sda": 8, "scl": 18, "freq": 100000},
    "codec": {"type": "es8311+es7210", "address": 0x18, "adc_address": 0x40},
    "pa_enable": 46,
    "matrix": {"rows": [9, 10, 11, 12], "cols": [13, 14, 21], "keys": ["123", "456", "789", "*0#"]},
    "buttons": [
        {"pin": 0, "press": "HOOK", "active_low": True},  # BOOT (after start-up)
        {"pin": 1, "press": "MUTE", "active_low": True},  # the mute button
    ],
    "display": {
        "type": "ili9342",
        "width": 320,
        "height": 240,
        "madctl": 0x08,
        "invert": False,
        "spi": {"id": 2, "sck": 7, "mosi": 6, "cs": 5, "dc": 4, "rst": 48, "backlight": 47, "baudrate": 40000000},
    },
}
