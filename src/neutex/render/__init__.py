"""Rendering trained runs: light paths, camera orbits, batched frames, video writing, and the
``neutex render`` pipeline (docs/render.md).

Names are imported on first use, so ``import neutex.render`` (and ``neutex --help``) stays light.
"""

from __future__ import annotations

from neutex.lazy import lazy_exports

_LAZY = {
    "circle_light_sources": "neutex.render.lights",
    "azimuth_deg": "neutex.render.lights",
    "elevation_deg": "neutex.render.lights",
    "stage_light_distance": "neutex.render.lights",
    "sweep_sources": "neutex.render.lights",
    "rotate_sources": "neutex.render.lights",
    "jitter_sources": "neutex.render.lights",
    "orbit_cameras": "neutex.render.cameras",
    "orbit_start_deg": "neutex.render.cameras",
    "ring_of": "neutex.render.cameras",
    "to_uint8": "neutex.render.video",
    "error_heatmap": "neutex.render.video",
    "caption": "neutex.render.video",
    "hstack": "neutex.render.video",
    "write_video": "neutex.render.video",
    "read_video": "neutex.render.video",
    "RenderConfig": "neutex.render.config",
    "RenderCommand": "neutex.render.command",
    "RenderResult": "neutex.render.pipeline",
    "render_video": "neutex.render.pipeline",
    "resolve_view": "neutex.render.pipeline",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
