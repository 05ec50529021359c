"""eFuse provisioning with espefuse: a plan of steps (each one espefuse
command), checked against the chip's current eFuses before anything burns.

A step is "todo" (will burn), "done" (the chip already holds exactly this
value: skipped) or a conflict (the chip holds something else: the whole plan
is refused before the first burn). Burning is irreversible, so a dry run
prints the commands and reads eFuses from a copy only."""
import json
import shlex
import shutil
import tempfile
from pathlib import Path

from hushctl import external
from hushctl.errors import HushctlError

DOWNLOAD_MODES = ("open", "secure", "disabled")
SECRET_PLACEHOLDER = "<per-handset flash-encryption key, random, never stored>"


class EfuseError(HushctlError):
    pass


class EfuseConflict(EfuseError):
    pass


class Target:
    """Where eFuses live: a serial port, or espefuse's virtual eFuse file."""

    def __init__(self, chip, port=None, virtual_file=None):
        if chip not in ("esp32", "esp32s3"):
            raise EfuseError("eFuses are only provisioned on esp32 and esp32s3, not %s" % chip)
        if bool(port) == bool(virtual_file):
            raise EfuseError("eFuses need exactly one of --port or --virtual-efuses")
        self.chip = chip
        self.port = port
        self.virtual_file = str(virtual_file) if virtual_file else None

    def base_args(self, virtual_file=None):
        args = [external.exe("espefuse"), "--chip", self.chip]
        if self.port:
            return args + ["--port", self.port]
        return args + ["--virt", "--path-efuse-file", virtual_file or self.virtual_file]

    def read_summary(self):
        """The eFuses as espefuse's JSON summary. Virtual eFuses are read from
        a temporary copy so that reading never creates or rewrites the file."""
        with tempfile.TemporaryDirectory(prefix="hush-efuse-") as tmp:
            copy = str(Path(tmp) / "efuses.bin")
            if self.virtual_file and Path(self.virtual_file).exists():
                shutil.copyfile(self.virtual_file, copy)
            out = str(Path(tmp) / "summary.json")
            cmd = self.base_args(copy if self.virtual_file else None) + ["summary", "--format", "json", "--file", out]
            _run(cmd)
            return json.loads(Path(out).read_text())


def _run(cmd):
    return external.run(cmd, "espefuse", EfuseError, timeout=300)


class Step:
    def __init__(self, title, args, state, secret_file=None):
        self.title = title
        self.args = args  # espefuse command and arguments
        self.state = state  # "todo" | "done"
        self.secret_file = secret_file  # shown as a placeholder, never printed

    def shown_args(self):
        return [SECRET_PLACEHOLDER if a == self.secret_file else a for a in self.args]


def _value(summary, name):
    try:
        return summary[name]["value"]
    except KeyError:
        raise EfuseError("espefuse summary has no eFuse %s" % name)


def _block_bytes(summary, name):
    """A 256-bit block as bytes, or None if read-protected."""
    text = summary[name]["value"]
    if "?" in text:
        return None
    return bytes.fromhex(text.replace(" ", ""))


def _bool_step(summary, name, title):
    state = "done" if _value(summary, name) in (True, 1) else "todo"
    return Step(title, ["burn-efuse", name, "1"], state)


def _secure_version_step(summary, secure_version):
    # The anti-rollback version is counted in set bits (thermometer code),
    # so version n is the value 2**n - 1; bits can be added, never removed.
    current = bin(int(summary["SECURE_VERSION"]["raw_value"], 16)).count("1")
    if current > secure_version:
        raise EfuseConflict("SECURE_VERSION already at %d, higher than the requested %d" % (current, secure_version))
    state = "done" if current == secure_version else "todo"
    return Step("anti-rollback floor SECURE_VERSION = %d" % secure_version,
                ["burn-efuse", "SECURE_VERSION", hex((1 << secure_version) - 1)], state)


