"""The side benches of ``neutex bench``: the loader and the G-buffer rasterizer, each on data it
makes itself. Shadow maps are measured where they are used (the ``inputs`` and ``sweep``
rows); the synth bench needs Mitsuba's internals and lives in :mod:`neutex.synth.render`.
They live here, above the packages they measure, so those packages never import benchmark
scaffolding (a synthetic dataset, procedural meshes)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import trimesh

from neutex.capture.mesh import Mesh
from neutex.capture.schema import Camera, look_at, pinhole_K
from neutex.data.loader import PairLoader
from neutex.data.prepared import PreparedData
from neutex.data.synthetic import write_synthetic_prepared
from neutex.gbuffer.raster import Rasterizer


def _ring_cameras(res: int, n: int = 8) -> list[Camera]:
    """``n`` pinhole cameras on a ring of radius 3 at height 1, looking at the origin."""
    return [Camera(f"c{k}", res, res, look_at([3 * np.cos(a), 3 * np.sin(a), 1.0], [0, 0, 0], [0, 0, 1]),
                   K=pinhole_K(res, res, 40.0)) for k, a in enumerate(np.linspace(0, 2 * np.pi, n, endpoint=False))]


def bench_loader(res: int = 256, batch_size: int = 1, batches: int = 200, views: int = 4, lights: int = 16) -> dict:
    """Loader speed on a synthetic prepared dataset (``views`` x ``lights`` at ``res``², in a
    temporary folder): samples per second through :class:`PairLoader` on the CPU.

    Returns:
        ``{"name": "loader", "res", "ms" (per sample), "per_s" (samples/s), "batch_size"}``.
    """
    with tempfile.TemporaryDirectory(prefix="neutex-bench-") as tmp:
        root = write_synthetic_prepared(Path(tmp) / "prepared", views=views, lights=lights, res=res)
        data = PreparedData.open(root)
        loader = PairLoader(data, data.pairs("train"), batch_size=batch_size, shuffle=True, seed=0)
        for _ in zip(range(2), loader):  # warm-up: page cache, allocator
            pass
        n, epoch, t0 = 0, 0, time.perf_counter()
        while n < batches:
            loader.set_epoch(epoch)
            for batch in loader:
                n += 1
                if n >= batches:
                    break
            epoch += 1
        dt = time.perf_counter() - t0
        samples = n * batch_size
        del loader, data, batch
    return {"name": "loader", "res": res, "ms": dt / samples * 1e3, "per_s": samples / dt, "batch_size": batch_size}


def bench_gbuffer(res: int = 256, frames: int = 50, subdivisions: int = 4) -> dict:
    """G-buffer speed: ``frames`` renders (with readback) of an icosphere at ``res``².

    Returns:
        ``{"name": "gbuffer", "res", "ms" (per frame), "per_s" (frames/s), "faces"}``.
    """
    s = trimesh.creation.icosphere(subdivisions)
    v = np.asarray(s.vertices)
    uv = np.stack([0.5 + np.arctan2(v[:, 1], v[:, 0]) / (2 * np.pi), 0.5 + np.arcsin(np.clip(v[:, 2], -1, 1)) / np.pi], 1)
    mesh = Mesh(v, s.faces, uv, np.asarray(s.vertex_normals))
    cams = _ring_cameras(res)
    with Rasterizer() as r:
        r.render(mesh, cams[0])  # warm-up: shader compile, upload
        t0 = time.perf_counter()
        for k in range(frames):
            r.render(mesh, cams[k % len(cams)])
        dt = (time.perf_counter() - t0) / frames
    return {"name": "gbuffer", "res": res, "ms": dt * 1e3, "per_s": 1.0 / dt, "faces": int(len(mesh.faces))}
