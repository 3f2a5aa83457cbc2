"""HDR environment maps: the lat-long convention, reading and writing maps, procedural maps,
and turning a map into directional lights (docs/render.md, "Environment maps"). numpy only.

Names are imported on first use (:func:`neutex.lazy.lazy_exports`)."""

from __future__ import annotations

from neutex.lazy import lazy_exports

_LAZY = {
    **{name: "neutex.envmap.latlong" for name in (
        "EnvMap", "direction_to_uv", "mitsuba_to_world", "pixel_directions", "pixel_solid_angles", "read_envmap",
        "read_hdr", "rotation_about", "up_basis", "uv_to_direction", "write_envmap", "write_hdr")},
    "PRESET_NAMES": "neutex.envmap.presets",
    "make_envmap": "neutex.envmap.presets",
    "EnvLights": "neutex.envmap.sampling",
    "sample_envmap": "neutex.envmap.sampling",
    "cell_directions": "neutex.envmap.sampling",
    "cell_irradiance": "neutex.envmap.sampling",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
