"""G-buffer rasterization (uv, normal, position, mask, depth per view) with moderngl on
headless EGL, shadow maps (:mod:`neutex.gbuffer.shadow`), and a numpy oracle the GL path is
tested against (:mod:`neutex.gbuffer.oracle`). moderngl is imported when a context is made.

Every name is imported on first use (:func:`neutex.lazy.lazy_exports`), so
``import neutex.gbuffer`` stays light.
"""

from __future__ import annotations

from neutex.lazy import lazy_exports

_LAZY = {
    "gl_projection": "neutex.gbuffer.projection",
    "project_points": "neutex.gbuffer.projection",
    "create_context": "neutex.gbuffer.raster",
    "rasterize_gbuffers": "neutex.gbuffer.raster",
    "Rasterizer": "neutex.gbuffer.raster",
    "rasterize_oracle": "neutex.gbuffer.oracle",
    "light_frustum": "neutex.gbuffer.shadow",
    "pcf_visibility": "neutex.gbuffer.shadow",
    "ShadowCaster": "neutex.gbuffer.shadow",
    "ShadowMap": "neutex.gbuffer.shadow",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
