from pathlib import Path

import numpy as np
import pytest

from neutex.capture import Capture, Frame, Light, Sequence, save_capture, write_exr

from testkit import ring_cameras, write_uv_icosphere


def pixel_value(v: int, l: int) -> float:
    """The constant value of frame (view v, light l) in test captures: identifies the pair."""
    return 0.1 + v + l / 16


def make_capture(root: Path, views: int = 4, lights: int = 8, res: int = 32, uvs: bool = True,
                 sequence: bool = False, skip: tuple = (), directional: int = 0) -> Path:
    """A tiny capture: an icosphere (radius 0.7) seen by pinhole cameras on a ring, point lights
    (the last ``directional`` ones directional), constant images ``pixel_value(v, l)``."""
    root = Path(root)
    write_uv_icosphere(root / "mesh.obj", uvs=uvs)
    cams = ring_cameras(res, np.linspace(0, 2 * np.pi, views, endpoint=False))
    rng = np.random.default_rng(1)
    lts = []
    for i in range(lights):
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        if i >= lights - directional:
            lts.append(Light(f"L{i:03d}", "directional", np.ones(3), direction=d))
        else:
            lts.append(Light(f"L{i:03d}", "point", np.full(3, 5.0), position=3 * d))
    frames = []
    for vi, c in enumerate(cams):
        for li, l in enumerate(lts):
            if (vi, li) in skip:
                continue
            rel = f"images/{c.id}/{l.id}.exr"
            write_exr(root / rel, np.full((res, res, 3), pixel_value(vi, li), np.float32))
            frames.append(Frame(c.id, l.id, rel))
    seqs = []
    if sequence:
        sl = [Light(f"S{t:03d}", "point", np.full(3, 5.0), position=[3 * np.cos(t), 3 * np.sin(t), 1.0]) for t in range(4)]
        lts += sl
        rels = []
        for t in range(4):
            rel = f"sweeps/S{t:03d}.exr"
            write_exr(root / rel, np.full((res, res, 3), 0.5 * t, np.float32))
            rels.append(rel)
        seqs.append(Sequence("sweep_cam00", cams[0].id, [l.id for l in sl], rels, fps=24.0))
    save_capture(Capture(root, cams, lts, frames, mesh="mesh.obj", sequences=seqs))
    return root / "capture.json"


@pytest.fixture
def capture_factory(tmp_path):
    def make(name="cap", **kw):
        return make_capture(tmp_path / name, **kw)

    return make


@pytest.fixture(scope="session")
def capture_maker():
    """:func:`make_capture` itself (for module-scoped fixtures)."""
    return make_capture


@pytest.fixture(scope="session")
def frame_value():
    """:func:`pixel_value` itself."""
    return pixel_value
