"""Synthetic captures: procedural meshes and SVBRDF textures rendered with Mitsuba 3 on a
virtual light stage (``neutex synth``). Mitsuba is imported only inside functions.

Every name is imported on first use (:func:`neutex.lazy.lazy_exports`), so
``import neutex.synth`` stays light.
"""

from __future__ import annotations

from neutex.lazy import lazy_exports

_LAZY = {
    "DEFAULT_PRESET": "neutex.synth.config",
    "preset_config": "neutex.synth.config",
    "PRESETS": "neutex.synth.config",
    "SynthConfig": "neutex.synth.config",
    "lathe_mesh": "neutex.synth.mesh",
    "make_egg_mesh": "neutex.synth.mesh",
    "make_mesh": "neutex.synth.mesh",
    "make_vase_mesh": "neutex.synth.mesh",
    "ProceduralMesh": "neutex.synth.mesh",
    "write_obj": "neutex.synth.mesh",
    "bench_synth": "neutex.synth.render",
    "render_aovs": "neutex.synth.render",
    "synthesize": "neutex.synth.render",
    "build_aov_scene_dict": "neutex.synth.scene",
    "build_scene_dict": "neutex.synth.scene",
    "sensor_dict": "neutex.synth.scene",
    "to_mitsuba": "neutex.synth.scene",
    "light_stage_positions": "neutex.synth.stage",
    "pick_sweep_cameras": "neutex.synth.stage",
    "sweep_positions": "neutex.synth.stage",
    "turntable_cameras": "neutex.synth.stage",
    "make_textures": "neutex.synth.textures",
    "Textures": "neutex.synth.textures",
    "choose_variant": "neutex.synth.variant",
    "current_variant": "neutex.synth.variant",
    "probe_llvm": "neutex.synth.variant",
    "resolve_variant": "neutex.synth.variant",
    "set_variant": "neutex.synth.variant",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
