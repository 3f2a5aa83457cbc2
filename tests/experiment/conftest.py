"""Fixtures of tests/experiment: tiny data (an analytic prepared dataset; a mesh capture) and
suite files, all far below a second of training per variant."""

from pathlib import Path

import numpy as np
import pytest

from testkit import ring_cameras, write_uv_icosphere

@pytest.fixture
def suite_file(tmp_path, tiny_base):
    """``suite_file(variants, base=None, **top) -> Path`` of a suite YAML in tmp_path
    (``base`` defaults to the root conftest's ``tiny_base``)."""
    import yaml

    def make(variants: dict, base: dict | None = None, name: str = "tiny", **top) -> Path:
        path = tmp_path / f"{name}.yaml"
        d = {"name": path.stem, "split": {"view_fraction": 0.75, "light_fraction": 0.75},
             "base": tiny_base if base is None else base, "variants": variants, **top}
        path.write_text(yaml.safe_dump(d, sort_keys=False))
        return path

    return make


@pytest.fixture(scope="session")
def tiny_capture(tmp_path_factory, egl) -> Path:
    """A capture: an icosphere seen by 4 pinhole cameras under 8 point lights at 32², images
    Lambertian-ish (a constant albedo times the cosine of the light at the sphere's centre)."""

    from neutex.capture import Capture, Frame, Light, save_capture, write_exr

    root = tmp_path_factory.mktemp("cap") / "capture"
    write_uv_icosphere(root / "mesh.obj")
    res = 32
    cams = ring_cameras(res, np.linspace(0, 2 * np.pi, 4, endpoint=False))
    rng = np.random.default_rng(1)
    lights, frames = [], []
    for i in range(8):
        d = rng.normal(size=3)
        lights.append(Light(f"L{i:03d}", "point", np.full(3, 5.0), position=3 * d / np.linalg.norm(d)))
    for c in cams:
        for l in lights:
            rel = f"images/{c.id}/{l.id}.exr"
            write_exr(root / rel, np.full((res, res, 3), 0.2 + 0.1 * float(l.position[2]), np.float32))
            frames.append(Frame(c.id, l.id, rel))
    save_capture(Capture(root, cams, lights, frames, mesh="mesh.obj"), root / "capture.json")
    return root
