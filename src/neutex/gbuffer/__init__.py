"""G-buffer rasterization (uv, normal, position, mask, depth per view): moderngl on headless
EGL, and a numpy oracle for tests (:mod:`neutex.gbuffer.oracle`). Shadow maps (:mod:`neutex.gbuffer.shadow`, which
imports torch) are imported on first use."""

from neutex.gbuffer.projection import gl_projection, project_points
from neutex.gbuffer.raster import Rasterizer, create_context, rasterize_gbuffers
from neutex.gbuffer.oracle import rasterize_oracle
from neutex.lazy import lazy_exports

_LAZY = {
    "ShadowCaster": "neutex.gbuffer.shadow",
    "ShadowMap": "neutex.gbuffer.shadow",
    "light_frustum": "neutex.gbuffer.shadow",
    "pcf_visibility": "neutex.gbuffer.shadow",
}

_lazy_all, __getattr__ = lazy_exports(__name__, _LAZY)

__all__ = [
    "Rasterizer", "create_context", "gl_projection", "project_points",
    "rasterize_gbuffers", "rasterize_oracle", *_lazy_all,
]
