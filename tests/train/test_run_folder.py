"""Run folders and interruptions: every state of a run folder leads somewhere, Ctrl-C exits
130 with a checkpoint, stale temporary checkpoints go, bad settings stop before any work."""

import json
import math
import os

import numpy as np
import pytest

from neutex.cli import entrypoint
from neutex.data.synthetic import write_synthetic_prepared
from neutex.errors import ConfigError
from neutex.run.checkpoint import load_checkpoint
from neutex.train.config import OptimConfig, ScheduleConfig, TrainConfig
from neutex.train.trainer import Trainer


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return write_synthetic_prepared(tmp_path_factory.mktemp("prep") / "p", views=4, lights=8, res=16)


def train_args(prepared, out, *extra):
    return ["train", "--data", str(prepared), "--out", str(out), "--epochs", "2", "--perceptual", "off", "--seed", "3",
            "--model.texture-res", "16", "--model.unet-depth", "2", "--model.unet-width", "4",
            "--model.unet-max-width", "8", "--schedule.pairs-per-epoch", "3", "--schedule.val-images", "2",
            "--schedule.sweep-frames", "4", "--schedule.log-every", "1", "--threads", "1", *extra]


def unwrapped(capsys) -> str:
    """stderr with rich's wrapping at 80 columns undone (it keeps the space before each break)."""
    return capsys.readouterr().err.replace("\n", "")


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_ctrl_c_writes_a_checkpoint_and_exits_130(prepared, tmp_path, monkeypatch, capsys):
    calls = {"n": 0}
    orig = Trainer.train_step

    def interrupted(self, batch):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return orig(self, batch)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    assert entrypoint(train_args(prepared, tmp_path / "run")) == 130  # `train && eval` stops here
    st = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert (st["epoch"], st["step"]) == (0, 2)
    assert "checkpoint written; continue with --resume" in unwrapped(capsys)
    monkeypatch.setattr(Trainer, "train_step", orig)
    assert entrypoint(train_args(prepared, tmp_path / "run", "--resume")) == 0
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["epoch"] == 2


def test_a_run_that_failed_at_step_0_is_started_afresh(prepared, tmp_path, capsys):
    """It left config.json (and a metrics file) but no checkpoint: re-running it, with or without
    --resume, must not be refused both ways."""
    run = tmp_path / "run"
    cfg = TrainConfig(out=run, seed=3, threads=1)
    cfg.data.path = prepared
    cfg.loss.perceptual = "off"
    cfg.schedule = ScheduleConfig(epochs=2, pairs_per_epoch=3, val_images=2, sweep_frames=4)
    tr = Trainer(cfg)
    tr.setup()  # writes config.json, as the failed run did
    (run / "metrics.jsonl").write_text('{"epoch": 1, "iteration": 1, "kind": "train", "loss": 1.0}\n')
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "metrics.jsonl"]
    for extra in ((), ("--resume",)):
        assert entrypoint(train_args(prepared, run, "--schedule.stop-after", "1", *extra)) == 0, extra
        assert "holds no checkpoint (a run that stopped before its first): starting it afresh" in unwrapped(capsys)
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert [r["iteration"] for r in rows if r["kind"] == "train"] == [1]  # the old line is gone
        (run / "checkpoints" / "last.pt").unlink()  # back to "no checkpoint" for the second pass


def test_run_folders_that_are_refused_say_how_to_go_on(prepared, tmp_path, capsys):
    run = tmp_path / "run"
    assert entrypoint(train_args(prepared, run, "--schedule.stop-after", "1")) == 0
    capsys.readouterr()
    assert entrypoint(train_args(prepared, run)) == 2  # has a checkpoint: --resume
    assert "run folder exists and is not empty (checkpoints up to last.pt)" in error_line(capsys)
    assert entrypoint(train_args(prepared, tmp_path / "nothing", "--resume")) == 2
    assert "nothing to resume (no run folder there)" in error_line(capsys)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    for extra in ((), ("--resume",)):
        assert entrypoint(train_args(prepared, mine, *extra)) == 2
        assert "holds notes.txt, which is not a neutex run's" in error_line(capsys)
    assert (mine / "notes.txt").read_text() == "keep" and sorted(os.listdir(mine)) == ["notes.txt"]


