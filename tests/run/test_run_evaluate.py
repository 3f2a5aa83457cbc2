"""The one evaluator: every path that measures a model measures it the same way.

- ``neutex eval`` (:func:`~neutex.eval.evaluate.evaluate_buckets`) on the trainer's validation
  images gives the numbers the trainer logged for the same checkpoint;
- the report's sweep video and ``neutex render RUN --kind sequence --frames N`` are the same
  frames of the same sequence with the same temporal metrics.
"""

import io
import math
from pathlib import Path

import pytest
import torch
from rich.console import Console

from neutex.data.synthetic import write_synthetic_prepared
from neutex.eval.evaluate import evaluate_buckets
from neutex.model.config import ModelConfig
from neutex.render.config import RenderConfig
from neutex.render.pipeline import render_video
from neutex.report.media import SWEEP_MAX_FRAMES, sweep_videos
from neutex.run.load import load_run, read_metrics
from neutex.train.config import DataConfig, LossConfig, ScheduleConfig, TrainConfig
from neutex.train.trainer import Trainer

#: a ground-truth sweep longer than the report's cap, so both sides subsample it.
SEQUENCE_FRAMES = 2 * SWEEP_MAX_FRAMES + 7


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``(trainer, run folder)``: one epoch of a tiny model on a 4-view sphere with a long sweep."""
    root = tmp_path_factory.mktemp("evaluate")
    data = write_synthetic_prepared(root / "prep", views=4, lights=8, res=16, sequence_frames=SEQUENCE_FRAMES)
    cfg = TrainConfig(out=root / "run", data=DataConfig(path=data), device="cpu", threads=1,
                      model=ModelConfig(texture_res=16, unet_depth=2, unet_width=4, unet_max_width=8),
                      loss=LossConfig(perceptual="off"),
                      schedule=ScheduleConfig(epochs=1, pairs_per_epoch=3, val_images=3, sweep_frames=6,
                                              probe_every=100))
    trainer = Trainer(cfg, console=Console(file=io.StringIO()))
    return trainer, trainer.train()


def test_neutex_eval_and_the_trainers_validation_agree(trained):
    trainer, run = trained
    logged = [r for r in read_metrics(run) if r["kind"] == "val"][-1]["buckets"]
    measured, _ = evaluate_buckets(load_run(run, "last", "cpu"), pairs=trainer.val_pairs)
    assert set(measured) == set(logged) == set(trainer.val_pairs)
    for bucket, row in logged.items():
        assert measured[bucket]["n"] == row["n"] == len(trainer.val_pairs[bucket])
        for key in ("mae", "mse", "psnr", "ssim", "psnr_tonemapped"):
            assert math.isfinite(row[key])
            assert measured[bucket][key] == pytest.approx(row[key], rel=1e-5, abs=1e-7), (bucket, key)


def test_the_reports_sweep_is_the_one_neutex_render_writes(trained, tmp_path):
    _, run = trained
    summary = {"variants": [{"name": "a"}], "report": {"files": {}}}
    sweep_videos(summary, {"a": load_run(run, "last", "cpu")}, tmp_path, log=lambda s: None)
    (video,) = summary["report"]["files"]["videos"]
    res = render_video(RenderConfig(run=run, out=tmp_path / "seq.mp4", kind="sequence", frames=SWEEP_MAX_FRAMES,
                                    checkpoint="last", device="cpu"))
    rendered = res.summary
    assert rendered["sequence"] == video["name"] == "sweep"
    assert rendered["sequence_frames"] == video["sequence_frames"]
    assert 1 < len(video["sequence_frames"]) <= SWEEP_MAX_FRAMES < SEQUENCE_FRAMES
    report_tm, render_tm = video["temporal"]["a"], rendered["temporal"]
    assert set(report_tm) == set(render_tm)
    for key, value in report_tm.items():
        if isinstance(value, float):
            assert render_tm[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
        else:
            assert render_tm[key] == value, key


def test_a_data_path_that_does_not_exist_is_refused_not_replaced(trained, tmp_path):
    """``--data`` names the dataset to use: when it is missing, the run's own dataset must not be
    read in its place (scores would silently belong to other images)."""
    from neutex.errors import DataError

    _, run = trained
    with pytest.raises(DataError, match="missing-prep"):
        load_run(run, "last", "cpu", tmp_path / "missing-prep")
    assert load_run(run, "last", "cpu").data.root == Path(run.parent / "prep")


@pytest.mark.parametrize("preset", ["exp1", "exp2"])
def test_a_run_from_before_the_input_registry_loads_as_its_origin_preset(preset):
    """Such config.json files have no ``inputs`` and always recorded the multiply channel map,
    concat runs included: both presets must come back as they were trained."""
    from neutex.config import config_from_dict, config_to_dict
    from neutex.model.config import model_configs
    from neutex.run.load import upgrade_config_dict

    old = config_to_dict(model_configs[preset])
    for k in ("inputs", "texture_init", "shadows", "residual", "preset"):
        old.pop(k)
    old["channel_map"] = [[0, 3, "normal"], [3, 6, "light_dir"], [6, 9, "view_dir"]]
    cfg = config_from_dict(TrainConfig, upgrade_config_dict({"model": old, "data": {"path": "x"}}))
    assert cfg.model.preset == preset and cfg.model.conditioning == model_configs[preset].conditioning
    assert [s.name for s in cfg.model.slots()] == [s.name for s in model_configs[preset].slots()]


def test_frames_per_pass_are_capped_by_pixels_for_large_images():
    """Every path that renders (validation, eval, render, viewer) batches at most 8 Mpixels a pass."""
    from neutex.run.predict import RENDER_PIXELS, FrameRenderer

    r = FrameRenderer(torch.nn.Identity(), "linear", batch_size=8)
    assert r._per_pass(64, 64) == 8 and r._per_pass(2048, 2048) == RENDER_PIXELS // 2048**2 == 2
    assert r._per_pass(8192, 8192) == 1  # never zero
