"""The training loop: loss falls, resume is exact, bad states stop cleanly, outputs parse."""

import json
import math
import shutil

import numpy as np
import pytest
import torch

from neutex.config import load_config
from neutex.data.synthetic import write_synthetic_prepared
from neutex.errors import CheckpointError, ConfigError, TrainingError
from neutex.jsonio import read_json_lines
from neutex.model import ModelConfig
from neutex.run.checkpoint import load_checkpoint, resolve_checkpoint, save_checkpoint
from neutex.train.config import DataConfig, LossConfig, OptimConfig, ScheduleConfig, TrainConfig
from neutex.train.trainer import Trainer, auto_epochs


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return write_synthetic_prepared(tmp_path_factory.mktemp("prep") / "p", views=4, lights=8, res=32,
                                    sequence_frames=12)


def tiny_cfg(prepared, out, **schedule) -> TrainConfig:
    sched = dict(epochs=2, pairs_per_epoch=6, log_every=2, probe_every=4, val_images=2, sweep_frames=6)
    sched.update(schedule)
    return TrainConfig(
        out=out, data=DataConfig(path=prepared),
        model=ModelConfig(texture_res=32, unet_depth=2, unet_width=8, unet_max_width=16),
        loss=LossConfig(perceptual="off"), schedule=ScheduleConfig(**sched), seed=3)


def weights(run):
    return load_checkpoint(run / "checkpoints" / "last.pt")["model"]


def test_train_writes_a_self_describing_run(prepared, tmp_path):
    run = Trainer(tiny_cfg(prepared, tmp_path / "run")).train()
    for rel in ("config.json", "metrics.jsonl", "checkpoints/last.pt", "checkpoints/best.pt",
                "checkpoints/epoch-0001.pt", "checkpoints/epoch-0002.pt", "videos/progress.mp4",
                "videos/sweep_evolution.mp4", "videos/sweeps/epoch-0002.mp4"):
        assert (run / rel).is_file(), rel
    cfg = load_config(TrainConfig, run / "config.json")
    assert cfg.model.texture_res == 32 and cfg.seed == 3
    extra = json.loads((run / "config.json").read_text())
    assert extra["resolved"]["perceptual"] == "off" and extra["data"]["hash"]
    rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert all("epoch" in r and "iteration" in r for r in rows)
    val = [r for r in rows if r["kind"] == "val"]
    assert [r["epoch"] for r in val] == [1, 2]
    assert set(val[0]["buckets"]) == {"train", "novel_light", "novel_view", "novel_both"}
    assert math.isfinite(val[0]["buckets"]["novel_light"]["psnr"])
    assert "sweep" in val[0]["temporal"] and val[0]["temporal"]["sweep"]["tde_rel"] is not None


def test_loss_falls(prepared, tmp_path):
    cfg = tiny_cfg(prepared, tmp_path / "run", epochs=1, pairs_per_epoch=None)
    cfg.optim = OptimConfig(lr=3e-3)
    tr = Trainer(cfg)
    tr.setup()
    batch = next(iter(tr.loader))
    losses = [tr.train_step(batch)["loss"] for _ in range(40)]
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])


def test_resume_after_interruption_is_bitwise_identical(prepared, tmp_path):
    straight = Trainer(tiny_cfg(prepared, tmp_path / "a")).train()
    # interrupted mid-epoch 1 (step 4 of 6), then resumed to the end
    Trainer(tiny_cfg(prepared, tmp_path / "b", stop_after=4)).train()
    st = load_checkpoint(tmp_path / "b" / "checkpoints" / "last.pt")
    assert (st["epoch"], st["batch_in_epoch"], st["step"]) == (0, 4, 4)
    cfg = tiny_cfg(prepared, tmp_path / "b")
    cfg.resume = True
    resumed = Trainer(cfg).train()
    wa, wb = weights(straight), weights(resumed)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_existing_run_needs_resume(prepared, tmp_path):
    Trainer(tiny_cfg(prepared, tmp_path / "run", stop_after=1)).train()
    with pytest.raises(ConfigError, match="exists and is not empty") as err:
        Trainer(tiny_cfg(prepared, tmp_path / "run")).setup()
    assert "--resume" in err.value.hint


