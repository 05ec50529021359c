# Hardware abstraction: hal/esp32 (machine, esp32 modules) and hal/unix (simulation backed by files).
