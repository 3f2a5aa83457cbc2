"""Synthetic captures: procedural meshes and SVBRDF textures rendered with Mitsuba 3 on a
virtual light stage (``neutex synth``). Mitsuba is imported only inside functions."""

from neutex.synth.config import DEFAULT_PRESET, PRESETS, SynthConfig, preset_config
from neutex.synth.mesh import ProceduralMesh, lathe_mesh, make_egg_mesh, make_mesh, make_vase_mesh, write_obj
from neutex.synth.render import bench_synth, render_aovs, synthesize
from neutex.synth.scene import build_aov_scene_dict, build_scene_dict, sensor_dict, to_mitsuba
from neutex.synth.stage import light_stage_positions, pick_sweep_cameras, sweep_positions, turntable_cameras
from neutex.synth.textures import Textures, make_textures
from neutex.synth.variant import choose_variant, current_variant, probe_llvm, resolve_variant, set_variant

__all__ = [
    "DEFAULT_PRESET", "PRESETS", "SynthConfig", "preset_config",
    "ProceduralMesh", "lathe_mesh", "make_egg_mesh", "make_mesh", "make_vase_mesh", "write_obj",
    "bench_synth", "render_aovs", "synthesize",
    "build_aov_scene_dict", "build_scene_dict", "sensor_dict", "to_mitsuba",
    "light_stage_positions", "pick_sweep_cameras", "sweep_positions", "turntable_cameras",
    "Textures", "make_textures",
    "choose_variant", "current_variant", "probe_llvm", "resolve_variant", "set_variant",
]
