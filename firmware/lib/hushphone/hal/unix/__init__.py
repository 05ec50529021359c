# Simulation HAL: the same interfaces as hal/esp32, backed by files that keep the real semantics.
