"""``neutex --help`` stays instant: building the CLI's parser (for every subcommand's help, and
``train --model.preset``) imports no torch, nor any other heavy library a command drives."""

import subprocess
import sys

import pytest

from neutex.cli import COMMANDS

#: what a command imports only when it runs (torch, the renderers, plotting, the web viewer).
HEAVY = ("torch", "mitsuba", "drjit", "moderngl", "matplotlib", "viser")

_CODE = """
import contextlib, io, sys
from neutex.cli import entrypoint
for argv in {argvs!r}:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            entrypoint(argv)
        except SystemExit as exc:
            assert exc.code == 0, (argv, exc.code)
    assert "usage: neutex" in out.getvalue(), argv
print(sorted(m for m in {heavy!r} if m in sys.modules))
"""


def _heavy_loaded_by(*argvs: list[str]) -> str:
    """The heavy libraries loaded by importing neutex.cli and running ``neutex ARGV`` for each."""
    code = _CODE.format(argvs=list(argvs), heavy=HEAVY)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_importing_the_cli_loads_no_heavy_library():
    assert _heavy_loaded_by() == "[]"


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["train", "--model.preset", "exp1", "--help"]])
def test_help_loads_no_heavy_library(argv):
    assert _heavy_loaded_by(argv) == "[]"


def test_every_subcommands_help_loads_no_heavy_library():
    assert _heavy_loaded_by(*([name, "--help"] for name, _, _ in COMMANDS)) == "[]"
