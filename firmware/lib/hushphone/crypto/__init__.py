# Thin adapters over the crypto each runtime provides: cryptolib/hashlib on
# MicroPython (mbedTLS, hardware AES/SHA on ESP32), `cryptography`/hashlib on
# CPython. Protocol cores import these, never the runtime modules directly.
