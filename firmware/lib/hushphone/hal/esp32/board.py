# A handset's HAL built from its board's pin map (boards/<name>/pins.py,
# frozen into the firmware as the module `pins`). The pin map is plain data:
#
#   "i2c":     {"id", "sda", "scl", "freq"}           shared by codec and display
#   "i2s":     {"bck", "ws", "dout", "din", "mclk", "rate"}  GPIOs (mclk may be None); bus rate 8000 or 16000
#   "codec":   {"type": "es8388", "address", "input": "line1" | "line2" | "difference"}
#              {"type": "es8311+es7210", "address", "adc_address"}  (speaker DAC + microphone ADC)
#   "pa_enable": GPIO or None                         speaker amplifier enable
#   "matrix":  {"rows": [...], "cols": [...], "keys": ["123", "456", "789", "*0#"]}
#   "buttons": [{"pin", "press", "release" (optional), "active_low"}]
#   "touch":   [{"pin", "press"}]                     ESP32 touch pads
#   "display": {"type": "ssd1306", "address"} | {"type": "st7789" | "ili9342", "spi": {...}}
from hushphone.hal.interfaces import Hal, HalError, SystemClock

STORE_SETTINGS = "hush_cfg"
STORE_SECRETS = "hush_sip"

_INPUTS = {"line1": 0x00, "line2": 0x50, "difference": 0xF0}


def _key_names(row):
    # "123" is three keys; a list names multi-letter keys ("SOFT1", ...).
    return list(row) if isinstance(row, str) else row


def make_i2c(pins):
    from machine import I2C, Pin

    bus = pins["i2c"]
    return I2C(bus.get("id", 0), scl=Pin(bus["scl"]), sda=Pin(bus["sda"]), freq=bus.get("freq", 100000))


class CodecPair:
    """A playback codec and a separate microphone ADC on one I2S bus, as
    one codec (ESP32-S3-BOX-3: ES8311 + ES7210)."""

    def __init__(self, dac, adc):
        self.dac = dac
        self.adc = adc

    def set_volume(self, percent):
        self.dac.set_volume(percent)

    def set_mic_gain(self, db):
        self.adc.set_mic_gain(db)

    def mute(self, on):
        self.dac.mute(on)

    def stop(self):
        self.dac.stop()


def make_codec(pins, i2c):
    codec = pins.get("codec") or {}
    kind = codec.get("type")
    rate = pins["i2s"].get("rate", 8000)
    if kind == "es8388":
        from hushphone.hal.esp32.es8388 import ES8388

        chip = ES8388(i2c, codec.get("address", 0x10))
        chip.init(adc_input=_INPUTS[codec.get("input", "line1")])
        return chip
    if kind == "es8311+es7210":
        from hushphone.hal.esp32.es7210 import ES7210
        from hushphone.hal.esp32.es8311 import ES8311

        dac = ES8311(i2c, codec.get("address", 0x18))
        dac.init(rate=rate)
        adc = ES7210(i2c, codec.get("adc_address", 0x40))
        adc.init(rate=rate)
        return CodecPair(dac, adc)
    raise HalError("codec %r has no driver in this firmware" % (kind,))


def make_audio(pins, i2c):
    from hushphone.hal.esp32.audio import I2sAudio

    codec = make_codec(pins, i2c)
    return I2sAudio(pins["i2s"], codec=codec, pa_pin=pins.get("pa_enable"), bus_rate=pins["i2s"].get("rate", 8000))


def make_keypad(pins):
    from machine import Pin, TouchPad

    from hushphone.hal.esp32.keypad import ButtonKeys, Debouncer, KeypadGroup, MatrixKeypad, TouchKeys

    deb = Debouncer()
    sources = []  # type: list
    matrix = pins.get("matrix")
    if matrix:
        keymap = [_key_names(row) for row in matrix["keys"]]
        sources.append(MatrixKeypad([Pin(n) for n in matrix["rows"]], [Pin(n) for n in matrix["cols"]], keymap, deb))
    buttons = pins.get("buttons") or []
    if buttons:
        sources.append(
            ButtonKeys(
                [(Pin(b["pin"], Pin.IN), b["press"], b.get("release"), b.get("active_low", True)) for b in buttons], deb
            )
        )
    touch = pins.get("touch") or []
    if touch:
        sources.append(TouchKeys([(TouchPad(Pin(t["pin"])), t["press"]) for t in touch], debouncer=deb))
    return KeypadGroup(sources, deb)


def make_display(pins, i2c):
    disp = pins.get("display") or {}
    kind = disp.get("type")
    if kind == "ssd1306":
        from hushphone.hal.esp32.ssd1306 import Ssd1306Display

        return Ssd1306Display(i2c, disp.get("address", 0x3C), disp.get("width", 128), disp.get("height", 64))
    if kind in ("st7789", "ili9342"):
        from hushphone.hal.esp32.st7789 import make_spi_display

        return make_spi_display(disp)
    raise HalError("display %r has no driver in this firmware" % (kind,))


def self_test_checks(pins, i2c):
    """Board checks for the boot self-test (hushphone.ota.selftest): the
    devices on the I2C bus answer."""
    checks = []
    addresses = []
    if pins.get("codec"):
        addresses.append(("codec", pins["codec"].get("address", 0x10)))
        if pins["codec"].get("adc_address") is not None:
            addresses.append(("microphone ADC", pins["codec"]["adc_address"]))
    if (pins.get("display") or {}).get("type") == "ssd1306":
        addresses.append(("display", pins["display"].get("address", 0x3C)))
    for name, addr in addresses:

        def check(addr=addr):
            return True if addr in i2c.scan() else "no answer at I2C 0x%02x" % addr

        checks.append((name, check))
    return checks


def build(board_name, pins):
    import esp32

    from hushphone.crypto.random import random_bytes
    from hushphone.hal.esp32.nvs_store import open_store

    i2c = make_i2c(pins)
    return Hal(
        board_name,
        audio=make_audio(pins, i2c),
        keypad=make_keypad(pins),
        display=make_display(pins, i2c),
        settings=open_store(STORE_SETTINGS),
        secrets=open_store(STORE_SECRETS),
        clock=SystemClock(),
        partition=esp32.Partition,
        random_bytes=random_bytes,
        checks=self_test_checks(pins, i2c),
    )
