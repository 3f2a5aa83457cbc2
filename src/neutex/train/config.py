"""The training config: typed dataclasses turned into the ``neutex train`` CLI by tyro.

``TrainConfig`` holds ``data``, ``model``, ``loss``, ``disc``, ``optim``, ``schedule`` and
``remedies``; the run folder gets the fully resolved config as ``config.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import tyro

from neutex.color import Encoding
from neutex.errors import ConfigError
from neutex.model.config import DiscriminatorConfig, ModelConfig
from neutex.train.losses import LossConfig


#: fields that steer a run but do not change what it learns: a finished run trained with other
#: values of these is still the same experiment (see :func:`neutex.config.config_difference`).
CONTROL_KEYS = ("out", "data.path", "resume", "schedule.stop_after", "threads", "device")


@dataclass
class DataConfig:
    """Which prepared dataset to train on and how targets are encoded."""

    path: Annotated[Path, tyro.conf.arg(aliases=("--data",))] = Path("prepared")
    """Prepared dataset folder (written by ``neutex prepare``)."""
    encoding: Encoding = "log"
    """Target encoding the renderer learns: log (origin, HDR-friendly), linear or srgb."""


def _check_at_least(name: str, value: int | None, minimum: int, unset: str = "") -> None:
    """Raise a :class:`ConfigError` naming the field and its flag unless ``value`` is None or
    at least ``minimum``; ``unset`` says what leaving an optional flag out does."""
    if value is not None and value < minimum:
        flag = "--" + name.replace("_", "-")
        raise ConfigError(f"{name}: must be >= {minimum}, got {value}",
                          hint=f"pass {flag} with a value >= {minimum}" + (f", or leave it out {unset}" if unset else ""))


@dataclass
class OptimConfig:
    """Adam with the origin's step schedule: 5e-4, then x0.2 from epoch 6."""

    lr: float = 5e-4
    """Initial learning rate (renderer; the texture too unless ``texture_lr`` is set)."""
    texture_lr: float | None = None
    """Learning rate of the neural texture (None: ``lr``); follows the same schedule."""
    milestones: tuple[int, ...] = (6,)
    """Epochs after which the learning rate is multiplied by ``gamma``."""
    gamma: float = 0.2
    """Learning-rate factor at each milestone (5e-4 -> 1e-4)."""
    betas: tuple[float, float] = (0.9, 0.999)
    """Adam betas."""
    disc_lr: float = 2e-4
    """Discriminator learning rate (only with ``--loss.gan``)."""

    def __post_init__(self) -> None:
        for name in ("lr", "texture_lr", "disc_lr"):
            v = getattr(self, name)
            if v is not None and not (v > 0 and v < float("inf")):
                raise ConfigError(f"optim.{name}: must be a positive number, got {v}")
        if list(self.milestones) != sorted(self.milestones):
            raise ConfigError(f"optim.milestones: must be increasing, got {list(self.milestones)}")


@dataclass
class ScheduleConfig:
    """How long to train and how often to log, probe, validate and checkpoint."""

    epochs: Annotated[int | None, tyro.conf.arg(aliases=("--epochs",))] = None
    """Passes over the seen (view, light) pairs. None: chosen from the dataset size (about
    ``target_iterations`` iterations in all, between 2 and 60 epochs)."""
    target_iterations: int = 3000
    """With ``epochs`` unset: the total number of iterations to aim for."""
    pairs_per_epoch: int | None = None
    """Cap on the pairs visited per epoch (a random subset each epoch) for quick runs."""
    batch_size: int = 1
    """Images per step (origin: 1)."""
    log_every: int = 20
    """Write a metrics.jsonl line every N iterations."""
    probe_every: int = 50
    """Render the fixed probe frame every N iterations (training-progress video)."""
    val_images: int = 12
    """Validation images per bucket per epoch (a fixed sample, so epochs compare)."""
    sweep_frames: int = 120
    """Frames of the per-epoch light-sweep video at most (a longer ground-truth sequence is
    subsampled at one stride). Keep it at a few degrees of light motion per frame or more
    frames: a coarse sweep is jumpy by itself (docs/metrics.md)."""
    stop_after: int | None = None
    """Stop (with a checkpoint, as if interrupted) after this many iterations in all; for tests."""

    def __post_init__(self) -> None:
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"schedule.epochs: must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"schedule.batch_size: must be >= 1, got {self.batch_size}")
        # 0 is not a silent "unset" (None is): every count and interval here is at least 1
        _check_at_least("schedule.pairs_per_epoch", self.pairs_per_epoch, 1, "to visit every pair")
        for name in ("target_iterations", "log_every", "probe_every", "val_images", "sweep_frames"):
            _check_at_least(f"schedule.{name}", getattr(self, name), 1)
        _check_at_least("schedule.stop_after", self.stop_after, 1, "to train to the end")


@dataclass
class RemediesConfig:
    """Remedies for temporal instability (all off by default; see docs/remedies.md)."""

    ema: float = 0.0
    """Exponential moving average of the weights (e.g. 0.999); validation and renders use
    the EMA copy. 0 disables."""
    light_smoothness: float = 0.0
    """Weight of the light-smoothness regulariser: for a random nearby light pair a, b,
    penalise |f(slerp(a,b,1/2)) - (f(a)+f(b))/2| in the encoded space."""
    smoothness_angle_deg: float = 5.0
    """Angular distance between the two lights of the smoothness regulariser."""
    light_jitter_deg: float = 0.0
    """Random perturbation of the light direction (degrees) for each training sample."""


@dataclass
class TrainConfig:
    """Train a neural texture + renderer on a prepared dataset."""

    out: Path = Path("runs/run")
    """Run folder: config.json, checkpoints/, metrics.jsonl, videos/."""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    disc: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    remedies: RemediesConfig = field(default_factory=RemediesConfig)
    seed: int = 0
    """Seed for initialisation, shuffling and the probe/validation samples."""
    precision: Literal["fp32", "bf16"] = "fp32"
    """bf16 autocast on CPU (AMP fp16 on CUDA); fp32 is exact and the default on CPU."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """auto: CUDA when available, else CPU."""
    threads: int | None = None
    """CPU threads for torch (None: torch's default)."""
    resume: bool = False
    """Continue the run in ``out`` from its last checkpoint (optimizer, schedule, RNG, position)."""

    def __post_init__(self) -> None:
        _check_at_least("threads", self.threads, 1, "for torch's default")
