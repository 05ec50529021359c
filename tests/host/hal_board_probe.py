# Run on the MicroPython unix port by test_boards.py:
#
#   micropython hal_board_probe.py BOARD_DIR
#
# Builds a real board's HAL with hushphone.hal.esp32.board.build() from the
# board's own pins.py, over recording stand-ins of the `machine` and `esp32`
# modules (the unix port's framebuf is the real one), drives each part once
# and prints one JSON line of what reached the buses and pins.
import json
import sys

LOG = []  # ("i2c", addr, bytes) / ("spi", bytes) / ("pin", n, value)
I2C_DEVICES = {}  # address -> registers


class Pin:
    IN = 1
    OUT = 3
    PULL_UP = 2
    levels = {}

    def __init__(self, n, mode=None, pull=None, value=None):
        self.n = n
        if value is not None:
            self.value(value)

    def init(self, mode=None, pull=None, value=None):
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            return Pin.levels.get(self.n, 1)  # idle keys read high (pull-ups)
        Pin.levels[self.n] = v
        LOG.append(("pin", self.n, v))


class I2C:
    def __init__(self, id, scl=None, sda=None, freq=None):
        self.args = (id, scl.n, sda.n, freq)

    def scan(self):
        return sorted(I2C_DEVICES)

    def _dev(self, addr):
        if addr not in I2C_DEVICES:
            raise OSError(19, "ENODEV")
        return I2C_DEVICES[addr]

    def writeto_mem(self, addr, reg, buf):
        self._dev(addr)[reg] = buf[0]
        LOG.append(("i2c", addr, bytes([reg]) + bytes(buf)))

    def readfrom_mem_into(self, addr, reg, buf):
        buf[0] = self._dev(addr).get(reg, 0)

    def writeto(self, addr, buf):
        self._dev(addr)
        LOG.append(("i2c", addr, bytes(buf)))

    def writevto(self, addr, bufs):
        self._dev(addr)
        LOG.append(("i2c", addr, b"".join(bytes(b) for b in bufs)))


class I2S:
    RX = 1
    TX = 2
    MONO = 0
    made = []

    def __init__(self, id, **kw):
        self.id = id
        self.kw = kw
        self.written = 0
        I2S.made.append(self)

    def readinto(self, buf):
        for i in range(len(buf)):
            buf[i] = 0x11
        return len(buf)

    def write(self, buf):
        self.written += len(buf)
        return len(buf)

    def deinit(self):
        pass


class SPI:
    def __init__(self, id, baudrate=0, sck=None, mosi=None):
        self.args = (id, baudrate, sck.n, mosi.n)

    def write(self, buf):
        LOG.append(("spi", bytes(buf)))


class TouchPad:
    def __init__(self, pin):
        self.pin = pin

    def read(self):
        return 900  # untouched


class Poll:
    def register(self, obj, flags):
        pass

    def poll(self, timeout):
        return [1]


class Select:
    POLLIN = 1
    POLLOUT = 4

    @staticmethod
    def poll():
        return Poll()


class NVS:
    stores = {}

    def __init__(self, namespace):
        self.data = NVS.stores.setdefault(namespace, {})

    def set_i32(self, key, value):
        self.data[key] = value

    def get_i32(self, key):
        if key not in self.data:
            raise OSError(-0x1102, "ESP_ERR_NVS_NOT_FOUND")
        return self.data[key]

    def set_blob(self, key, value):
        self.data[key] = bytes(value)

    def get_blob(self, key, buf):
        if key not in self.data:
            raise OSError(-0x1102, "ESP_ERR_NVS_NOT_FOUND")
        value = self.data[key]
        if len(value) > len(buf):
            raise OSError(-0x110C, "ESP_ERR_NVS_INVALID_LENGTH")
        buf[: len(value)] = value
        return len(value)

    def erase_key(self, key):
        del self.data[key]

    def commit(self):
        pass


class Partition:
    RUNNING = 1


class Machine:
    pass


for name, obj in (("Pin", Pin), ("I2C", I2C), ("I2S", I2S), ("SPI", SPI), ("TouchPad", TouchPad)):
    setattr(Machine, name, obj)


class Esp32:
    NVS = NVS
    Partition = Partition


def main(board_dir):
    sys.modules["machine"] = Machine
    sys.modules["esp32"] = Esp32
    sys.modules["select"] = Select
    sys.path.insert(0, board_dir)
    import pins

    codec = pins.PINS["codec"]
    I2C_DEVICES[codec["address"]] = {}
    if codec.get("adc_address"):
        I2C_DEVICES[codec["adc_address"]] = {}
    if pins.PINS["display"]["type"] == "ssd1306":
        I2C_DEVICES[pins.PINS["display"]["address"]] = {}
    from hushphone.hal.esp32 import board

    hal = board.build(pins.BOARD, pins.PINS)
    init_log = len(LOG)
    hal.display.show(["SRTP ZRTP", "Ready"])
    display_log = LOG[init_log:]
    hal.audio.start()
    frame = bytearray(320)
    got = hal.audio.read_frame(frame)
    hal.audio.write_frame(frame)
    hal.settings.set_int("ring_vol", 4)
    hal.secrets.set_bytes("password", b"x" * 100)
    checks = [(name, fn()) for name, fn in hal.checks]
    out = {
        "board": hal.board,
        "display": [hal.display.width, hal.display.height],
        "i2c_init": [[e[1], e[2].hex()] for e in LOG[:init_log] if e[0] == "i2c"],
        "spi_init": [e[1].hex() for e in LOG[:init_log] if e[0] == "spi"],
        "display_i2c": [[e[1], e[2].hex()] for e in display_log if e[0] == "i2c"],
        "display_spi_bytes": sum(len(e[1]) for e in display_log if e[0] == "spi"),
        "display_spi": [e[1].hex() for e in display_log if e[0] == "spi" and len(e[1]) <= 4],
        "i2s": [[s.id, s.kw["mode"], s.kw["bits"], s.kw["rate"], s.kw["sck"].n, s.kw["ws"].n, s.kw["sd"].n] for s in I2S.made],
        "mck": [s.kw["mck"].n for s in I2S.made if s.kw.get("mck") is not None],
        "frame_in": got,
        "frame_out_bytes": I2S.made[1].written,
        "pa": Pin.levels.get(pins.PINS.get("pa_enable")),
        "keys": hal.keypad.poll(0),
        "settings": [NVS.stores["hush_cfg"].get("ring_vol"), len(NVS.stores["hush_sip"].get("password", b""))],
        "checks": checks,
    }
    print("PROBE " + json.dumps(out))


main(sys.argv[1])
