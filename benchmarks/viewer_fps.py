"""Viewer frame rate: what `neutex view` draws per second while the user drags.

Times :meth:`neutex.viewer.engine.ViewerEngine.frame` (everything but the websocket: buffers,
inputs, shadow map, UNet, tone map to uint8) on a trained run, for the three things a user
drags, each at the viewer's moving resolution (128 rows) and its still resolution (256 rows):

- ``light``: the camera still, a new point light every frame (cached view buffers + texture);
- ``camera``: a new camera pose every frame (rasterize, sample the texture, then render);
- ``envmap_K``: an environment map turned by a degree every frame, K exactly placed lights (what
  the viewer draws when still);
- ``turn_K``: the same with K world-fixed cells whose frames are cached per pose (the viewer's
  preview while the map turns: a re-weighting per frame).

    python benchmarks/viewer_fps.py RUN [--frames 30] [--threads 2] [--json OUT.json]

Prints frames/s per case; the issue's goal is >= 10 frames/s while dragging at 256² in bf16.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from neutex.envmap.latlong import rotation_about
from neutex.jsonio import write_json_atomic
from neutex.run import load_run
from neutex.viewer.engine import Lighting, ViewerEngine, camera_from_pose, fov_y_of, wxyz_of


def orbit_light(i: int, n: int) -> Lighting:
    a = 2 * math.pi * i / n
    return Lighting("point", source=np.array([3 * math.cos(a), 3 * math.sin(a), 2.0, 1.0]))


def quat_mul(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Hamilton product of two ``wxyz`` quaternions: the rotation ``q`` then ``p``."""
    w1, x1, y1, z1 = p
    w2, x2, y2, z2 = q
    return np.array([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2])


def time_frames(engine: ViewerEngine, frames: int, camera_of, lighting_of) -> float:
    """Mean seconds per frame over ``frames`` frames after two warm-up frames (oneDNN builds its
    kernels for a new shape on the first ones)."""
    for i in range(2):
        engine.frame(camera_of(i), lighting_of(i))
    t0 = time.perf_counter()
    for i in range(frames):
        engine.frame(camera_of(i + 2), lighting_of(i + 2))
    return (time.perf_counter() - t0) / frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--envmap-samples", type=int, nargs="+", default=[8, 64])
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    engine = ViewerEngine(load_run(a.run, device="cpu"), amp=torch.bfloat16)
    cam0 = engine.data.cameras[0]
    q, fov = wxyz_of(cam0), fov_y_of(cam0)
    rows = []
    for height in (128, 256):
        still = camera_from_pose(cam0.center_world, q, fov, height, cam0.width / cam0.height)

        def orbit(i: int, h=height) -> object:  # a new pose per frame: 2° a frame about the up axis
            deg = 2.0 * (i + 1)
            up = np.asarray(engine.data.up, float)
            turn = np.array([math.cos(math.radians(deg) / 2), *(math.sin(math.radians(deg) / 2) * up)])
            rot = rotation_about(up, deg)
            return camera_from_pose(rot @ cam0.center_world, quat_mul(turn, q), fov, h, cam0.width / cam0.height)

        cases = [("light", lambda i: still, lambda i: orbit_light(i, a.frames)),
                 ("camera", orbit, lambda i: orbit_light(0, a.frames))]
        if engine.can_move_camera is False:
            cases = cases[:1]
        for k in a.envmap_samples:
            cases.append((f"envmap_{k}", lambda i: still,
                          lambda i, k=k: Lighting("envmap", name="sky", samples=k, rotation_deg=float(i))))
            cases.append((f"turn_{k}", lambda i: still, lambda i, k=k: Lighting(
                "envmap", name="sky", samples=k, rotation_deg=float(i), fixed_cells=True)))
        for name, camera_of, lighting_of in cases:
            sec = time_frames(engine, a.frames, camera_of, lighting_of)
            rows.append({"case": name, "height": height, "ms": sec * 1e3, "frames_per_s": 1 / sec})
            print(f"{name:>10} {height:>4} rows: {sec * 1e3:7.1f} ms  {1 / sec:6.1f} frames/s", flush=True)
    engine.close()
    if a.json:
        write_json_atomic(a.json, {"run": str(a.run), "threads": a.threads, "precision": "bf16", "rows": rows})
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
