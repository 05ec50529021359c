# Everest ES8311 mono codec (the ESP32-S3-BOX-3's speaker DAC) over
# machine.I2C, as an I2S slave with MCLK from its MCLK pin. Register
# sequence from Espressif's esp-bsp driver (components/es8311/es8311.c:
# es8311_init = reset, clock config, format config, analog power-up;
# voice_volume_set; voice_mute), register numbers from the ES8311 datasheet.
# One difference: esp-bsp always picks clock coefficients for MCLK = 32 fs
# (MCLK taken from BCLK); Hushphone feeds MCLK = 256 fs on the MCLK pin, so
# the coefficients are the table rows for that MCLK.
from hushphone.compat import const
from hushphone.hal.esp32.i2c_regs import CodecError, I2cRegisters

ADDRESS = const(0x18)  # CE pin low

# Rows of esp-bsp's coeff_div table for the two rates Hushphone uses:
# (mclk, rate): (pre_div, pre_multi, adc_div, dac_div, fs_mode, lrck_h, lrck_l, bclk_div, adc_osr, dac_osr)
COEFFICIENTS = {
    (2048000, 8000): (0x01, 0x00, 0x01, 0x01, 0x00, 0x00, 0xFF, 0x04, 0x10, 0x10),
    (4096000, 16000): (0x01, 0x00, 0x01, 0x01, 0x00, 0x00, 0xFF, 0x04, 0x10, 0x10),
}
_RES_16 = const(3 << 2)  # SDP word length 16 bits (registers 0x09/0x0A)


class ES8311(I2cRegisters):
    name = "ES8311"

    def __init__(self, i2c, address=ADDRESS, sleep_ms=None):
        I2cRegisters.__init__(self, i2c, address)
        if sleep_ms is None:
            import time

            sleep_ms = time.sleep_ms
        self._sleep_ms = sleep_ms

    def init(self, rate=16000, mclk_ratio=256, volume=70):
        coeff = COEFFICIENTS.get((rate * mclk_ratio, rate))
        if coeff is None:
            raise CodecError("ES8311: no clock coefficients for %d Hz with MCLK %d x fs" % (rate, mclk_ratio))
        w = self.write
        w(0x00, 0x1F)  # reset
        self._sleep_ms(20)
        w(0x00, 0x00)
        w(0x00, 0x80)  # power-on command
        w(0x01, 0x3F)  # all clocks on, MCLK from the MCLK pin, not inverted
        self.update(0x06, 0xDF, 0x00)  # BCLK not inverted
        pre_div, pre_multi, adc_div, dac_div, fs_mode, lrck_h, lrck_l, bclk_div, adc_osr, dac_osr = coeff
        self.update(0x02, 0x07, ((pre_div - 1) << 5) | (pre_multi << 3))
        w(0x03, (fs_mode << 6) | adc_osr)
        w(0x04, dac_osr)
        w(0x05, ((adc_div - 1) << 4) | (dac_div - 1))
        self.update(0x06, 0xE0, (bclk_div - 1) if bclk_div < 19 else bclk_div)
        self.update(0x07, 0xC0, lrck_h)
        w(0x08, lrck_l)
        self.update(0x00, 0xBF, 0x00)  # serial port in slave mode
        w(0x09, _RES_16)  # SDP in: 16-bit I2S
        w(0x0A, _RES_16)  # SDP out: 16-bit I2S
        w(0x0D, 0x01)  # analog circuits powered up
        w(0x0E, 0x02)  # analog PGA and ADC modulator on
        w(0x12, 0x00)  # DAC powered up
        w(0x13, 0x10)  # output to the HP driver
        w(0x1C, 0x6A)  # ADC equaliser bypassed, DC offset cancelled
        w(0x37, 0x08)  # DAC equaliser bypassed
        self.set_volume(volume)
        self.mute(False)

    def set_volume(self, percent):
        """esp-bsp's scale: register 0x32 = percent * 256 / 100 - 1 (0 = off)."""
        if percent < 0:
            percent = 0
        elif percent > 100:
            percent = 100
        self.write(0x32, 0 if percent == 0 else percent * 256 // 100 - 1)

    def mute(self, on):
        self.update(0x31, 0x9F, 0x60 if on else 0x00)

    def set_mic_gain(self, db):
        pass  # the BOX-3's microphones are on the ES7210

    def stop(self):
        self.mute(True)
