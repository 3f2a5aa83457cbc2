"""Helpers shared by test folders (imported as ``testkit``: tests/ is on sys.path through its
conftest). Fixtures stay in the conftest files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path


def set_at(path: list, value) -> Callable[[dict], None]:
    """An edit for :func:`edit_json`: set the value at ``path`` (keys and list indices)."""
    def fn(d):
        obj = d
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value
    return fn


def edit_json(path: Path, fn: Callable[[dict], None]) -> None:
    """Apply ``fn`` to the parsed JSON file (in place) and write it back."""
    d = json.loads(Path(path).read_text())
    fn(d)
    Path(path).write_text(json.dumps(d, indent=1))


def write_uv_icosphere(path: Path, subdivisions: int = 2, radius: float = 0.7, uvs: bool = True) -> Path:
    """An icosphere OBJ at the origin with unit normals and spherical uvs
    ``(0.5 + atan2(y, x) / 2π, 0.5 + asin(z) / π)`` (None with ``uvs=False``)."""
    import numpy as np
    import trimesh

    from neutex.capture.mesh import Mesh, save_mesh

    s = trimesh.creation.icosphere(subdivisions, radius=radius)
    v = np.asarray(s.vertices)
    n = v / np.linalg.norm(v, axis=1, keepdims=True)
    uv = np.stack([0.5 + np.arctan2(n[:, 1], n[:, 0]) / (2 * np.pi), 0.5 + np.arcsin(n[:, 2]) / np.pi], 1) if uvs else None
    save_mesh(Mesh(v, s.faces, uv, n), Path(path))
    return Path(path)


def ring_cameras(res: int, angles) -> list:
    """Square pinhole cameras (40° fov) at distance 3 and height 0.8 around the origin, one per
    angle (radians), looking at it with z up: ``cam00``, ``cam01``, ..."""
    import numpy as np

    from neutex.capture import Camera, look_at, pinhole_K

    return [Camera(f"cam{k:02d}", res, res, look_at([3 * np.cos(a), 3 * np.sin(a), 0.8], [0, 0, 0], [0, 0, 1]),
                   K=pinhole_K(res, res, 40.0)) for k, a in enumerate(angles)]