def test_resume_with_other_settings_is_refused_naming_them(prepared, tmp_path, capsys):
    run = tmp_path / "run"
    assert entrypoint(train_args(prepared, run, "--model.conditioning", "concat", "--schedule.stop-after", "1")) == 0
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert entrypoint(train_args(prepared, run, "--resume", "--optim.lr", "0.001")) == 2
    line = error_line(capsys)
    assert f"{run / 'config.json'}: the run was made with other settings than these" in line
    assert "model.conditioning: 'concat' -> 'multiply'" in line and "optim.lr: 0.0005 -> 0.001" in line
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before  # refused before any work


def test_stale_temporary_checkpoints_are_removed(prepared, tmp_path, capsys):
    run = tmp_path / "run"
    assert entrypoint(train_args(prepared, run, "--schedule.stop-after", "1")) == 0
    ck = run / "checkpoints"
    dead = 2**22 + 12345  # above pid_max's default: no such process
    stale = [ck / f".epoch-0001.pt.tmp-{dead}", ck / f".last.pt.tmp-{dead + 1}"]
    live = ck / f".best.pt.tmp-{os.getppid()}"  # a running process may still be writing it
    other = [ck / "notes.tmp", run / f".last.pt.tmp-{dead}"]  # not ours, or not in checkpoints/
    for p in (*stale, live, *other):
        p.write_bytes(b"x" * 100)
    assert entrypoint(train_args(prepared, run, "--resume")) == 0
    assert not any(p.exists() for p in stale)
    assert live.exists() and all(p.exists() for p in other)
    assert f"removed {stale[0]} (a checkpoint whose writer was killed)" in unwrapped(capsys)


def test_eval_before_the_first_checkpoint_says_so(prepared, tmp_path, capsys):
    run = tmp_path / "run"
    tr = Trainer(TrainConfig(out=run, threads=1))
    tr.cfg.data.path = prepared
    tr.setup()  # config.json, no checkpoint (as after kill -9 during the first one)
    assert entrypoint(["eval", str(run)]) == 2
    assert error_line(capsys) == f"error: {run}: no checkpoint yet (training stopped before it wrote the first one)"


def test_epoch_summary_with_an_unmeasurable_bucket(prepared, tmp_path, capsys):
    """A held-out view whose pixels are all invalid (saturated) has no PSNR: the epoch line says
    '-' for it instead of failing to format None."""
    import shutil

    data = tmp_path / "prep"
    shutil.copytree(prepared, data)
    meta = json.loads((data / "prepared.json").read_text())
    held = meta["view_ids"].index(json.loads((data / "splits.json").read_text())["held_out_views"][0])
    valid = np.ones((4, 8, 16, 16), bool)
    valid[held] = False
    np.save(data / "arrays" / "valid.npy", valid)
    meta["valid"] = True
    meta["arrays"]["valid"] = {"file": "arrays/valid.npy", "shape": [4, 8, 16, 16], "dtype": "bool"}
    (data / "prepared.json").write_text(json.dumps(meta))
    assert entrypoint(train_args(data, tmp_path / "run", "--epochs", "1")) == 0
    assert "novel_view -  novel_both -" in unwrapped(capsys)


@pytest.mark.parametrize("name", ["lr", "texture_lr", "disc_lr"])
@pytest.mark.parametrize("value", [math.nan, math.inf, 0.0, -1e-3])
def test_learning_rates_must_be_positive_and_finite(name, value):
    with pytest.raises(ConfigError, match=rf"^optim\.{name}: must be a positive number, got"):
        OptimConfig(**{name: value})


@pytest.mark.parametrize("field, flag", [("pairs_per_epoch", "--schedule.pairs-per-epoch"),
                                         ("val_images", "--schedule.val-images"),
                                         ("log_every", "--schedule.log-every"),
                                         ("probe_every", "--schedule.probe-every")])
def test_zero_is_not_unset(field, flag):
    with pytest.raises(ConfigError, match=rf"^schedule\.{field}: must be >= 1, got 0$") as err:
        ScheduleConfig(**{field: 0})
    assert flag in err.value.hint
    with pytest.raises(ConfigError, match=r"^threads: must be >= 1, got 0$") as err:
        TrainConfig(threads=0)
    assert "--threads" in err.value.hint


def test_paths_with_brackets_print_as_they_are(prepared, tmp_path, capsys):
    run = tmp_path / "scan [v2]" / "run [red]x[/red]"
    assert entrypoint(train_args(prepared, run, "--schedule.stop-after", "1")) == 0
    err = unwrapped(capsys)
    assert f"training {run}:" in err
    assert entrypoint(train_args(prepared, run)) == 2
    assert f"error: {run}: run folder exists" in error_line(capsys)
