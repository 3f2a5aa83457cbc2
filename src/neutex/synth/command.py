"""``neutex synth``: render a synthetic capture from a preset, with flags overriding its values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Optional

import tyro

from neutex.capture.schema import load_capture
from neutex.errors import ConfigError
from neutex.synth.config import DEFAULT_PRESET, preset_config
from neutex.synth.environment import render_environments
from neutex.synth.render import synthesize

# Flags left out are None and keep the preset's value.
OptInt = Annotated[Optional[int], tyro.conf.arg(metavar="INT")]
OptFloat = Annotated[Optional[float], tyro.conf.arg(metavar="FLOAT")]
OptVariant = Annotated[Optional[Literal["auto", "llvm_ad_rgb", "scalar_rgb"]],
                       tyro.conf.arg(metavar="{auto,llvm_ad_rgb,scalar_rgb}")]


@dataclass
class SynthCommand:
    """Render a procedural object on a virtual light stage with Mitsuba 3 into a capture
    (capture.json, mesh, EXR images, masks, ground-truth light sweeps).

    Presets: egg (32 views x 384 lights, 256 px), vase (concave, self-shadowing), demo (small egg,
    about a minute). Every flag left out keeps the preset's value."""

    out: Path
    """Folder to write the capture to."""
    preset: Literal["egg", "vase", "demo"] = DEFAULT_PRESET
    """Named defaults to start from."""
    views: OptInt = None
    """Turntable cameras about the up axis (preset's value when omitted)."""
    lights_per_face: OptInt = None
    """n x n point lights on each of the six cube faces (6 n² lights)."""
    res: OptInt = None
    """Image width and height in pixels."""
    spp: OptInt = None
    """Samples per pixel of the beauty images."""
    sweep_frames: OptInt = None
    """Frames of each ground-truth light sweep (one turn of the light about +z); 0 = none."""
    sweep_spp: OptInt = None
    """Samples per pixel of the sweep frames (0: 4 x spp, a cleaner reference for the temporal metrics)."""
    sweep_cameras: OptInt = None
    """How many cameras get a sweep (held-out and seen views of the default split, alternately)."""
    sweep_elevation_deg: OptFloat = None
    """Elevation of the sweep light, in degrees."""
    max_depth: OptInt = None
    """Mitsuba path length (2 = direct light only)."""
    seed: OptInt = None
    """Random seed of the textures and the sampling noise."""
    variant: OptVariant = None
    """Mitsuba variant; auto probes llvm_ad_rgb in a subprocess and falls back to scalar_rgb."""
    progress: bool = True
    """Show a progress bar with ETA."""
    envmap: tuple[Path, ...] = ()
    """Lat-long HDR environment maps (.exr, .hdr; `neutex envmap` writes procedural ones): also
    render --envmap-views views under each with Mitsuba's envmap emitter, as ground truth for
    `neutex eval` (capture.json "environments")."""
    envmap_views: int = 4
    """How many views get environment renders (held-out and seen views alternately)."""
    envmap_spp: int = 256
    """Samples per pixel of the environment renders."""
    envmap_rotate: float = 0.0
    """Rotation of the maps about the up axis, in degrees."""
    envmap_only: bool = False
    """Add the environment renders to the capture already in --out (written by `neutex synth`),
    rendering nothing else: its mesh, textures and settings are reused."""

    def config(self):
        """The preset with this command's flags applied (a :class:`SynthConfig`)."""
        return preset_config(self.preset, views=self.views, lights_per_face=self.lights_per_face, res=self.res,
                             spp=self.spp, sweep_frames=self.sweep_frames, sweep_spp=self.sweep_spp,
                             sweep_cameras=self.sweep_cameras,
                             sweep_elevation_deg=self.sweep_elevation_deg, max_depth=self.max_depth,
                             seed=self.seed, variant=self.variant, out=self.out)

    def main(self) -> None:
        if self.envmap_only or self.envmap:
            if not self.envmap:
                raise ConfigError("envmap-only: give the maps with --envmap FILE ...")
            if self.envmap_views < 1 or self.envmap_spp < 1:
                raise ConfigError("envmap-views, envmap-spp: must be at least 1")
        if self.envmap_only:
            render_environments(self.out, list(self.envmap), self.envmap_views, self.envmap_spp, self.envmap_rotate,
                                self.variant or "auto", self.progress)
            return
        cfg = self.config()
        print(f"neutex synth: preset {cfg.name} ({cfg.shape}), {cfg.views} views x {cfg.n_lights} lights at "
              f"{cfg.res}x{cfg.res}, {cfg.spp} spp, {cfg.n_images} renders -> {cfg.out}")
        out = synthesize(cfg, progress=self.progress)
        cap = load_capture(out)
        g = cap.generator
        print(f"wrote {out / 'capture.json'} ({g['variant']}, {g['timing']['images_per_s']:.1f} images/s, "
              f"{g['timing']['total_s']:.1f} s)")
        print(f"  mesh.obj, textures/, masks/ ({len(cap.cameras)}), images/ ({len(cap.frames)} EXR), "
              f"sweeps/ ({sum(len(s.frames) for s in cap.sequences)} EXR in {len(cap.sequences)} sequences: "
              f"{', '.join(s.name for s in cap.sequences) or 'none'})")
        if self.envmap:
            render_environments(out, list(self.envmap), self.envmap_views, self.envmap_spp, self.envmap_rotate,
                                cfg.variant, self.progress)
