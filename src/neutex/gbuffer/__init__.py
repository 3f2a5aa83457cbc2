"""G-buffer rasterization (uv, normal, position, mask, depth per view): moderngl on headless
EGL, and a pure-numpy reference for tests."""

from neutex.gbuffer.projection import gl_projection, project_points
from neutex.gbuffer.raster import GBUFFER_KEYS, Rasterizer, bench_gbuffer, create_context, rasterize_gbuffers
from neutex.gbuffer.reference import rasterize_reference

__all__ = [
    "GBUFFER_KEYS", "Rasterizer", "bench_gbuffer", "create_context", "gl_projection", "project_points",
    "rasterize_gbuffers", "rasterize_reference",
]
