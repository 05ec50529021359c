"""Output files that appear whole or not at all: written to a temporary file
in the same directory, flushed to disk, then renamed over the target."""
import os
import tempfile
from pathlib import Path

from hushctl.errors import HushctlError


def check_writable(path, directory=False):
    """Fail early, with one line, if the file (or directory) `path` cannot
    be written later."""
    path = Path(path)
    if directory and path.is_dir():
        parent = path
    else:
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
    if (path.is_dir() and not directory) or not parent.is_dir() or not os.access(parent, os.W_OK):
        raise HushctlError("cannot write %s" % path)


def write_bytes(path, data, mode=0o644):
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".%s." % path.name, suffix=".tmp", dir=str(path.parent))
    except OSError as e:
        raise HushctlError("cannot write %s: %s" % (path, e.strerror))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text(path, text, mode=0o644):
    write_bytes(path, text.encode("utf-8"), mode)


def write_secret(path, data):
    """A private key file (already encrypted): readable by the owner only."""
    write_bytes(path, data, mode=0o600)
