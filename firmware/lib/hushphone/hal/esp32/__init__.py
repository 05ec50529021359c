# ESP32 HAL: machine.I2S/Pin/I2C, esp32.NVS and esp32.Partition.
