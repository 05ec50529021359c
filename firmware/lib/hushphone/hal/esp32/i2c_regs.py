# One 8-bit register of an I2C device at a time, as the audio codecs take
# their settings. A device that does not answer is a CodecError naming the
# chip, the address and the register, not a bare OSError from deep inside.
from hushphone.hal.interfaces import HalError


class CodecError(HalError):
    pass


class I2cRegisters:
    name = "codec"

    def __init__(self, i2c, address):
        self.i2c = i2c
        self.address = address
        self._one = bytearray(1)

    def _fail(self, reg, err):
        return CodecError("%s at 0x%02x does not answer (register 0x%02x): %s" % (self.name, self.address, reg, err))

    def write(self, reg, value):
        self._one[0] = value
        try:
            self.i2c.writeto_mem(self.address, reg, self._one)
        except OSError as e:
            raise self._fail(reg, e)

    def read(self, reg):
        try:
            self.i2c.readfrom_mem_into(self.address, reg, self._one)
        except OSError as e:
            raise self._fail(reg, e)
        return self._one[0]

    def update(self, reg, keep_mask, set_bits):
        """Read-modify-write: keep the bits of keep_mask, then OR set_bits."""
        self.write(reg, (self.read(reg) & keep_mask) | set_bits)

    def present(self):
        return self.address in self.i2c.scan()
