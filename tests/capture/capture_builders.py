"""Builders of tiny captures and DiLiGenT-like folders, written for real into tmp_path
(imported by conftest.py for the fixtures and by the tests for the expected values)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from neutex.capture import look_at, pinhole_K, write_exr, write_png_codes

W, H = 8, 6


def write_json(path: Path, d) -> Path:
    path.write_text(json.dumps(d, indent=1))
    return path


@pytest.fixture
def capture_dir(tmp_path) -> Path:
    """A valid capture: 2 pinhole cameras (8x6), 3 point lights, 6 frames (16-bit PNG for
    cam00, EXR for cam01), a frame mask, and a sequence reusing cam00's captured frames."""
    root = tmp_path / "cap"
    rng = np.random.default_rng(0)
    cams, frames = [], []
    for c, eye in enumerate(([0, -3, 1], [3, 0, 1])):
        cid = f"cam{c:02d}"
        cams.append({"id": cid, "model": "pinhole", "width": W, "height": H, "K": pinhole_K(W, H, 40).tolist(),
                     "world_to_camera": look_at(eye, [0, 0, 0], [0, 0, 1]).tolist()})
        for l in range(3):
            if c == 0:
                rel = f"images/{cid}/L{l:03d}.png"
                write_png_codes(root / rel, rng.integers(0, 60000, (H, W, 3)).astype(np.uint16))
            else:
                rel = f"images/{cid}/L{l:03d}.exr"
                write_exr(root / rel, rng.random((H, W, 3)).astype(np.float32))
            frames.append({"camera": cid, "light": f"L{l:03d}", "image": rel})
    write_png_codes(root / "masks/cam00_L000.png", np.ones((H, W), bool))
    frames[0]["mask"] = "masks/cam00_L000.png"
    lights = [{"id": f"L{l:03d}", "type": "point", "position": [np.cos(l), np.sin(l), 2.0], "intensity": [5, 5, 5]}
              for l in range(3)]
    (root / "mesh.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    d = {"format": "neutex-capture/1", "color_space": "linear", "up": [0, 0, 1], "mesh": "mesh.obj",
         "cameras": cams, "lights": lights, "frames": frames,
         "sequences": [{"name": "row_cam00", "camera": "cam00", "fps": 10, "lights": ["L000", "L001", "L002"],
                        "frames": [f["image"] for f in frames[:3]]}]}
    write_json(root / "capture.json", d)
    return root


# ----------------------------------------------------------------------------- DiLiGenT

#: the tiny DiLiGenT-like grid: 3 rows (y/z = 0.5, 0, -0.5, top to bottom) x 4 columns
#: (x/z = -0.5, 0, 0.5, 1.0); the light at (0, 0) points straight at the viewer.
GRID_Q = [-0.5, 0.0, 0.5, 1.0]
GRID_P = [0.5, 0.0, -0.5]
#: the order the lights are listed in (a shuffle), as (row, column) of the grid
LIST_ORDER = [(1, 1), (0, 3), (2, 0), (0, 0), (1, 3), (2, 2), (0, 1), (1, 0), (2, 3), (0, 2), (1, 2), (2, 1)]
FRONT_LIGHT = LIST_ORDER.index((1, 1))  # index of the light at (0, 0, 1)
#: (light index, row, column, channel) of pixels saturated at 65535 in the original files
SATURATED = [(3, 2, 3, 0), (3, 2, 4, 1), (7, 1, 1, 2)]
FRONT_NORMAL_PIXEL = (2, 3)  # its ground-truth normal is exactly (0, 0, 1)


def diligent_directions(jitter: float = 1e-3, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    d = []
    for k, (r, c) in enumerate(LIST_ORDER):
        v = np.array([GRID_Q[c], GRID_P[r], 1.0])
        if k != FRONT_LIGHT:
            v[:2] += rng.uniform(-jitter, jitter, 2)
        d.append(v / np.linalg.norm(v))
    return np.array(d)


def diligent_mask() -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[1:5, 1:7] = True
    return m


def diligent_normals() -> np.ndarray:
    """A bump: normals tilted away from the centre; zero outside the mask; (0,0,1) at FRONT_NORMAL_PIXEL."""
    rows, cols = np.mgrid[0:H, 0:W].astype(float)
    n = np.stack([(cols - 3) * 0.2, (3 - rows - 1) * 0.2, np.ones((H, W))], -1)  # y up: top rows tilt up
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    n[FRONT_NORMAL_PIXEL] = [0, 0, 1]
    return np.where(diligent_mask()[..., None], n, 0.0)


def diligent_codes() -> np.ndarray:
    """(L, H, W, 3) uint16: values 0x4000 + a low byte, so they differ only in the low byte,
    plus the SATURATED pixels at 65535."""
    rng = np.random.default_rng(2)
    codes = (0x4000 + rng.integers(0, 256, (len(LIST_ORDER), H, W, 3))).astype(np.uint16)
    for l, r, c, ch in SATURATED:
        codes[l, r, c, ch] = 65535
    return codes


def diligent_intensities() -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.uniform(0.4, 2.5, (len(LIST_ORDER), 3))


@pytest.fixture
def diligent_dir(tmp_path) -> Path:
    """A DiLiGenT-like object folder: 12 16-bit RGB PNGs (8x6), text files, mask, Normal_gt.mat."""
    src = tmp_path / "pmsData" / "toyPNG"
    src.mkdir(parents=True)
    codes = diligent_codes()
    names = [f"{i + 1:03d}.png" for i in range(len(LIST_ORDER))]
    for name, c in zip(names, codes):
        write_png_codes(src / name, c)
    (src / "filenames.txt").write_text("\n".join(names) + "\n")
    np.savetxt(src / "light_directions.txt", diligent_directions(), fmt="%.8f")
    np.savetxt(src / "light_intensities.txt", diligent_intensities(), fmt="%.8f")
    write_png_codes(src / "mask.png", diligent_mask())
    scipy.io.savemat(src / "Normal_gt.mat", {"Normal_gt": diligent_normals()})
    return src
