"""The render config: what ``neutex render RUN --out FILE.mp4`` draws and how (docs/render.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import tyro

from neutex.errors import ConfigError

RenderKind = Literal["sweep", "orbit", "both", "sequence", "envmap", "envmap-rotate"]

#: frames of a sweep, orbit or both video when ``--frames`` is not given.
DEFAULT_FRAMES = 360
#: frames of an envmap-rotate video (each frame is K one-light frames) when ``--frames`` is not given.
DEFAULT_ENVMAP_FRAMES = 120
#: frames per second of a sweep, orbit or both video (the origin's videos).
DEFAULT_FPS = 24.0


@dataclass
class RenderConfig:
    """Render a trained run to an mp4: a light sweep at a fixed view, an orbit of the camera,
    both at once, or a ground-truth sequence side by side with the prediction and its error."""

    run: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="RUN")]
    """Run folder written by ``neutex train``."""
    out: Path
    """The video to write (.mp4). A JSON file with the same name (.json) goes next to it."""
    checkpoint: str = "best"
    """best, last, an epoch number, or a checkpoint file."""
    kind: RenderKind | None = None
    """sweep: the light circles about the up axis, the camera stays; orbit: the camera circles,
    the light stays (needs the mesh and OpenGL); both: the camera circles and the light
    circles; sequence: a ground-truth sequence, GT | prediction | error. Default: sequence
    when --sequence is given, else sweep."""
    view: str | None = None
    """Camera of a sweep (an id or an index); the starting camera of an orbit. Default: the first
    held-out view (sweep; else the first view), the first view (orbit)."""
    sequence: str | None = None
    """Ground-truth sequence to render (implies --kind sequence). Default with --kind
    sequence: the dataset's first sequence."""
    frames: int | None = None
    """Frames of the video. Default: 360 (sweep, orbit, both); every frame of the sequence
    (sequence; fewer: at most that many, at one stride, so time stays uniform)."""
    fps: float | None = None
    """Frames per second. Default: 24 (the origin's videos); a sequence's own rate, scaled
    when --frames subsamples it."""
    elevation: float = 30.0
    """Light elevation (degrees above the plane perpendicular to the up axis)."""
    distance: float | None = None
    """Light distance from the origin. Default: the median distance of the stage lights;
    directional lights when the dataset's lights are all directional."""
    azimuth: float = 0.0
    """Light azimuth (degrees) of the first frame, relative to the camera's azimuth (0: the
    light starts on the camera's side)."""
    light_turns: float | None = None
    """Light revolutions over the video (negative: clockwise seen from up). Default: 1 (sweep),
    -1 (both: against the camera, so the light crosses the view twice)."""
    light: str | None = None
    """orbit: a fixed stage light (id or index) instead of the default light at --elevation,
    --distance, --azimuth."""
    light_dir: tuple[float, float, float] | None = None
    """orbit: a fixed directional light (world vector towards the light) instead."""
    turns: float = 1.0
    """orbit, both: camera revolutions over the video."""
    orbit_distance: float | None = None
    """orbit, both: camera distance from the origin. Default: the mean over the dataset's cameras."""
    orbit_elevation: float | None = None
    """orbit, both: camera elevation (degrees). Default: the mean over the dataset's cameras."""
    exposure: float = 0.0
    """Exposure in stops, applied before tone mapping (+1: twice as bright)."""
    white: float | None = None
    """Linear value shown as white. Default: the run's white level."""
    caption: bool | None = None
    """Burn frame number and time (and per-frame errors) into the frames. Default: on for
    sequences, off otherwise."""
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """auto: the run's training precision; bf16 autocasts the renderer to bfloat16 (CPU or GPU),
    about 2x faster on a CPU with AVX-512 BF16."""
    batch_size: int = 8
    """Frames per forward pass."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to run the model (auto: CUDA when available)."""
    threads: int | None = None
    """CPU threads for torch (None: torch's default, one per core)."""
    data: Path | None = None
    """Prepared dataset, if it moved since training."""
    envmap: Path | None = None
    """A lat-long HDR environment map (.exr, .hdr; `neutex envmap` writes procedural ones): render
    the object under it, a still (--out FILE.png, or .exr for linear values) or, with --out
    FILE.mp4, a video while the map turns about the up axis (--kind envmap-rotate)."""
    envmap_rotate: float = 0.0
    """Rotation of the map about the up axis (degrees; the start of an envmap-rotate video)."""
    envmap_samples: int = 64
    """Directional lights the map is cut into (each one frame of the model per image)."""
    envmap_sampling: Literal["stratified", "importance"] = "stratified"
    """stratified: equal-area cells, each one light with its cell's energy (deterministic);
    importance: lights drawn by the map's luminance (unbiased, noisy)."""

    def validate(self) -> None:
        """Raise :class:`ConfigError` for out-of-range or contradictory values. (Called by
        :func:`~neutex.render.pipeline.render_video`, so library callers get it too.)"""
        kind = self.resolved_kind
        if kind == "envmap":
            if self.out.suffix.lower() not in (".png", ".exr"):
                raise ConfigError(f"out: {self.out}: --kind envmap writes a still image (.png, or .exr for linear "
                                  "values)", hint="for a video while the map turns: --kind envmap-rotate --out FILE.mp4")
        elif self.out.suffix.lower() != ".mp4":
            raise ConfigError(f"out: {self.out}: the video must be an .mp4 file")
        if kind in ("envmap", "envmap-rotate") and self.envmap is None:
            raise ConfigError(f"envmap: --kind {kind} needs a map: --envmap FILE.exr",
                              hint="`neutex envmap --out maps/` writes procedural maps")
        if self.envmap is not None and kind not in ("envmap", "envmap-rotate"):
            raise ConfigError(f"envmap: --envmap lights --kind envmap or envmap-rotate, not --kind {kind}")
        if self.envmap_samples < 1:
            raise ConfigError(f"envmap-samples: must be >= 1, got {self.envmap_samples}")
        if not math.isfinite(self.envmap_rotate):
            raise ConfigError(f"envmap-rotate: must be finite, got {self.envmap_rotate}")
        if self.frames is not None and self.frames < 2:
            raise ConfigError(f"frames: a video needs at least 2 frames, got {self.frames}")
        if self.fps is not None and not self.fps > 0:
            raise ConfigError(f"fps: must be positive, got {self.fps}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads: must be >= 1, got {self.threads}")
        if self.batch_size < 1:
            raise ConfigError(f"batch-size: must be >= 1, got {self.batch_size}")
        if self.distance is not None and not self.distance > 0:
            raise ConfigError(f"distance: must be positive, got {self.distance}")
        if self.orbit_distance is not None and not self.orbit_distance > 0:
            raise ConfigError(f"orbit-distance: must be positive, got {self.orbit_distance}")
        if self.white is not None and not self.white > 0:
            raise ConfigError(f"white: must be positive, got {self.white}")
        for name in ("elevation", "azimuth", "exposure", "turns"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"{name}: must be finite, got {getattr(self, name)}")
        if self.sequence is not None and kind != "sequence":
            raise ConfigError(f"sequence: --sequence renders a ground-truth sequence, not --kind {kind}",
                              hint="drop --kind, or drop --sequence")
        if kind == "sequence" and self.view is not None:
            raise ConfigError("view: a sequence is seen by its own camera; drop --view")
        if self.light is not None and self.light_dir is not None:
            raise ConfigError("light: give --light or --light-dir, not both")
        if (self.light is not None or self.light_dir is not None) and kind != "orbit":
            raise ConfigError(f"light: a fixed light is for --kind orbit (with --kind {kind} the light moves)")
        if self.light_dir is not None and not any(self.light_dir):
            raise ConfigError("light-dir: the zero vector has no direction")

    @property
    def resolved_kind(self) -> RenderKind:
        """``kind``, or its default: ``sequence`` with ``--sequence``; with ``--envmap``,
        ``envmap-rotate`` for an .mp4 and ``envmap`` (a still) otherwise; else ``sweep``."""
        if self.kind is not None:
            return self.kind
        if self.envmap is not None:
            return "envmap-rotate" if self.out.suffix.lower() == ".mp4" else "envmap"
        return "sequence" if self.sequence is not None else "sweep"
