"""HDR environment maps: the lat-long convention, reading and writing maps, procedural maps,
and turning a map into directional lights (docs/render.md, "Environment maps"). numpy only."""

from neutex.envmap.latlong import (EnvMap, direction_to_uv, mitsuba_to_world, pixel_directions, pixel_solid_angles,
                                   read_envmap, read_hdr, rotation_about, up_basis, uv_to_direction, write_envmap,
                                   write_hdr)
from neutex.envmap.presets import PRESET_NAMES, make_envmap
from neutex.envmap.sampling import EnvLights, sample_envmap

__all__ = [
    "EnvMap", "direction_to_uv", "mitsuba_to_world", "pixel_directions", "pixel_solid_angles", "read_envmap",
    "read_hdr", "rotation_about", "up_basis", "uv_to_direction", "write_envmap", "write_hdr",
    "PRESET_NAMES", "make_envmap", "EnvLights", "sample_envmap",
]
