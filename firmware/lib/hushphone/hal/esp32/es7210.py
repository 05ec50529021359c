# Everest ES7210 four-channel microphone ADC (the ESP32-S3-BOX-3's
# microphones) over machine.I2C, as an I2S slave, 16-bit I2S without TDM, so
# MIC1/MIC2 come out as the left/right slots of its SDOUT1. Register
# sequence from Espressif's esp-bsp driver (components/es7210/es7210.c:
# es7210_config_codec with its set_i2s_format, set_mic_bias, set_mic_gain
# and set_i2s_sample_rate steps), register numbers from es7210_reg.h.
from hushphone.compat import const
from hushphone.hal.esp32.i2c_regs import CodecError, I2cRegisters

ADDRESS = const(0x40)  # AD0 = AD1 = 0

# esp-bsp es7210_coeff_div rows: (mclk, lrck): (adc_div, dll, doubler, osr, lrck_h, lrck_l).
# It has no row for 8 kHz with MCLK = 256 fs (2.048 MHz; its 8 kHz row needs
# 512 fs): with machine.I2S's fixed MCLK of 256 fs the BOX-3 runs at 16 kHz.
COEFFICIENTS = {
    (4096000, 16000): (0x01, 0x01, 0x01, 0x20, 0x01, 0x00),
    (4096000, 8000): (0x01, 0x01, 0x00, 0x20, 0x02, 0x00),
}
MIC_BIAS_2V87 = const(0x70)
_BITS_16 = const(0x60)
_FMT_I2S = const(0x00)
_GAIN_MAX_CODE = const(11)  # 33 dB (the codes above step by 1.5 dB)


class ES7210(I2cRegisters):
    name = "ES7210"

    def __init__(self, i2c, address=ADDRESS):
        I2cRegisters.__init__(self, i2c, address)

    def init(self, rate=16000, mclk_ratio=256, mic_gain_db=30, mic_bias=MIC_BIAS_2V87):
        coeff = COEFFICIENTS.get((rate * mclk_ratio, rate))
        if coeff is None:
            raise CodecError("ES7210: no clock coefficients for %d Hz with MCLK %d x fs" % (rate, mclk_ratio))
        w = self.write
        w(0x00, 0xFF)  # software reset
        w(0x00, 0x32)
        w(0x09, 0x30)  # chip initial state period
        w(0x0A, 0x30)  # power-up state period
        w(0x23, 0x2A)  # high-pass filters of ADC1-4
        w(0x22, 0x0A)
        w(0x21, 0x2A)
        w(0x20, 0x0A)
        w(0x11, _FMT_I2S | _BITS_16)  # 16-bit I2S
        w(0x12, 0x00)  # no TDM
        w(0x40, 0xC3)  # analog power, VMID
        w(0x41, mic_bias)  # MIC1/2 bias
        w(0x42, mic_bias)  # MIC3/4 bias
        self.set_mic_gain(mic_gain_db)
        for reg in (0x47, 0x48, 0x49, 0x4A):
            w(reg, 0x08)  # MIC1-4 power
        adc_div, dll, doubler, osr, lrck_h, lrck_l = coeff
        w(0x07, osr)
        w(0x02, adc_div | (doubler << 6) | (dll << 7))
        w(0x04, lrck_h)
        w(0x05, lrck_l)
        w(0x06, 0x04)  # DLL powered down
        w(0x4B, 0x0F)  # MIC1/2 bias, ADC and PGA on
        w(0x4C, 0x0F)  # MIC3/4 bias, ADC and PGA on
        w(0x00, 0x71)  # enable
        w(0x00, 0x41)

    def set_mic_gain(self, db):
        """0..33 dB in 3 dB steps on all four inputs (bit 4 enables the PGA)."""
        code = int(db) // 3
        if code < 0:
            code = 0
        elif code > _GAIN_MAX_CODE:
            code = _GAIN_MAX_CODE
        for reg in (0x43, 0x44, 0x45, 0x46):
            self.write(reg, code | 0x10)
