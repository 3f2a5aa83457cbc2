"""An analytic prepared dataset (a Lambertian sphere seen by orthographic cameras), written
without OpenGL, images or a capture: for benchmarks and for tests of code downstream of
``prepare``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from neutex.capture.mesh import Mesh, save_mesh
from neutex.capture.schema import Camera, Light, look_at
from neutex.data.prepared import PreparedWriter
from neutex.data.splits import make_split
from neutex.model.pixel_geometry import lambert_shading


def write_synthetic_prepared(root: str | Path, views: int = 4, lights: int = 8, res: int = 32, seed: int = 0,
                             view_fraction: float = 0.75, light_fraction: float = 0.75, sequence_frames: int = 0,
                             mesh: bool = False) -> Path:
    """Write a prepared dataset of a unit-albedo-textured sphere (radius 0.8 at the origin).

    Cameras are orthographic, on a ring at height 0.5 looking at the origin; lights are point
    lights on a sphere of radius 3. Images are Lambertian (albedo from a checker in uv) with the
    inverse-square falloff. ``sequence_frames`` > 0 adds a sequence ``sweep`` at view 0.
    ``mesh`` also writes ``mesh.obj``, a tessellated sphere of the same radius, so that what
    needs the mesh (shadow maps, orbits) works on it.

    Returns:
        ``root``.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    radius = 0.8
    cams = []
    for k, a in enumerate(np.linspace(0, 2 * np.pi, views, endpoint=False)):
        eye = np.array([3 * np.cos(a), 3 * np.sin(a), 0.5])
        s = (res - 1) / 2.0 / 1.0  # +-1 world unit fills the image
        cams.append(Camera(f"cam{k:02d}", res, res, look_at(eye, [0, 0, 0], [0, 0, 1]), "orthographic",
                           scale=(s, s), center=((res - 1) / 2, (res - 1) / 2)))

    def point_light(i: int, d: np.ndarray) -> Light:
        return Light(f"L{i:03d}", "point", np.full(3, 9.0), position=3 * d / np.linalg.norm(d))

    light_list = [point_light(i, rng.normal(size=3) + [0, 0, 0.5]) for i in range(lights)]
    w = PreparedWriter(root, cams, light_list, res, res)
    jj, ii = np.mgrid[0:res, 0:res].astype(np.float64)
    gbufs = []
    for v, cam in enumerate(cams):
        X = (ii - cam.center[0]) / cam.scale[0]
        Y = (jj - cam.center[1]) / cam.scale[1]
        r2 = X**2 + Y**2
        mask = r2 < radius**2
        dist = np.linalg.norm(cam.center_world)
        Z = np.where(mask, dist - np.sqrt(np.clip(radius**2 - r2, 0, None)), 0.0)
        pc = np.stack([X, Y, Z], -1)
        c2w = cam.camera_to_world
        pos = (pc @ c2w[:3, :3].T + c2w[:3, 3]) * mask[..., None]
        normal = pos / radius
        uv = np.stack([0.5 + np.arctan2(normal[..., 1], normal[..., 0]) / (2 * np.pi),
                       0.5 + np.arcsin(np.clip(normal[..., 2], -1, 1)) / np.pi], -1) * mask[..., None]
        g = {"uv": uv, "normal": normal, "position": pos, "mask": mask, "depth": Z}
        w.set_gbuffer(v, g)
        gbufs.append(g)

    def shade(g: dict, light: Light) -> np.ndarray:
        checker = ((np.floor(g["uv"][..., 0] * 8) + np.floor(g["uv"][..., 1] * 4)) % 2) * 0.5 + 0.3
        # float64, masked: the images are exactly what a Lambertian model of the diffuse cue predicts
        shading = lambert_shading(g["position"], g["normal"], light.source[None], np.asarray(light.intensity)[None],
                                  torch.float64)[0].numpy() * g["mask"][..., None]
        return (checker[..., None] * shading / np.pi).astype(np.float32)

    for v in range(views):
        for l, light in enumerate(light_list):
            w.set_image(v, l, shade(gbufs[v], light))
    if sequence_frames:
        angles = np.linspace(0, 2 * np.pi, sequence_frames, endpoint=False)
        seq_lights = [Light(f"S{t:03d}", "point", np.full(3, 9.0), position=np.array([3 * np.cos(a), 3 * np.sin(a), 1.0]))
                      for t, a in enumerate(angles)]
        arr = w.add_sequence("sweep", 0, 30.0, seq_lights, [-1] * sequence_frames, sequence_frames)
        for t, light in enumerate(seq_lights):
            arr[t] = shade(gbufs[0], light)
    split = make_split([c.id for c in cams], [l.id for l in light_list], view_fraction, light_fraction, seed)
    w.finish(split, {"seed": seed, "view_fraction": view_fraction, "light_fraction": light_fraction, "source": "synthetic"},
             {"source": {"capture": None, "synthetic": True}})
    if mesh:
        save_mesh(sphere_mesh(radius), root / "mesh.obj")
    return root


def sphere_mesh(radius: float, segments: int = 48) -> Mesh:
    """A UV sphere (``segments`` around, ``segments / 2`` from pole to pole) with the dataset's
    spherical uvs: u = 0.5 + atan2(y, x) / 2π, v = 0.5 + asin(z) / π."""
    rings = segments // 2
    th = np.linspace(-np.pi / 2, np.pi / 2, rings + 1)
    ph = np.linspace(-np.pi, np.pi, segments + 1)
    T, P = np.meshgrid(th, ph, indexing="ij")
    n = np.stack([np.cos(T) * np.cos(P), np.cos(T) * np.sin(P), np.sin(T)], -1).reshape(-1, 3)
    uv = np.stack([0.5 + P / (2 * np.pi), 0.5 + T / np.pi], -1).reshape(-1, 2)
    idx = np.arange((rings + 1) * (segments + 1)).reshape(rings + 1, segments + 1)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    faces = np.concatenate([np.stack([a, b, d], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)])
    return Mesh((radius * n).astype(np.float32), faces.astype(np.int32), uv.astype(np.float32), n.astype(np.float32))
