"""What the bench's measurements share: the model a mode measures, a trainer set up for timing
its step, a few batches, and the shape of a result row (used by :mod:`neutex.bench.suite` and
:mod:`neutex.bench.ddp`)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from neutex.model.config import ModelConfig, model_configs
from neutex.train.config import DataConfig, LossConfig, ScheduleConfig, TrainConfig
from neutex.train.trainer import Trainer


def bench_model(mode: str) -> ModelConfig:
    """The model a bench mode measures: ``multiply`` / ``concat`` are the origin's exp1 / exp2
    (what the bench has always compared with the origin's step), ``neutex`` the default."""
    name = {"multiply": "exp1", "concat": "exp2"}.get(mode, mode)
    return model_configs[name].replace(texture_res=model_configs[name].texture_res or 512)


def make_trainer(data_root: Path, out: Path, mode: str, precision: str, gan: bool, threads: int | None = None,
                 batch_size: int = 1, device: str = "cpu"):
    """A real :class:`~neutex.train.trainer.Trainer` set up for timing ``train_step``: random
    VGG19 weights (the same cost as real ones), no logging, probes or validation during steps,
    the GAN with feature matching when ``gan``, and VGG in bf16 when ``precision`` is bf16.
    In a process of a gloo group (the ``ddp_step`` bench) it is that rank's trainer; ``device``
    ``cuda`` for the GPU table (``neutex bench --device cuda``)."""
    cfg = TrainConfig(
        out=out, data=DataConfig(path=data_root), model=bench_model(mode),
        loss=LossConfig(perceptual="random", gan=gan, feature_matching_weight=1.0 if gan else 0.0,
                        vgg_bf16=precision == "bf16"),
        schedule=ScheduleConfig(epochs=1, log_every=10**9, probe_every=10**9, val_images=1, sweep_frames=2,
                                batch_size=batch_size),
        precision=precision, device=device, threads=threads,  # type: ignore[arg-type]
    )
    trainer = Trainer(cfg, console=Console(stderr=True, quiet=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.setup()
    trainer.model.train()
    return trainer


def first_batches(loader, k: int = 4) -> list[dict[str, torch.Tensor]]:
    loader.set_epoch(0)
    return [b for _, b in zip(range(k), loader)]


def result_row(name: str, t: dict[str, float], gflop: float | None = None, per: float = 1.0, **keys: Any) -> dict[str, Any]:
    """A result row: ``keys`` first (res, mode, ...), then ms (median), gflop, per_s (``per``
    items per call / median seconds) and the extras."""
    row: dict[str, Any] = {"name": name, **{k: v for k, v in keys.items() if v is not None}}
    row["ms"] = t["ms"]
    if gflop is not None:
        row["gflop"] = gflop
        row["gflop_per_s"] = gflop / (t["ms"] / 1e3)
    row["per_s"] = per / (t["ms"] / 1e3)
    row["ms_best"] = t["ms_best"]
    row["n"] = t["n"]
    return row