def _poison_loss_at(tr, call):
    """Make the ``call``-th generator loss of ``tr`` NaN (as a diverging model would)."""
    tr.setup()
    orig = tr.loss.generator_loss
    calls = {"n": 0}

    def poisoned(pred, batch, disc):
        calls["n"] += 1
        return orig(pred * float("nan") if calls["n"] == call else pred, batch, disc)

    tr.loss.generator_loss = poisoned
    tr.setup = lambda: None


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(prepared, tmp_path):
    tr = Trainer(tiny_cfg(prepared, tmp_path / "run", epochs=3))
    _poison_loss_at(tr, 9)  # in epoch 2, after epoch 1's checkpoint
    with pytest.raises(TrainingError, match="non-finite loss") as err:
        tr.train()
    assert str(err.value).endswith(f"the last good checkpoint is {tmp_path / 'run' / 'checkpoints' / 'last.pt'}")
    st = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert st["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in st["model"].values() if v.is_floating_point())
    # before any checkpoint, the message does not point at a file that does not exist
    tr = Trainer(tiny_cfg(prepared, tmp_path / "run0", epochs=3))
    _poison_loss_at(tr, 1)
    with pytest.raises(TrainingError, match="at epoch 1, step 0; no checkpoint was written yet$"):
        tr.train()


def test_nan_in_the_prepared_images_names_the_image(prepared, tmp_path):
    from neutex.errors import DataError

    bad = tmp_path / "prep"
    shutil.copytree(prepared, bad)
    images = np.load(bad / "arrays" / "images.npy")
    images[:, :, 16, 16] = np.nan  # on the object of every view
    np.save(bad / "arrays" / "images.npy", images)
    with pytest.raises(DataError, match=r"arrays/images\.npy: NaN or inf pixels on the object in the image of view "
                                        r"cam\d\d, light L\d\d\d$"):
        Trainer(tiny_cfg(bad, tmp_path / "run")).train()


def test_corrupt_checkpoint_gives_clear_error(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint({"model": {"w": torch.ones(3)}, "epoch": 1}, path)
    assert load_checkpoint(path)["epoch"] == 1
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CheckpointError, match="corrupt or unreadable"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="not found"):
        resolve_checkpoint(tmp_path, "best")


def test_cli_train_and_eval(prepared, tmp_path):
    from neutex.cli import entrypoint

    run = tmp_path / "run"
    rc = entrypoint(["train", "--data", str(prepared), "--out", str(run), "--epochs", "1", "--perceptual", "off",
                     "--model.conditioning", "concat", "--model.texture-res", "32", "--model.unet-depth", "2",
                     "--model.unet-width", "8", "--schedule.pairs-per-epoch", "4", "--schedule.val-images", "2",
                     "--schedule.sweep-frames", "6"])
    assert rc == 0
    assert load_config(TrainConfig, run / "config.json").model.conditioning == "concat"
    assert entrypoint(["eval", str(run), "--checkpoint", "last", "--max-images", "3"]) == 0
    ev = json.loads((run / "eval.json").read_text())
    for bucket in ("novel_light", "novel_view", "novel_both"):
        m = ev["buckets"][bucket]
        assert {"n", "mae", "mse", "psnr", "ssim", "psnr_tonemapped"} <= set(m)
        assert set(ev["baselines"]["nearest_light"][bucket]) >= {"psnr", "mae"}
    t = ev["temporal"]["sweep"]
    assert {"tde", "tde_rel", "jump_index", "jump_index_gt", "worst_frame", "flagged_frames"} <= set(t)
    # a missing run is one red line and exit code 2
    assert entrypoint(["eval", str(tmp_path / "nope")]) == 2


def test_auto_epochs_scales_with_data():
    assert auto_epochs(100, 1, 3000) == 30
    assert auto_epochs(10_000, 1, 3000) == 2
    assert auto_epochs(10, 1, 3000) == 60


def test_remedies_ema_smoothness_jitter(prepared, tmp_path):
    from neutex.run.load import load_run
    from neutex.train.config import RemediesConfig

    cfg = tiny_cfg(prepared, tmp_path / "run", epochs=1)
    cfg.remedies = RemediesConfig(ema=0.5, light_smoothness=1.0, smoothness_angle_deg=10.0, light_jitter_deg=5.0)
    tr = Trainer(cfg)
    tr.setup()
    batch = next(iter(tr.loader))
    jittered = tr._augment(batch)
    assert not torch.allclose(jittered["light_source"], batch["light_source"])  # light moved...
    assert torch.equal(jittered["target"], batch["target"])  # ...the photograph did not
    logs = tr.train_step(batch)
    assert logs["smoothness"] > 0
    ema = dict(tr.ema.named_parameters())
    diff = [not torch.equal(p, ema[n]) for n, p in tr.model.named_parameters()]
    assert any(diff)  # EMA lags the trained weights
    tr2 = Trainer(tiny_cfg(prepared, tmp_path / "run2", epochs=1))
    tr2.cfg.remedies = cfg.remedies
    run = tr2.train()
    st = load_checkpoint(run / "checkpoints" / "last.pt")
    assert st["ema"] is not None
    loaded = load_run(run, "last")
    key = next(iter(st["ema"]))
    assert torch.equal(loaded.model.state_dict()[key], st["ema"][key])  # eval/render use the EMA copy


def test_images_of_any_size_train_with_the_default_depth(tmp_path):
    """48² with the default 5-level UNet (48 is not a multiple of 32): padded inside the UNet,
    cropped back, the padding never in a loss or a metric; the texture resolution from the data."""
    prepared = write_synthetic_prepared(tmp_path / "p48", views=3, lights=6, res=48)
    cfg = tiny_cfg(prepared, tmp_path / "run", epochs=1, pairs_per_epoch=3)
    cfg.model = ModelConfig(unet_width=4, unet_max_width=8)
    assert cfg.model.unet_depth == 5 and cfg.model.texture_res is None
    run = Trainer(cfg).train()
    saved = load_config(TrainConfig, run / "config.json").model
    assert saved.texture_res is not None and saved.texture_res & (saved.texture_res - 1) == 0
    val = [r for r in read_json_lines(run / "metrics.jsonl") if r.get("kind") == "val"][-1]
    assert all(m["psnr"] is None or math.isfinite(m["psnr"]) for m in val["buckets"].values())


def test_batch_norm_on_a_one_pixel_bottleneck_is_refused_before_training(tmp_path):
    """32² under the default 5 levels leaves a 1 × 1 innermost level: batch norm at batch 1 has
    one value per channel there (torch: a ValueError mid-step); refuse it at setup, naming why."""
    prepared = write_synthetic_prepared(tmp_path / "p32", views=3, lights=4, res=32)
    cfg = tiny_cfg(prepared, tmp_path / "run", epochs=1, pairs_per_epoch=2)
    cfg.model = ModelConfig(unet_width=4, unet_max_width=8, norm="batch")
    with pytest.raises(ConfigError, match="innermost level is 1x1 with batch size 1"):
        Trainer(cfg).train()
    cfg.schedule.batch_size = 2  # two values per channel: allowed
    cfg.out = tmp_path / "run2"
    Trainer(cfg).train()
