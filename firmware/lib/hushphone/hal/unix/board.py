# The simulated handset's HAL: files under one root directory stand in for
# the board (NVS namespaces as JSON files, audio as WAV files, the display
# as a text log), keys come from a script and/or a stream.
#
#   config = {"root": dir, "mic_wav": path | None, "tone_hz": 0, "loop_mic": False,
#             "speaker_wav": path | None, "keys": "1,2,CALL", "display_log": path,
#             "display_width": 20, "display_height": 4, "display_history": 64, "name": "sim"}
from hushphone.crypto.random import random_bytes
from hushphone.hal.esp32.nvs_store import NvsStore
from hushphone.hal.interfaces import Hal, SystemClock
from hushphone.hal.unix.audio import SilenceSource, ToneSource, UnixAudio, WavSource
from hushphone.hal.unix.display import TextDisplay
from hushphone.hal.unix.keys import ScriptKeys
from hushphone.hal.unix.nvs import Nvs
from hushphone.storage_layout import NS_CFG, NS_SIP

BOARD = "sim"


def make_audio(config):
    if config.get("mic_wav"):
        source = WavSource(config["mic_wav"], loop=config.get("loop_mic", False))
    elif config.get("tone_hz"):
        source = ToneSource(config["tone_hz"])
    else:
        source = SilenceSource()
    return UnixAudio(source, config.get("speaker_wav"))


def build(config, keypad=None, out=print):
    """The Hal of a simulated handset. `keypad` replaces the scripted keys
    (e.g. StreamKeys over a control socket); `out` prints the display."""
    root = config["root"]
    from hushphone.hal.unix.partition import Partition

    return Hal(
        BOARD,
        audio=make_audio(config),
        keypad=keypad if keypad is not None else ScriptKeys(config.get("keys", "")),
        display=TextDisplay(
            config.get("display_width", 20),
            config.get("display_height", 4),
            out=out,
            log_path=config.get("display_log"),
            name=config.get("name", ""),
            history=config.get("display_history", 64),
        ),
        settings=NvsStore(Nvs(root, NS_CFG)),
        secrets=NvsStore(Nvs(root, NS_SIP)),
        clock=SystemClock(),
        partition=Partition,
        random_bytes=random_bytes,
    )
