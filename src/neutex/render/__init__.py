"""Rendering trained runs: light paths, camera orbits, batched frames, video writing, and the
``neutex render`` pipeline (docs/render.md).

Every name is imported on first use (:func:`neutex.lazy.lazy_exports`), so
``import neutex.render`` stays light.
"""

from __future__ import annotations

from neutex.lazy import lazy_exports

_LAZY = {
    "azimuth_deg": "neutex.render.lights",
    "circle_light_sources": "neutex.render.lights",
    "elevation_deg": "neutex.render.lights",
    "jitter_sources": "neutex.render.lights",
    "rotate_sources": "neutex.render.lights",
    "stage_light_distance": "neutex.render.lights",
    "sweep_sources": "neutex.render.lights",
    "orbit_cameras": "neutex.render.cameras",
    "orbit_start_deg": "neutex.render.cameras",
    "ring_of": "neutex.render.cameras",
    "caption": "neutex.render.video",
    "error_heatmap": "neutex.render.video",
    "hstack": "neutex.render.video",
    "read_video": "neutex.render.video",
    "to_uint8": "neutex.render.video",
    "write_video": "neutex.render.video",
    "RenderConfig": "neutex.render.config",
    "RenderCommand": "neutex.render.command",
    "render_video": "neutex.render.pipeline",
    "RenderResult": "neutex.render.pipeline",
    "resolve_view": "neutex.render.pipeline",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
