"""Tiny valid inputs the bad-input corpus breaks, one way per case (see test_corpus.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from neutex.capture import Capture, Frame, Light, Sequence, save_capture, write_exr
from neutex.capture.imageio import write_png_codes

from testkit import ring_cameras, write_uv_icosphere

RES = 16


def write_tiny_capture(root: Path) -> Path:
    """A valid capture at 16²: an icosphere (radius 0.7, with uvs), 2 pinhole cameras, 3
    point lights; cam00's frames are 16-bit PNGs sharing a mask, cam01's are EXRs; a 3-frame
    ground-truth sweep with its own lights. Returns the folder."""
    root = Path(root)
    write_uv_icosphere(root / "mesh.obj", subdivisions=1)
    cams = ring_cameras(RES, (0.0, 2.0))
    lights = [Light(f"L{i:03d}", "point", np.full(3, 5.0), position=[3 * np.cos(i), 3 * np.sin(i), 2.0])
              for i in range(3)]
    rng = np.random.default_rng(0)
    write_png_codes(root / "masks/cam00.png", np.ones((RES, RES), bool))
    frames = []
    for c in cams:
        for light in lights:
            if c.id == "cam00":
                rel = f"images/{c.id}/{light.id}.png"
                write_png_codes(root / rel, rng.integers(8000, 30000, (RES, RES, 3)).astype(np.uint16))
                frames.append(Frame(c.id, light.id, rel, "masks/cam00.png"))
            else:
                rel = f"images/{c.id}/{light.id}.exr"
                write_exr(root / rel, rng.uniform(0.1, 0.5, (RES, RES, 3)).astype(np.float32))
                frames.append(Frame(c.id, light.id, rel))
    sweep = [Light(f"S{t:03d}", "point", np.full(3, 5.0), position=[3 * np.cos(t), 3 * np.sin(t), 1.0]) for t in range(3)]
    rels = []
    for t in range(3):
        rels.append(f"sweeps/S{t:03d}.exr")
        write_exr(root / rels[-1], np.full((RES, RES, 3), 0.2 + 0.1 * t, np.float32))
    save_capture(Capture(root, cams, lights + sweep, frames, mesh="mesh.obj",
                         sequences=[Sequence("sweep", "cam00", [l.id for l in sweep], rels, fps=10.0)]))
    return root




def tree_digest(*roots: Path) -> dict[str, str]:
    """{path: sha256} of every file (and symlink target) under ``roots``."""
    out = {}
    for root in roots:
        for p in sorted(Path(root).rglob("*")):
            if p.is_symlink():
                out[str(p)] = f"-> {p.readlink()}"
            elif p.is_file():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
