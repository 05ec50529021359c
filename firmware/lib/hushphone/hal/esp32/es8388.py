# Everest ES8388 audio codec (ESP32-LyraT v4.3, AI-Thinker ESP32-A1S Audio
# Kit v2.2) over machine.I2C. The codec is an I2S slave: the ESP32 drives
# BCLK/LRCK and, on these boards, MCLK = 256 x fs on GPIO0 (the ES8388
# derives every internal clock from MCLK; without it nothing plays).
#
# The register sequence is Espressif's esp-adf driver
# (components/audio_hal/driver/es8388/es8388.c: es8388_init, then
# es8388_config_i2s for 16-bit I2S, then es8388_start for ADC+DAC) with
# register meanings from the ES8388 datasheet:
#   0x00 CONTROL1  0x01 CONTROL2  0x02 CHIPPOWER  0x03 ADCPOWER  0x04 DACPOWER
#   0x08 MASTERMODE (0x00 = slave)  0x09 ADCCONTROL1 (mic PGA, L[7:4] R[3:0], 3 dB steps)
#   0x0A ADCCONTROL2 (input select)  0x0C ADCCONTROL4 (ADC format/word length)
#   0x17 DACCONTROL1 (DAC format/word length)  0x19 DACCONTROL3 (mute bit 2)
#   0x2E..0x31 LOUT1/ROUT1/LOUT2/ROUT2 volume (0x00 = -45 dB .. 0x21 = +4.5 dB)
from hushphone.compat import const
from hushphone.hal.esp32.i2c_regs import CodecError, I2cRegisters  # noqa: F401  (CodecError: callers catch it from here)

ADDRESS = const(0x10)  # 7-bit address with CE low (esp-adf's 0x20 is the 8-bit write address)

CONTROL1 = const(0x00)
CONTROL2 = const(0x01)
CHIPPOWER = const(0x02)
ADCPOWER = const(0x03)
DACPOWER = const(0x04)
MASTERMODE = const(0x08)
ADCCONTROL1 = const(0x09)
ADCCONTROL2 = const(0x0A)
ADCCONTROL3 = const(0x0B)
ADCCONTROL4 = const(0x0C)
ADCCONTROL5 = const(0x0D)
ADCCONTROL8 = const(0x10)
ADCCONTROL9 = const(0x11)
DACCONTROL1 = const(0x17)
DACCONTROL2 = const(0x18)
DACCONTROL3 = const(0x19)
DACCONTROL4 = const(0x1A)
DACCONTROL5 = const(0x1B)
DACCONTROL16 = const(0x26)
DACCONTROL17 = const(0x27)
DACCONTROL20 = const(0x2A)
DACCONTROL21 = const(0x2B)
DACCONTROL23 = const(0x2D)
DACCONTROL24 = const(0x2E)
DACCONTROL25 = const(0x2F)
DACCONTROL26 = const(0x30)
DACCONTROL27 = const(0x31)

# ADC input (ADCCONTROL2): which analogue pins feed the ADC.
INPUT_LINE1 = const(0x00)  # LIN1/RIN1 (the on-board microphones of the LyraT and A1S kit)
INPUT_LINE2 = const(0x50)  # LIN2/RIN2 (the A1S kit's line/aux in)
INPUT_DIFFERENCE = const(0xF0)  # differential LIN-RIN (an electret handset capsule)
# DAC outputs (DACPOWER bits): LOUT1/ROUT1 = headphone/earpiece, LOUT2/ROUT2 = speaker PA.
OUTPUT_ALL = const(0x3C)

_BITS_16 = const(0x03)  # esp-adf BIT_LENGTH_16BITS
_FMT_I2S = const(0x00)  # esp-adf ES_I2S_NORMAL (Philips I2S)


