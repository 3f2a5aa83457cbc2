"""The bench's config (the ``neutex bench`` flags) and its resolution into a concrete plan."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from neutex.errors import ConfigError

Precision = Literal["fp32", "bf16"]
Mode = Literal["neutex", "multiply", "concat"]


def _power_of_two(n: int) -> bool:
    return n >= 1 and not n & (n - 1)


@dataclass
class BenchConfig:
    """What ``neutex bench`` measures. ``None`` fields take the default of the chosen mode
    (full, or ``--quick``): see :meth:`resolve`."""

    json: Path | None = None
    """Also write the results as JSON to this file (docs/bench.md describes the shape)."""
    quick: bool = False
    """Quick mode: 128² only, multiply only, no GAN step, fewer repeats, smaller side benches."""
    res: tuple[int, ...] | None = None
    """Image resolutions of the training-step and renderer benches (powers of two >= 32).
    Default 128 256; quick 128."""
    modes: tuple[Mode, ...] | None = None
    """Models: neutex (the default: cues, shadows, residual), multiply / concat (the origin's exp1 /
    exp2). Default all three; quick neutex multiply."""
    precisions: tuple[Precision, ...] | None = None
    """Precisions (bf16: autocast for the model and the VGG loss). Default fp32 bf16."""
    gan_steps: bool | None = None
    """Also time the full GAN step (discriminator + generator update). Default yes; quick no."""
    origin: bool = True
    """Time the origin's step and inference (neutex.bench.origin) side by side."""
    repeats: int | None = None
    """Timed repetitions per measurement (the median is reported). Default 5; quick 3."""
    warmup: int | None = None
    """Untimed repetitions first (the first one also counts the FLOPs). Default 2; quick 1."""
    threads: int | None = None
    """torch CPU threads (None: torch's default, as neutex train uses)."""
    device: Literal["cpu", "cuda"] = "cpu"
    """Where the models run. ``cuda``: every timing waits for the GPU before the clock is read;
    the origin's step, the DDP rows and the side benches are CPU measurements and are left out
    (docs/bench.md, "On a GPU")."""
    inference_res: int | None = None
    """Resolution of the inference bench. Default 256; quick the largest of res."""
    inference_batch: int | None = None
    """Frames per inference forward. Default 4 on the CPU, 32 on a GPU."""
    peak_sizes: tuple[int, ...] | None = None
    """Square matmul sizes of the peak measurement (best over all). Default 1024 2048; quick 1024."""
    side: bool = True
    """Run the side benches: synth (Mitsuba), gbuffer (OpenGL), loader."""
    ddp: bool = True
    """Time the training step on 2 CPU processes (gloo, DistributedDataParallel) against 1 on
    the same global batch, at the smallest of res (the ``ddp_step`` rows)."""
    side_res: int = 256
    """Resolution of the gbuffer and loader benches."""
    sweep_frames: int | None = None
    """Frames of the sweep bench (one view, the default model with shadows, a new light per
    frame) at ``inference_res``. Default 360; quick 24."""
    synth_res: int = 128
    """Resolution of the synth bench."""
    synth_spp: int = 16
    """Samples per pixel of the synth bench."""
    synth_images: int | None = None
    """Images rendered by the synth bench. Default 4; quick 2."""
    gbuffer_frames: int | None = None
    """Frames rasterized by the gbuffer bench. Default 50; quick 20."""
    loader_batches: int | None = None
    """Samples loaded by the loader bench. Default 200; quick 50."""

    def __post_init__(self) -> None:
        for name in ("res", "modes", "precisions", "peak_sizes"):
            v = getattr(self, name)
            if v is not None:
                v = tuple(v)
                if not v:
                    raise ConfigError(f"bench.{name}: empty")
                if len(set(v)) != len(v):
                    raise ConfigError(f"bench.{name}: a value is listed twice: {list(v)}")
                setattr(self, name, v)
        for r in (*(self.res or ()), *((self.inference_res,) if self.inference_res else ())):
            if r < 32 or not _power_of_two(r):
                raise ConfigError(f"bench.res: {r} is not a power of two >= 32 (the UNet has 5 levels and the "
                                  f"origin's log2(res))")
        for m in self.modes or ():
            if m not in ("neutex", "multiply", "concat"):
                raise ConfigError(f"bench.modes: unknown model {m!r} (known: neutex, multiply, concat)")
        for p in self.precisions or ():
            if p not in ("fp32", "bf16"):
                raise ConfigError(f"bench.precisions: unknown precision {p!r} (known: fp32, bf16)")
        for name in ("repeats", "inference_batch", "synth_images", "gbuffer_frames", "loader_batches", "threads",
                     "sweep_frames",
                     "synth_res", "synth_spp", "side_res"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ConfigError(f"bench.{name}: must be >= 1, got {v}")
        if self.warmup is not None and self.warmup < 1:
            raise ConfigError(f"bench.warmup: must be >= 1 (the first warm-up run counts the FLOPs), got {self.warmup}")
        if self.json is not None:
            self.json = Path(self.json)

    def resolve(self) -> BenchConfig:
        """A copy with every ``None`` replaced by the default of the mode (full or quick).

        Examples:
            >>> BenchConfig(quick=True).resolve().res
            (128,)
            >>> BenchConfig().resolve().modes
            ('neutex', 'multiply', 'concat')
        """
        q = self.quick
        res = self.res or ((128,) if q else (128, 256))
        gpu = self.device == "cuda"
        return dataclasses.replace(
            self,
            origin=self.origin and not gpu,
            ddp=self.ddp and not gpu,
            side=self.side and not gpu,
            inference_batch=self.inference_batch or (32 if gpu else 4),
            res=res,
            modes=self.modes or (("neutex", "multiply") if q else ("neutex", "multiply", "concat")),
            precisions=self.precisions or ("fp32", "bf16"),
            gan_steps=(not q) if self.gan_steps is None else self.gan_steps,
            repeats=self.repeats or (3 if q else 5),
            warmup=self.warmup or (1 if q else 2),
            inference_res=self.inference_res or (max(res) if q else 256),
            peak_sizes=self.peak_sizes or ((8192,) if gpu else (1024,) if q else (1024, 2048)),
            synth_images=self.synth_images or (2 if q else 4),
            gbuffer_frames=self.gbuffer_frames or (20 if q else 50),
            loader_batches=self.loader_batches or (50 if q else 200),
            sweep_frames=self.sweep_frames or (24 if q else 360),
        )


__all__ = ["BenchConfig", "Mode", "Precision"]
