"""One provisioning station for the shared-inventory tests: provisions
COUNT simulated handsets in turn through the `hushctl provision` command
(in this process, as a station's loop would run it) and prints one JSON
line per attempt: {"sim": DIR, "rc": exit status, "error": stderr}.

    python tests/host/provision_station.py KEYS PASSFILE INVENTORY OUTDIR COUNT [SERIAL]
"""
import contextlib
import io
import json
import sys

from hushctl.cli import main


def station(keys, passfile, inventory, outdir, count, serial=None):
    for i in range(count):
        sim = "%s/h%03d" % (outdir, i)
        args = ["provision", "--keys", keys, "--passphrase-file", passfile, "--board", "sim", "--sim", sim,
                "--inventory", inventory]
        if serial:
            args += ["--serial", serial]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(args)
        print(json.dumps({"sim": sim, "rc": rc, "error": err.getvalue().strip()}), flush=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    station(a[0], a[1], a[2], a[3], int(a[4]), a[5] if len(a) > 5 else None)
