// Hushphone AI-Thinker ESP32-A1S Audio Kit v2.2: the firmware is frozen (manifest.py); audio through
// machine.I2S, keys through machine.Pin, settings and secrets in esp32.NVS.
#define MICROPY_HW_BOARD_NAME "Hushphone AI-Thinker ESP32-A1S Audio Kit v2.2"
#define MICROPY_HW_MCU_NAME "ESP32"

// The phone needs I2S (audio), cryptolib/hashlib (SRTP, ZRTP, updates) and
// the network stack; these are the port's defaults, stated so a trimmed
// build cannot drop them unnoticed.
#define MICROPY_PY_MACHINE_I2S (1)
#define MICROPY_PY_CRYPTOLIB (1)
#define MICROPY_PY_HASHLIB_SHA1 (1)
