# Directories of a simulated handset's root (nvs/, flash/): made on first
# use, by the NVS files and the simulated flash alike. MicroPython's os has
# no makedirs(exist_ok=True).
import errno
import os


def ensure_dir(root, sub=None):
    """Make `root` (and `root/sub` if given) unless they exist."""
    for path in (root,) if sub is None else (root, root + "/" + sub):
        try:
            os.mkdir(path)
        except OSError as e:
            if e.args[0] != errno.EEXIST:
                raise
