"""``neutex envmap --out DIR``: write the procedural HDR environment maps (sky, studio, spot)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from neutex.envmap.latlong import write_envmap
from neutex.envmap.presets import PRESET_NAMES, PresetName, make_envmap


@dataclass
class EnvmapCommand:
    """Write procedural lat-long HDR environment maps (a sky with a sun, a studio with two soft
    boxes, a single small bright source) for `neutex render --envmap` and `neutex synth
    --envmap`. Each is scaled to light an upward-facing surface like one stage light."""

    out: Path
    """Folder to write the maps to (DIR/<preset>.<format>)."""
    preset: tuple[PresetName, ...] = PRESET_NAMES
    """Which maps."""
    height: int = 128
    """Map height in pixels (the width is twice this)."""
    format: Literal["exr", "hdr"] = "exr"
    """File format: 32-bit float OpenEXR or Radiance RGBE."""

    def main(self) -> None:
        for name in self.preset:
            env = make_envmap(name, self.height)
            path = write_envmap(Path(self.out) / f"{name}.{self.format}", env)
            e = env.irradiance_at(env.up)
            print(f"wrote {path}: {env.width}x{env.height}, peak radiance {float(env.radiance.max()):.4g}, "
                  f"irradiance facing up {e[0]:.3g} {e[1]:.3g} {e[2]:.3g}")
