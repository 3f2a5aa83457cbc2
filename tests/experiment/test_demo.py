"""``neutex demo`` / ``neutex experiment``: command-line plumbing. The whole pipeline from
``neutex synth`` to the report runs by default in tests/test_end_to_end.py at a tiny size; the
demo itself (its 8-view scene, three variants) at scale tiny is a slow test."""

import json

import pytest

from neutex.errors import ConfigError
from neutex.experiment.command import parse_sets


def test_parse_sets():
    assert parse_sets(["schedule.epochs=4", "loss.gan=true", "optim.milestones=[2, 4]", "model.norm=none"]) == {
        "schedule.epochs": 4, "loss.gan": True, "optim.milestones": [2, 4], "model.norm": "none"}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_sets(["schedule.epochs"])


def test_experiment_cli_with_set_and_rerun(tmp_path, tiny_prepared, suite_file, capsys):
    from neutex.cli import entrypoint

    path = suite_file({"a": {}})
    args = ["experiment", str(path), "--out", str(tmp_path / "x"), "--data", str(tiny_prepared), "--scale", "tiny",
            "--no-report", "--no-progress", "--set", "schedule.epochs=1"]
    assert entrypoint(args) == 0
    out = capsys.readouterr().out
    assert "novel_light" in out and "summary:" in out
    s = json.loads((tmp_path / "x" / "summary.json").read_text())
    assert s["overrides"] == {"schedule.epochs": 1} and s["variants"][0]["resolved"]["epochs"] == 1


@pytest.mark.slow
def test_demo_tiny_end_to_end(tmp_path, capsys):
    from neutex.cli import entrypoint

    out = tmp_path / "demo"
    assert entrypoint(["demo", "--out", str(out), "--scale", "tiny"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert [v["name"] for v in s["variants"]] == ["neutex", "exp1", "exp2"] and s["data"]["synthesised"]
    assert (out / "capture" / "capture.json").is_file() and (out / "report.html").is_file()
    assert "report:" in capsys.readouterr().out
