# SSD1306 128x64 monochrome OLED over I2C as a text Display: 8x8 framebuf
# font, so 16 characters by 8 lines; line 0 (the status line) is drawn
# inverted. The init sequence is the SSD1306 datasheet's (as used by
# micropython-lib's ssd1306 driver): display off, horizontal addressing,
# segment/COM remap for the usual module orientation, multiplex = height-1,
# COM pins alternate, clock divider, precharge, VCOMH, contrast, charge
# pump on, display on.
from hushphone.compat import const
from hushphone.hal.interfaces import Display, HalError, fit_lines

ADDRESS = const(0x3C)
_CHAR = const(8)


class DisplayError(HalError):
    pass


def init_commands(width, height):
    return bytes(
        (
            0xAE,  # display off
            0x20, 0x00,  # horizontal addressing
            0x40,  # start line 0
            0xA1,  # segment remap: column 127 is SEG0
            0xA8, height - 1,  # multiplex ratio
            0xC8,  # COM scan from COM[N-1]
            0xD3, 0x00,  # no display offset
            0xDA, 0x12 if height == 64 else 0x02,  # COM pins configuration
            0xD5, 0x80,  # clock divide ratio / oscillator
            0xD9, 0xF1,  # precharge (internal charge pump)
            0xDB, 0x30,  # VCOMH deselect level
            0x81, 0xFF,  # contrast
            0xA4,  # output follows RAM
            0xA6,  # not inverted
            0x8D, 0x14,  # charge pump on
            0xAF,  # display on
        )
    )


class Ssd1306Display(Display):
    def __init__(self, i2c, address=ADDRESS, width=128, height=64):
        import framebuf

        self.i2c = i2c
        self.address = address
        self.px_width = width
        self.px_height = height
        self.width = width // _CHAR
        self.height = height // _CHAR
        self.buffer = bytearray(width * height // 8)
        self.fb = framebuf.FrameBuffer(self.buffer, width, height, framebuf.MONO_VLSB)
        self._cmd = bytearray(2)
        self._prefix = b"\x40"
        self.screen = None
        for c in init_commands(width, height):
            self.command(c)

    def command(self, c):
        self._cmd[0] = 0x80  # Co = 1, D/C# = 0: one command byte follows
        self._cmd[1] = c
        try:
            self.i2c.writeto(self.address, self._cmd)
        except OSError as e:
            raise DisplayError("SSD1306 at 0x%02x does not answer: %s" % (self.address, e))

    def show(self, lines):
        screen = fit_lines(lines, self.width, self.height)
        if screen == self.screen:
            return
        self.screen = screen
        fb = self.fb
        fb.fill(0)
        fb.fill_rect(0, 0, self.px_width, _CHAR, 1)
        fb.text(screen[0], 0, 0, 0)
        for i in range(1, self.height):
            fb.text(screen[i], 0, i * _CHAR, 1)
        self._flush()

    def _flush(self):
        for c in (0x21, 0, self.px_width - 1, 0x22, 0, self.px_height // 8 - 1):
            self.command(c)  # column and page address: the whole screen
        try:
            self.i2c.writevto(self.address, (self._prefix, self.buffer))
        except OSError as e:
            raise DisplayError("SSD1306 at 0x%02x does not answer: %s" % (self.address, e))

    def power(self, on):
        self.command(0xAF if on else 0xAE)