class ES8388(I2cRegisters):
    name = "ES8388"

    def __init__(self, i2c, address=ADDRESS):
        I2cRegisters.__init__(self, i2c, address)

    def init(self, adc_input=INPUT_LINE1, dac_output=OUTPUT_ALL, volume=70, mic_gain_db=24):
        """Power up as an I2S slave, 16-bit Philips I2S, MCLK/LRCK = 256,
        ADC and DAC running, DAC unmuted."""
        w = self.write
        w(DACCONTROL3, 0x04)  # DAC muted while we configure
        w(CONTROL2, 0x50)
        w(CHIPPOWER, 0x00)  # everything powered, state machines running
        w(MASTERMODE, 0x00)  # I2S slave: the ESP32 drives BCLK/LRCK
        w(DACPOWER, 0xC0)  # DAC off, outputs off while configuring
        w(CONTROL1, 0x12)  # play and record mode
        w(DACCONTROL1, 0x18)  # DAC: 16-bit, I2S
        w(DACCONTROL2, 0x02)  # DAC: single speed, MCLK/LRCK = 256
        w(DACCONTROL16, 0x00)  # mixer input LIN1/RIN1 (bypass off)
        w(DACCONTROL17, 0x90)  # left DAC to left mixer, 0 dB
        w(DACCONTROL20, 0x90)  # right DAC to right mixer, 0 dB
        w(DACCONTROL21, 0x80)  # ADC and DAC share LRCK
        w(DACCONTROL23, 0x00)  # VROI = 0
        w(DACCONTROL5, 0x00)  # right DAC digital volume 0 dB
        w(DACCONTROL4, 0x00)  # left DAC digital volume 0 dB
        w(DACPOWER, dac_output)
        w(ADCPOWER, 0xFF)  # ADC off while configuring
        w(ADCCONTROL1, 0xBB)  # mic PGA (esp-adf's default; set_mic_gain below sets ours)
        w(ADCCONTROL2, adc_input)
        w(ADCCONTROL3, 0x02)
        w(ADCCONTROL4, 0x0D)  # ADC: 16-bit, left-justified (config_i2s makes it I2S)
        w(ADCCONTROL5, 0x02)  # ADC: single speed, MCLK/LRCK = 256
        w(ADCCONTROL8, 0x00)  # left ADC digital volume 0 dB
        w(ADCCONTROL9, 0x00)  # right ADC digital volume 0 dB
        w(ADCPOWER, 0x09)  # ADC and LIN/RIN on, mic bias off
        self._config_i2s()
        self.start()
        self.set_volume(volume)
        self.set_mic_gain(mic_gain_db)

    def _config_i2s(self):
        # es8388_config_fmt then es8388_set_bits_per_sample (read-modify-write).
        self.update(ADCCONTROL4, 0xFC, _FMT_I2S)
        self.update(DACCONTROL1, 0xF9, _FMT_I2S << 1)
        self.update(ADCCONTROL4, 0xE3, _BITS_16 << 2)
        self.update(DACCONTROL1, 0xC7, _BITS_16 << 3)

    def start(self):
        """es8388_start(ES_MODULE_ADC_DAC)."""
        before = self.read(DACCONTROL21)
        self.write(DACCONTROL21, 0x80)
        if self.read(DACCONTROL21) != before:
            self.write(CHIPPOWER, 0xF0)  # restart the state machines
            self.write(CHIPPOWER, 0x00)
        self.write(ADCPOWER, 0x00)  # ADC and line in powered
        self.write(DACPOWER, OUTPUT_ALL)  # DAC and all four outputs powered
        self.mute(False)

    def stop(self):
        """es8388_stop(ES_MODULE_ADC_DAC): DAC and ADC powered down."""
        self.write(DACPOWER, 0x00)
        self.mute(True)
        self.write(ADCPOWER, 0xFF)
        self.write(DACCONTROL21, 0x9C)

    def mute(self, on):
        self.update(DACCONTROL3, 0xFB, 0x04 if on else 0x00)

    def set_volume(self, percent):
        """Output volume 0..100 on both output pairs (esp-adf's scale:
        percent // 3, so 100 -> 0x21 = +4.5 dB, 0 -> -45 dB)."""
        if percent < 0:
            percent = 0
        elif percent > 100:
            percent = 100
        code = percent // 3
        for reg in (DACCONTROL24, DACCONTROL25, DACCONTROL26, DACCONTROL27):
            self.write(reg, code)

    def set_mic_gain(self, db):
        """Microphone PGA on both channels, 0..24 dB in 3 dB steps
        (datasheet register 9: MicAmpL in bits 7:4, MicAmpR in bits 3:0)."""
        if db < 0:
            db = 0
        elif db > 24:
            db = 24
        step = db // 3
        self.write(ADCCONTROL1, (step << 4) | step)

    def power_off(self):
        """es8388_deinit: reset and stop the chip."""
        self.write(CHIPPOWER, 0xFF)