def plan(target, summary, digests, pub_key_paths, flash_key_file, secure_version=0, secure_boot=True,
         disable_jtag=True, download_mode="secure"):
    """The list of Steps to provision `target`, given its current `summary`.
    digests: Secure Boot V2 key digests (bytes), one per public key PEM path.
    Raises EfuseConflict if the chip already holds different values."""
    if download_mode not in DOWNLOAD_MODES:
        raise EfuseError("download mode must be one of %s" % ", ".join(DOWNLOAD_MODES))
    if target.chip == "esp32":
        return _plan_esp32(target, summary, digests, pub_key_paths, flash_key_file, secure_version, secure_boot,
                           disable_jtag, download_mode)
    return _plan_esp32s3(summary, digests, pub_key_paths, flash_key_file, secure_version, secure_boot, disable_jtag,
                         download_mode)


def _plan_esp32(target, summary, digests, pub_key_paths, flash_key_file, secure_version, secure_boot, disable_jtag,
                download_mode):
    steps = []
    if len(digests) != 1:
        raise EfuseError("the ESP32 holds one Secure Boot V2 key digest; the hierarchy has %d OTA keys" % len(digests))
    if target.virtual_file and not (_value(summary, "CHIP_VER_REV1") and _value(summary, "CHIP_VER_REV2")):
        # Virtual chips start at revision 0; Secure Boot V2 needs revision 3.
        steps.append(Step("virtual chip: set revision 3 (ECO3)", ["burn-efuse", "CHIP_VER_REV1", "1", "CHIP_VER_REV2", "1"], "todo"))
    current = _block_bytes(summary, "BLOCK2")
    if current == digests[0]:
        state = "done"
    elif current == bytes(32) and summary["BLOCK2"]["writeable"]:
        state = "todo"
    else:
        raise EfuseConflict("BLOCK2 already holds a different secure boot key digest")
    steps.append(Step("Secure Boot V2 key digest -> BLOCK2 (write-protected)", ["burn-key-digest", str(pub_key_paths[0])], state))

    block1 = _block_bytes(summary, "BLOCK1")
    if block1 is None or not summary["BLOCK1"]["writeable"]:
        state = "done"  # a key is already burned and read-protected: leave it
    elif block1 == bytes(32):
        state = "todo"
    else:
        raise EfuseConflict("BLOCK1 holds a readable, non-zero value: not a protected flash-encryption key")
    steps.append(Step("flash-encryption key -> BLOCK1 (read- and write-protected)",
                      ["burn-key", "flash_encryption", str(flash_key_file)], state, secret_file=str(flash_key_file)))
    if secure_version:
        steps.append(_secure_version_step(summary, secure_version))
    if disable_jtag:
        steps.append(_bool_step(summary, "JTAG_DISABLE", "disable JTAG"))
    if download_mode == "secure":
        for name in ("DISABLE_DL_ENCRYPT", "DISABLE_DL_DECRYPT", "DISABLE_DL_CACHE"):
            steps.append(_bool_step(summary, name, "download mode: %s" % name))
    elif download_mode == "disabled":
        steps.append(_bool_step(summary, "UART_DOWNLOAD_DIS", "disable UART download mode"))
    if secure_boot:
        steps.append(_bool_step(summary, "ABS_DONE_1", "enable Secure Boot V2 (ABS_DONE_1)"))
    return steps


_S3_KEY_BLOCKS = ["BLOCK_KEY%d" % i for i in range(6)]


