import numpy as np
import pytest
import trimesh

from neutex.capture.mesh import Mesh
from neutex.errors import DependencyError


@pytest.fixture(scope="session")
def rasterizer():
    """One GL context for the session; tests needing it are skipped where EGL is unavailable."""
    from neutex.gbuffer import Rasterizer

    try:
        r = Rasterizer()
    except DependencyError as exc:
        pytest.skip(f"no EGL: {exc}")
    yield r
    r.release()


def sphere_mesh(subdivisions: int = 3, radius: float = 1.0) -> Mesh:
    s = trimesh.creation.icosphere(subdivisions, radius=radius)
    v = np.asarray(s.vertices)
    n = v / np.linalg.norm(v, axis=1, keepdims=True)
    uv = np.stack([0.5 + np.arctan2(n[:, 1], n[:, 0]) / (2 * np.pi), 0.5 + np.arcsin(np.clip(n[:, 2], -1, 1)) / np.pi], 1)
    return Mesh(v, s.faces, uv, n)


@pytest.fixture
def sphere():
    return sphere_mesh()


@pytest.fixture
def make_sphere():
    return sphere_mesh
