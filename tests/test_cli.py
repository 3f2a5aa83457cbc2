"""``neutex --help`` stays instant: importing the CLI and building its parser (for every
subcommand's help, and ``train --model.preset``) imports no torch, nor any other heavy library a
command drives."""

import json
import subprocess
import sys

import pytest

from neutex.cli import COMMANDS

#: what a command imports only when it runs (torch, the renderers, plotting, the web viewer).
HEAVY = ("torch", "mitsuba", "drjit", "moderngl", "matplotlib", "viser")
#: the command lines checked, in one fresh interpreter, one after the other.
ARGVS = [["--help"], *([name, "--help"] for name, _, _ in COMMANDS), ["train", "--model.preset", "exp1", "--help"]]

_CODE = """
import contextlib, io, json, sys
heavy = lambda: sorted(m for m in {heavy!r} if m in sys.modules)
from neutex.cli import entrypoint
loaded = {{"import neutex.cli": heavy()}}
for argv in {argvs!r}:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            entrypoint(argv)
        except SystemExit as exc:
            assert exc.code == 0, (argv, exc.code)
    assert "usage: neutex" in out.getvalue(), argv
    loaded["neutex " + " ".join(argv)] = heavy()
print(json.dumps(loaded))
"""


@pytest.fixture(scope="module")
def loaded() -> dict[str, list[str]]:
    """``{step: heavy modules loaded after it}`` (cumulative) for the import and each of ARGVS."""
    code = _CODE.format(heavy=HEAVY, argvs=ARGVS)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


@pytest.mark.parametrize("step", ["import neutex.cli", *("neutex " + " ".join(a) for a in ARGVS)])
def test_loads_no_heavy_library(loaded, step):
    assert loaded[step] == []
