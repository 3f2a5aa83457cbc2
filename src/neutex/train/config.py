"""The training config: typed dataclasses turned into the ``neutex train`` CLI by tyro.

``TrainConfig`` holds ``data``, ``model``, ``loss``, ``disc``, ``optim``, ``schedule`` and
``remedies``; the run folder gets the fully resolved config as ``config.json``. Nothing here
imports torch (so ``neutex train --help`` stays instant): ``setup()`` imports what it builds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import tyro

from neutex.color import Encoding
from neutex.config import config_difference, config_to_dict
from neutex.errors import ConfigError
from neutex.model.config import DiscriminatorConfig, ModelConfig
from neutex.train.vgg_layers import PIX2PIXHD_VGG_WEIGHTS, VGG19_LAYERS, VGG_BLOCK_END_LAYERS, VGGLayer

if TYPE_CHECKING:
    import torch

    from neutex.train.losses import RelightingLoss

PerceptualMode = Literal["auto", "vgg", "random", "off"]
GanLoss = Literal["lsgan", "hinge"]


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
class LossConfig:
    """Training loss: L1 + perceptual (VGG19, or SSIM without weights) + optional GAN."""

    l1_weight: float = 1.0
    """Weight of the masked L1 loss in the encoded target space."""
    perceptual: Annotated[PerceptualMode, tyro.conf.arg(aliases=("--perceptual",))] = "auto"
    """auto: VGG19 if its weights are found, else 1-SSIM (printed, recorded as 'resolved');
    vgg: require the weights; random: randomly initialised VGG19 (tests only); off: L1 only."""
    perceptual_weight: float = 0.1
    """Weight of the VGG perceptual term."""
    vgg_weights: Path | None = None
    """torchvision VGG19 ImageNet weight file (vgg19-dcbb9e9d.pth); None: torch's hub cache."""
    vgg_layers: tuple[VGGLayer, ...] = VGG_BLOCK_END_LAYERS  # type: ignore[assignment]
    """VGG19 relu layers compared (the network stops after the deepest); default the last relu
    of each block (the origin, like pix2pixHD, compares the first: relu1_1 ... relu5_1)."""
    vgg_layer_weights: tuple[float, ...] = PIX2PIXHD_VGG_WEIGHTS
    """One weight per layer in vgg_layers (pix2pixHD's 1/32 ... 1)."""
    vgg_max_layer: VGGLayer | None = None
    """Drop the vgg_layers deeper than this one (and their weights): a one-flag way to save FLOPs."""
    vgg_resolution: int | None = 128
    """Area-downsample images so their longer side is at most this before VGG (None: full size);
    128 costs a quarter of 256 (see docs/model.md)."""
    vgg_bf16: bool = False
    """Run VGG under bfloat16 autocast (about 2x faster on CPUs with AVX512-BF16/AMX)."""
    ssim_weight: float = 0.1
    """Weight of the (1 - SSIM) term used when perceptual resolves to the weight-free loss.
    At 1.0 the renderer stalled at an all-black output on the synthetic egg for 1500+ steps."""
    gan: bool = False
    """Add a PatchGAN adversarial loss (the discriminator is configured in ``disc``)."""
    gan_loss: GanLoss = "lsgan"
    """Adversarial loss: lsgan or hinge."""
    gan_weight: float = 0.01
    """Weight of the generator's adversarial term (pix2pix's L1:GAN = 100:1)."""
    feature_matching_weight: float = 0.0
    """Weight of pix2pixHD discriminator feature matching (0: off; needs gan)."""

    def __post_init__(self) -> None:
        for name, tp in (("perceptual", PerceptualMode), ("gan_loss", GanLoss)):
            if getattr(self, name) not in get_args(tp):
                raise ConfigError(f"loss.{name}: {getattr(self, name)!r} is not one of {list(get_args(tp))}")
        for name in ("l1_weight", "perceptual_weight", "ssim_weight", "gan_weight", "feature_matching_weight"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"loss.{name}: must be >= 0, got {getattr(self, name)}")
        self.vgg_layers = tuple(self.vgg_layers)
        self.vgg_layer_weights = tuple(float(w) for w in self.vgg_layer_weights)
        if self.vgg_weights is not None:
            self.vgg_weights = Path(self.vgg_weights)
        for name in (*self.vgg_layers, *([self.vgg_max_layer] if self.vgg_max_layer else [])):
            if name not in VGG19_LAYERS:
                raise ConfigError(f"loss.vgg_layers: unknown layer {name!r} (known: {', '.join(VGG19_LAYERS)})")
        if len(set(self.vgg_layers)) != len(self.vgg_layers):
            raise ConfigError(f"loss.vgg_layers: a layer is listed twice: {list(self.vgg_layers)}")
        if len(self.vgg_layer_weights) != len(self.vgg_layers):
            raise ConfigError(f"loss.vgg_layer_weights: {len(self.vgg_layer_weights)} weights for "
                              f"{len(self.vgg_layers)} layers in loss.vgg_layers")
        if any(not w >= 0 for w in self.vgg_layer_weights):
            raise ConfigError(f"loss.vgg_layer_weights: must be >= 0, got {list(self.vgg_layer_weights)}")
        if self.perceptual in ("auto", "vgg", "random") and not self.used_vgg_layers():
            raise ConfigError(f"loss.vgg_max_layer: {self.vgg_max_layer} drops every layer of loss.vgg_layers")
        if self.vgg_resolution is not None and self.vgg_resolution < 16:
            raise ConfigError(f"loss.vgg_resolution: must be >= 16 or None, got {self.vgg_resolution}")
        if self.feature_matching_weight > 0 and not self.gan:
            raise ConfigError("loss.feature_matching_weight: needs loss.gan (feature matching uses the discriminator)")

    def used_vgg_layers(self) -> tuple[tuple[str, float], ...]:
        """(layer, weight) pairs after applying ``vgg_max_layer``."""
        cap = VGG19_LAYERS[self.vgg_max_layer] if self.vgg_max_layer else 10**9
        return tuple((n, w) for n, w in zip(self.vgg_layers, self.vgg_layer_weights) if VGG19_LAYERS[n] <= cap)

    def setup(self, device: torch.device | str = "cpu", encoding: Encoding | None = None) -> RelightingLoss:
        """Build the loss module on ``device``. ``encoding`` is the target encoding (used to
        encode ``batch["target"]`` when the batch has no ``target_encoded``, and to map linear
        HDR to a display range for VGG/SSIM); None: the batch must carry ``target_encoded``
        and encoded values are taken as display-like (right for log and srgb)."""
        # torch: imported when the loss is built, so configs (and neutex --help) load without it
        from neutex.train.losses import RelightingLoss

        return RelightingLoss(self, device, encoding)


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
        # 0 is not a silent "unset" (None is): every count and interval here is at least 1
        _check_at_least("schedule.epochs", self.epochs, 1, "for a count from the data")
        _check_at_least("schedule.batch_size", self.batch_size, 1)
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
    """bf16: bfloat16 autocast (CPU, and GPUs with bfloat16: Ampere and later; never fp16, there is no
    loss scaler); fp32 is exact and the default on CPU."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """auto: CUDA when available, else CPU."""
    threads: int | None = None
    """CPU threads for torch (None: torch's default)."""
    resume: bool = False
    """Continue the run in ``out`` from its last checkpoint (optimizer, schedule, RNG, position)."""

    def __post_init__(self) -> None:
        _check_at_least("threads", self.threads, 1, "for torch's default")


def changed_settings(stored: dict[str, Any], cfg: TrainConfig) -> list[str]:
    """What ``cfg`` changes against a run made with ``stored`` (its config.json's config, as a
    dict): ``key: run -> now`` for every field that changes what the run learns
    (:data:`CONTROL_KEYS` left out). An unresolved ``model.texture_res`` (None: chosen from the
    data) takes the run's value.

    Examples:
        >>> stored = config_to_dict(TrainConfig(seed=1, threads=2))
        >>> stored["model"]["texture_res"] = 256
        >>> changed_settings(stored, TrainConfig(seed=2))
        ['seed: 1 -> 2']
    """
    want = config_to_dict(cfg)
    if want["model"].get("texture_res") is None:  # resolved from the data when the run was made
        want["model"]["texture_res"] = stored.get("model", {}).get("texture_res")
    return config_difference(stored, want, CONTROL_KEYS)
