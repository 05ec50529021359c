# MicroPython board definition for ESP32-LyraT v4.3 (an out-of-tree board:
#   make -C ports/esp32 BOARD_DIR=/path/to/hushphone/boards/lyrat-v4.3
# with ESP-IDF set up as MicroPython's ports/esp32/README.md describes).
set(IDF_TARGET esp32)

# sdkconfig files cannot refer to this folder, so the partition table's
# absolute path goes into a fragment written at configure time.
set(HUSHPHONE_PARTITIONS ${CMAKE_BINARY_DIR}/sdkconfig.hushphone_partitions)
file(WRITE ${HUSHPHONE_PARTITIONS}
    "CONFIG_PARTITION_TABLE_CUSTOM=y\n"
    "CONFIG_PARTITION_TABLE_CUSTOM_FILENAME=\"${MICROPY_BOARD_DIR}/partitions.csv\"\n")

set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    boards/sdkconfig.240mhz
    boards/sdkconfig.spiram
    ${MICROPY_BOARD_DIR}/sdkconfig.board
    ${HUSHPHONE_PARTITIONS}
)

set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)
