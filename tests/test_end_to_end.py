"""The whole pipeline through the command line, at a tiny size, in the default suite (after
nerfstudio's tests/test_train.py): ``neutex synth`` (Mitsuba: 2 views x 6 lights at 32², one
8-frame ground-truth sweep) -> ``prepare`` -> ``experiment`` (train 2 short epochs, evaluate,
report) -> ``eval`` -> ``render`` (a sweep and the ground-truth sequence); then every output is
parsed."""

import json

import numpy as np
import pytest
import yaml

from neutex.cli import entrypoint
from neutex.render.video import read_video

#: 2 epochs of 3 steps of a tiny model, one thread: the pipeline's plumbing, not its quality.
TINY_TRAIN = {
    "loss": {"perceptual": "off"},
    "schedule": {"epochs": 2, "pairs_per_epoch": 3, "val_images": 2, "sweep_frames": 6, "log_every": 1,
                 "probe_every": 3},
    "model": {"texture_res": 32, "unet_width": 4, "unet_depth": 2, "unet_max_width": 8},
    "threads": 1,
}


def _run(*args) -> None:
    assert entrypoint([str(a) for a in args]) == 0, args


def test_synth_prepare_train_eval_render_report(tmp_path, egl, capsys):
    cap, prep, exp = tmp_path / "cap", tmp_path / "prep", tmp_path / "exp"
    _run("synth", "--preset", "demo", "--views", "2", "--lights-per-face", "1", "--res", "32", "--spp", "2",
         "--sweep-frames", "8", "--sweep-cameras", "1", "--no-progress", "--out", cap)
    capture = json.loads((cap / "capture.json").read_text())
    assert len(capture["cameras"]) == 2 and len(capture["frames"]) == 2 * 6 and len(capture["sequences"]) == 1

    _run("prepare", cap, "--out", prep, "--no-progress")
    prepared = json.loads((prep / "prepared.json").read_text())
    assert (prepared["num_views"], prepared["num_lights"], prepared["width"]) == (2, 6, 32)
    assert np.load(prep / "arrays" / "images.npy", mmap_mode="r").shape == (2, 6, 32, 32, 3)

    suite = tmp_path / "e2e.yaml"
    suite.write_text(yaml.safe_dump({"name": "e2e", "split": {"view_fraction": 0.875, "light_fraction": 0.875},
                                     "base": TINY_TRAIN, "variants": {"neutex": {}}}))
    _run("experiment", suite, "--data", prep, "--out", exp, "--scale", "tiny", "--no-progress")
    summary = json.loads((exp / "summary.json").read_text())
    (variant,) = summary["variants"]
    run = exp / variant["run"]
    assert variant["status"] == "trained" and variant["resolved"]["epochs"] == 2
    assert set(variant["buckets"]) == {"train", "novel_light", "novel_view", "novel_both"}
    assert "<video" in (exp / "report.html").read_text()
    for rel in (*summary["report"]["files"]["grids"][variant["split"]].values(),
                summary["report"]["files"]["videos"][0]["file"]):
        assert (exp / rel).stat().st_size > 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows if r["kind"] == "val"] == [1, 2]

    _run("eval", run, "--checkpoint", "last")
    ev = json.loads((run / "eval.json").read_text())
    assert ev["epoch"] == 2 and {"sweep_cam00"} == set(ev["temporal"])
    assert all(np.isfinite(m["psnr"]) for m in ev["buckets"].values())

    _run("render", run, "--out", tmp_path / "sweep.mp4", "--frames", "6", "--checkpoint", "last")
    assert read_video(tmp_path / "sweep.mp4").shape == (6, 32, 32, 3)
    _run("render", run, "--kind", "sequence", "--out", tmp_path / "seq.mp4", "--checkpoint", "last")
    seq = json.loads((tmp_path / "seq.json").read_text())
    assert seq["sequence"] == "sweep_cam00" and seq["frames"] == 8 and seq["temporal"]["tde_rel"] is not None
    assert read_video(tmp_path / "seq.mp4").shape[0] == 8
    assert "error:" not in capsys.readouterr().err


@pytest.mark.parametrize("step", ["eval", "render"])
def test_a_folder_that_is_not_a_run_is_one_line_and_exit_code_2(tmp_path, step, capsys):
    args = [step, str(tmp_path)] + (["--out", str(tmp_path / "x.mp4")] if step == "render" else [])
    assert entrypoint(args) == 2
    err = capsys.readouterr().err
    assert "not a run folder" in err and len([line for line in err.splitlines() if "error:" in line]) == 1
