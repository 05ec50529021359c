# Colour SPI LCDs with the MIPI DCS command set (Sitronix ST7789, Ilitek
# ILI9342C of the ESP32-S3-BOX-3) as a text Display. Text is drawn one
# 8-pixel character row at a time into a small RGB565 framebuf strip and
# sent with CASET/RASET/RAMWR, so no full-screen buffer is needed (a
# 320x240 frame would take 150 KB). Line 0, the status line, is inverted.
from hushphone.compat import const
from hushphone.hal.interfaces import Display, HalError, fit_lines

SWRESET = const(0x01)
SLPOUT = const(0x11)
INVON = const(0x21)
DISPON = const(0x29)
CASET = const(0x2A)
RASET = const(0x2B)
RAMWR = const(0x2C)
MADCTL = const(0x36)
COLMOD = const(0x3A)
_CHAR = const(8)
# framebuf's RGB565 is little-endian; the panels read big-endian, so colours
# are given byte-swapped.
_WHITE = const(0xFFFF)
_BLACK = const(0x0000)


class LcdError(HalError):
    pass


class MipiLcdDisplay(Display):
    def __init__(self, spi, cs, dc, width, height, rst=None, backlight=None, madctl=0x00, invert=True, sleep_ms=None):
        import framebuf

        self.spi = spi
        self.cs = cs
        self.dc = dc
        self.px_width = width
        self.px_height = height
        self.width = width // _CHAR
        self.height = height // _CHAR
        self._strip = bytearray(width * _CHAR * 2)
        self._fb = framebuf.FrameBuffer(self._strip, width, _CHAR, framebuf.RGB565)
        self._cmd = bytearray(1)
        self._arg = bytearray(4)  # CASET/RASET data (never the command byte's buffer)
        self.screen = None
        if sleep_ms is None:
            import time

            sleep_ms = time.sleep_ms
        cs.value(1)
        if rst is not None:
            rst.value(0)
            sleep_ms(10)
            rst.value(1)
            sleep_ms(120)
        self.command(SWRESET)
        sleep_ms(150)
        self.command(SLPOUT)
        sleep_ms(120)
        self.command(COLMOD, b"\x55")  # 16 bits per pixel
        self.command(MADCTL, bytes((madctl,)))
        if invert:
            self.command(INVON)
        self.command(DISPON)
        if backlight is not None:
            backlight.value(1)

    def command(self, cmd, data=None):
        self.cs.value(0)
        self.dc.value(0)
        self._cmd[0] = cmd
        self.spi.write(self._cmd)
        if data:
            self.dc.value(1)
            self.spi.write(data)
        self.cs.value(1)

    def _window(self, x0, y0, x1, y1):
        a = self._arg
        a[0], a[1], a[2], a[3] = x0 >> 8, x0 & 0xFF, x1 >> 8, x1 & 0xFF
        self.command(CASET, a)
        a[0], a[1], a[2], a[3] = y0 >> 8, y0 & 0xFF, y1 >> 8, y1 & 0xFF
        self.command(RASET, a)

    def show(self, lines):
        screen = fit_lines(lines, self.width, self.height)
        old = self.screen
        self.screen = screen
        for i in range(self.height):
            if old is not None and old[i] == screen[i]:
                continue  # redraw changed rows only
            fg, bg = (_BLACK, _WHITE) if i == 0 else (_WHITE, _BLACK)
            self._fb.fill(bg)
            self._fb.text(screen[i], 0, 0, fg)
            self._window(0, i * _CHAR, self.px_width - 1, i * _CHAR + _CHAR - 1)
            self.command(RAMWR, self._strip)


def make_spi_display(disp):
    """From a pin map's display entry: {"type", "width", "height", "madctl",
    "invert", "spi": {"id", "sck", "mosi", "cs", "dc", "rst", "backlight", "baudrate"}}."""
    from machine import SPI, Pin

    s = disp["spi"]
    spi = SPI(s.get("id", 2), baudrate=s.get("baudrate", 40000000), sck=Pin(s["sck"]), mosi=Pin(s["mosi"]))

    def out(n):
        return Pin(n, Pin.OUT, value=1) if n is not None else None

    return MipiLcdDisplay(
        spi,
        out(s["cs"]),
        out(s["dc"]),
        disp.get("width", 320),
        disp.get("height", 240),
        rst=out(s.get("rst")),
        backlight=out(s.get("backlight")),
        madctl=disp.get("madctl", 0x00),
        invert=disp.get("invert", True),
    )
