# Hushphone firmware package: sans-IO protocol cores, crypto adapters, the
# phone application and its hardware layer. Runs on MicroPython (the handset)
# and on CPython (host tools and tests import the very same code).
__version__ = "0.1.0"
