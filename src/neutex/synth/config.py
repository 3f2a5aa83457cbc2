"""The synthetic generator's config and its named presets (nerfstudio-style registry)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from neutex.errors import ConfigError


@dataclass
class SynthConfig:
    """Everything ``neutex synth`` needs to render a capture; every value is recorded in
    capture.json's ``generator`` field."""

    name: str = "custom"
    """Name recorded in capture.json (the preset's name, or ``custom``)."""
    shape: Literal["egg", "vase"] = "egg"
    """Procedural object: ``egg`` (convex, speckled, glossy patches) or ``vase`` (concave neck, open top)."""
    views: int = 32
    """Turntable cameras about the up axis (+z), evenly spaced in azimuth."""
    lights_per_face: int = 8
    """n: each face of the light cube carries an n x n grid of point lights (6 n² lights; 8 -> 384)."""
    res: int = 256
    """Image width and height in pixels."""
    spp: int = 32
    """Samples per pixel of the beauty images (box filter)."""
    sweep_frames: int = 360
    """Frames of each ground-truth light sweep (one full turn of the light about +z); 0 = no sweeps."""
    sweep_cameras: int = 2
    """Cameras with a sweep: alternately held-out and seen views of the default split, held-out first."""
    sweep_elevation_deg: float = 30.0
    """Elevation of the sweep light above the horizontal plane through the centre, in degrees."""
    sweep_radius: float = 0.0
    """Distance of the sweep light from the centre; 0 = the mean distance of the stage lights."""
    sweep_fps: float = 30.0
    """Frame rate recorded for the sweep sequences."""
    sweep_spp: int = 0
    """Samples per pixel of the sweep frames; 0 = 4 x spp. The sweeps are the reference of the
    temporal metrics, whose jump detector should see the light move, not Monte-Carlo noise
    (at 64², 16 spp a dark frame of the demo's sweep popped by 5 %)."""
    camera_distance: float = 3.0
    """Distance of every camera from the centre of the object."""
    camera_elevation_deg: float = 15.0
    """Elevation of the camera ring above the horizontal plane, in degrees."""
    fov_deg: float = 32.0
    """Horizontal field of view of the cameras, in degrees."""
    stage_half_size: float = 2.0
    """Half the edge of the light cube: distance from the centre to each face of lights."""
    light_intensity: tuple[float, float, float] = (20.0, 20.0, 20.0)
    """RGB radiant intensity of every point light in W/sr (irradiance I cos(theta) / r²)."""
    max_depth: int = 2
    """Mitsuba path length: 2 = direct light only (exact for convex shapes, noise-free shadows),
    3 = one indirect bounce (interreflection in concavities; sparse paths need >= 256 spp)."""
    specular: float = 0.5
    """Principled BSDF ``specular`` (Fresnel reflectance at normal incidence is 0.08 x this)."""
    texture_res: int = 512
    """Texture height in texels (the width is twice this: u spans the circumference)."""
    mesh_detail: float = 1.0
    """Scale of the tessellation (1 = 128 segments around the axis)."""
    seed: int = 0
    """Random seed of the textures and of the per-image sampling noise."""
    variant: Literal["auto", "llvm_ad_rgb", "scalar_rgb"] = "auto"
    """Mitsuba variant; ``auto`` probes llvm_ad_rgb in a subprocess and falls back to scalar_rgb."""
    out: Path = Path("capture")
    """Folder the capture is written to."""

    def __post_init__(self) -> None:
        positive = {"views": self.views, "lights_per_face": self.lights_per_face, "res": self.res, "spp": self.spp,
                    "camera_distance": self.camera_distance, "fov_deg": self.fov_deg,
                    "texture_res": self.texture_res, "mesh_detail": self.mesh_detail}
        for key, value in positive.items():
            if value <= 0:
                raise ConfigError(f"synth.{key}: must be positive, got {value}")
        if self.res < 4:
            raise ConfigError(f"synth.res: at least 4 pixels, got {self.res}")
        if self.sweep_frames != 0 and self.sweep_frames < 3:
            raise ConfigError(f"synth.sweep_frames: 0 (no sweeps) or at least 3, got {self.sweep_frames}")
        if self.sweep_spp < 0:
            raise ConfigError(f"synth.sweep_spp: 0 (4 x spp) or positive, got {self.sweep_spp}")
        if self.sweep_cameras < 0:
            raise ConfigError(f"synth.sweep_cameras: must be >= 0, got {self.sweep_cameras}")
        if self.max_depth < 2:
            raise ConfigError(f"synth.max_depth: at least 2 (direct light), got {self.max_depth}")
        if self.stage_half_size <= 1.0:
            raise ConfigError(f"synth.stage_half_size: the lights must lie outside the unit sphere, got {self.stage_half_size}")
        if self.camera_distance <= 1.0:
            raise ConfigError(f"synth.camera_distance: cameras must lie outside the unit sphere, got {self.camera_distance}")
        if self.sweep_radius != 0 and self.sweep_radius <= 1.0:
            raise ConfigError(f"synth.sweep_radius: 0 (stage distance) or > 1, got {self.sweep_radius}")
        if not 0 < self.fov_deg < 180:
            raise ConfigError(f"synth.fov_deg: must be in (0, 180), got {self.fov_deg}")
        if len(self.light_intensity) != 3 or min(self.light_intensity) < 0:
            raise ConfigError(f"synth.light_intensity: three non-negative values, got {self.light_intensity}")

    def replace(self, **changes) -> "SynthConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @property
    def n_lights(self) -> int:
        """Stage lights: 6 n²."""
        return 6 * self.lights_per_face**2

    @property
    def n_images(self) -> int:
        """Renders in total: views x lights plus the sweeps."""
        n_sweep_cams = min(self.sweep_cameras, self.views) if self.sweep_frames else 0
        return self.views * self.n_lights + n_sweep_cams * self.sweep_frames


#: Named defaults. ``egg`` is the origin's capture (32 views x 384 lights at 256²: 12,288
#: images); ``demo`` renders in about a minute on two CPU cores.
PRESETS: dict[str, SynthConfig] = {
    "egg": SynthConfig(name="egg", shape="egg"),
    "vase": SynthConfig(name="vase", shape="vase"),
    "demo": SynthConfig(name="demo", shape="egg", views=8, lights_per_face=4, res=64, spp=16, sweep_frames=72,
                        texture_res=256),
}
#: What ``neutex synth`` renders when no --preset is given.
DEFAULT_PRESET = "egg"


def preset_config(name: str, **overrides) -> SynthConfig:
    """A preset with some values overridden; ``None`` overrides are ignored.

    Raises:
        ConfigError: unknown preset or unknown field.

    Examples:
        >>> preset_config("demo", views=4, res=None).views
        4
    """
    if name not in PRESETS:
        raise ConfigError(f"synth.preset: unknown preset {name!r} (known: {', '.join(PRESETS)})")
    names = {f.name for f in dataclasses.fields(SynthConfig)}
    for key in overrides:
        if key not in names:
            raise ConfigError(f"synth.{key}: unknown field")
    return PRESETS[name].replace(**{k: v for k, v in overrides.items() if v is not None})


__all__ = ["DEFAULT_PRESET", "PRESETS", "SynthConfig", "preset_config"]
