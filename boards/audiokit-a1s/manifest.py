# What is frozen into the AI-Thinker ESP32-A1S Audio Kit v2.2 firmware. Paths are relative to
# this file, so the board folder builds from wherever the checkout is.
include("$(PORT_DIR)/boards/manifest.py")  # the port's own frozen modules (_boot, inisetup, ...)

package("hushphone", base_path="../../firmware/lib")
module("boot.py", base_path="../../firmware")
module("main.py", base_path="../../firmware")
module("pins.py")  # this board's pin map, imported by main.py as `pins`