def _plan_esp32s3(summary, digests, pub_key_paths, flash_key_file, secure_version, secure_boot, disable_jtag,
                  download_mode):
    steps = []
    purposes = {b: _value(summary, "KEY_PURPOSE_%d" % i) for i, b in enumerate(_S3_KEY_BLOCKS)}

    def is_free(block):
        return purposes[block] == "USER" and _block_bytes(summary, block) == bytes(32) and summary[block]["writeable"]

    free = [b for b in _S3_KEY_BLOCKS if is_free(b)]
    taken = set()

    def take():
        for b in free:
            if b not in taken:
                taken.add(b)
                return b
        raise EfuseConflict("no free eFuse key block left")

    if any(p == "XTS_AES_128_KEY" for p in purposes.values()):
        steps.append(Step("flash-encryption key (XTS_AES_128_KEY): already burned", [], "done"))
    else:
        block = take()
        steps.append(Step("flash-encryption key -> %s as XTS_AES_128_KEY (read- and write-protected)" % block,
                          ["burn-key", block, str(flash_key_file), "XTS_AES_128_KEY"], "todo",
                          secret_file=str(flash_key_file)))
    for i, digest in enumerate(digests):
        purpose = "SECURE_BOOT_DIGEST%d" % i
        holders = [b for b, p in purposes.items() if p == purpose]
        if holders:
            if _block_bytes(summary, holders[0]) != digest:
                raise EfuseConflict("%s already holds a different secure boot key digest" % purpose)
            steps.append(Step("key digest %d already in %s" % (i, holders[0]), [], "done"))
            continue
        if _value(summary, "SECURE_BOOT_KEY_REVOKE%d" % i):
            raise EfuseConflict("secure boot key slot %d is revoked" % i)
        block = take()
        steps.append(Step("Secure Boot V2 key digest %d -> %s (write-protected)" % (i, block),
                          ["burn-key-digest", block, str(pub_key_paths[i]), purpose], "todo"))
    if secure_version:
        steps.append(_secure_version_step(summary, secure_version))
    if disable_jtag:
        steps.append(_bool_step(summary, "DIS_PAD_JTAG", "disable pad JTAG"))
        steps.append(_bool_step(summary, "DIS_USB_JTAG", "disable USB JTAG"))
    if download_mode == "secure":
        steps.append(_bool_step(summary, "ENABLE_SECURITY_DOWNLOAD", "secure download mode"))
    elif download_mode == "disabled":
        steps.append(_bool_step(summary, "DIS_DOWNLOAD_MODE", "disable download mode"))
    if secure_boot:
        # Unused digest slots are revoked so that nobody can add a key later.
        for i in range(len(digests), 3):
            if not any(p == "SECURE_BOOT_DIGEST%d" % i for p in purposes.values()):
                steps.append(_bool_step(summary, "SECURE_BOOT_KEY_REVOKE%d" % i, "revoke unused key slot %d" % i))
        steps.append(_bool_step(summary, "SECURE_BOOT_EN", "enable Secure Boot V2"))
    return steps


def command_line(target, step):
    """The exact espefuse command of a step, as a shell line (secrets hidden)."""
    return " ".join(shlex.quote(a) for a in target.base_args() + ["--do-not-confirm"] + step.shown_args())


def _batches(steps):
    """The todo steps as espefuse runs: the virtual chip revision first (the
    key commands check it), then everything else chained in one espefuse
    call, which checks all of it before burning anything (batch mode)."""
    todo = [s for s in steps if s.state == "todo"]
    first = [s for s in todo if s.args[:2] == ["burn-efuse", "CHIP_VER_REV1"]]
    rest = [s for s in todo if s not in first]
    keys = [a for s in rest if s.args[0] != "burn-efuse" for a in s.args]
    fuses = [a for s in rest if s.args[0] == "burn-efuse" for a in s.args[1:]]
    runs = [s.args for s in first]
    if keys or fuses:
        runs.append(keys + (["burn-efuse"] + fuses if fuses else []))
    return runs


def burn(target, steps, echo):
    """Burn the "todo" steps, printing each espefuse command before it runs."""
    secrets = [s.secret_file for s in steps if s.secret_file]
    for args in _batches(steps):
        shown = [SECRET_PLACEHOLDER if a in secrets else a for a in args]
        echo("    $ %s" % " ".join(shlex.quote(a) for a in target.base_args() + ["--do-not-confirm"] + shown))
        _run(target.base_args() + ["--do-not-confirm"] + args)
