"""`neutex import diligent SRC --out DIR` through the real entry point: exit codes, one red line."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import neutex.cli
from neutex.capture import load_capture


@dataclass
class _Other:
    """A stand-in second command: a one-member Union would not make `import` a subcommand."""

    x: int = 0

    def main(self) -> None:
        pass


@pytest.fixture
def cli(monkeypatch):
    monkeypatch.setattr(neutex.cli, "COMMANDS", [("import", "neutex.capture.importers.command", "ImportCommand"),
                                                 ("other", __name__, "_Other")])
    return neutex.cli.entrypoint


def test_import_is_registered():
    assert ("import", "neutex.capture.importers.command", "ImportCommand") in neutex.cli.COMMANDS


def test_import_diligent(cli, diligent_dir, tmp_path, capsys):
    out = tmp_path / "cap"
    assert cli(["import", "diligent", str(diligent_dir), "--out", str(out), "--grid-rows", "3"]) == 0
    cap = load_capture(out)
    assert len(cap.lights) == 12 and len(cap.sequences) == 3
    assert "wrote" in capsys.readouterr().out
    assert cli(["import", "diligent", str(diligent_dir), "--out", str(tmp_path / "b"), "--no-sequences",
                "--no-divide-intensity"]) == 0
    cap_b = load_capture(tmp_path / "b")
    assert cap_b.sequences == [] and cap_b.generator["divided_by_intensity"] is False


@pytest.mark.parametrize("case, expect", [
    ("missing image", "005.png: file not found (filenames.txt line 5)"),
    ("rows", "light_directions.txt: wrong number of light rows: --grid-rows 5, but the lights form 3 rows"),
    ("exists", "capture.json: already exists"),
])
def test_bad_input_is_one_red_line(cli, diligent_dir, tmp_path, capsys, case, expect):
    args = ["import", "diligent", str(diligent_dir), "--out", str(tmp_path / "cap")]
    if case == "missing image":
        (diligent_dir / "005.png").unlink()
    elif case == "rows":
        args += ["--grid-rows", "5"]
    else:
        assert cli(args) == 0
        capsys.readouterr()
    assert cli(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: ") and expect in lines[0], err
    if case == "exists":
        assert lines[1:] == ["fix: pass --overwrite or choose another --out"]
    else:
        assert len(lines) == 1, err


def test_import_help_lists_diligent(cli, capsys):
    with pytest.raises(SystemExit) as e:
        cli(["import", "--help"])
    assert e.value.code == 0
    assert "diligent" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli(["import", "diligent", "--help"])
    help_text = capsys.readouterr().out
    assert "--grid-rows" in help_text and "--no-sequences" in help_text and "--overwrite" in help_text
