"""The synthetic light stage: a turntable ring of cameras, point lights on the faces of a cube,
and light sweeps on a circle about the up axis (+z). Pure numpy; ids and geometry only."""

from __future__ import annotations

import math

import numpy as np

from neutex.capture.schema import Camera, look_at, pinhole_K
from neutex.data.splits import make_split

#: Cube faces in light-id order: (normal axis, sign).
CUBE_FACES = ((0, 1.0), (0, -1.0), (1, 1.0), (1, -1.0), (2, 1.0), (2, -1.0))


def id_width(n: int, minimum: int) -> int:
    """Digits for zero-padded ids of ``n`` items (at least ``minimum``)."""
    return max(minimum, len(str(max(n - 1, 0))))


def light_stage_positions(lights_per_face: int, half_size: float) -> np.ndarray:
    """Point-light positions on the six faces of a cube centred at the origin.

    Each face carries an ``n x n`` grid at the cell centres, so positions on a face run from
    ``-half_size (1 - 1/n)`` to ``+half_size (1 - 1/n)``. Faces come in the order +x, -x, +y,
    -y, +z, -z; inside a face the grid is row-major over the two other axes in increasing
    axis order.

    Args:
        lights_per_face: n (the origin stage used 8: 384 lights).
        half_size: half the cube's edge length (distance from the centre to each face).

    Returns:
        ``(6 n², 3)`` float64 world positions.

    Examples:
        >>> light_stage_positions(1, 2.0)[:2].tolist()
        [[2.0, 0.0, 0.0], [-2.0, 0.0, 0.0]]
    """
    n = int(lights_per_face)
    g = ((np.arange(n) + 0.5) / n * 2 - 1) * half_size
    a, b = np.meshgrid(g, g, indexing="ij")
    out = []
    for axis, sign in CUBE_FACES:
        others = [k for k in range(3) if k != axis]
        p = np.zeros((n * n, 3))
        p[:, axis] = sign * half_size
        p[:, others[0]] = a.ravel()
        p[:, others[1]] = b.ravel()
        out.append(p)
    return np.concatenate(out)


def sweep_positions(frames: int, radius: float, elevation_deg: float, start_deg: float = 0.0) -> np.ndarray:
    """Light positions on a horizontal circle about +z: a closed loop of ``frames`` steps.

    Frame t sits at azimuth ``start + 360° t / frames`` and elevation ``elevation_deg``, at
    distance ``radius`` from the origin (so the circle's own radius is ``radius cos(elev)``).

    Returns:
        ``(frames, 3)`` float64.

    Examples:
        >>> p = sweep_positions(4, 2.0, 0.0)
        >>> np.round(p, 6).tolist()[:2]
        [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
    """
    az = np.radians(start_deg) + 2 * np.pi * np.arange(frames) / frames
    el = math.radians(elevation_deg)
    return radius * np.stack([math.cos(el) * np.cos(az), math.cos(el) * np.sin(az), np.full(frames, math.sin(el))], -1)


def turntable_cameras(views: int, res: int, distance: float, elevation_deg: float, fov_deg: float,
                      target_z: float = 0.0) -> list[Camera]:
    """A ring of ``views`` pinhole cameras about +z, looking at ``(0, 0, target_z)``.

    Camera i sits at azimuth ``360° i / views``, elevation ``elevation_deg``, distance
    ``distance`` from the target; ``K`` is :func:`~neutex.capture.pinhole_K` (principal point
    at ``((W-1)/2, (H-1)/2)``); world up (+z) points to the top of the image.

    Examples:
        >>> cams = turntable_cameras(4, 32, 3.0, 0.0, 30.0)
        >>> [c.id for c in cams], (np.round(cams[0].center_world, 6) + 0.0).tolist()
        (['cam00', 'cam01', 'cam02', 'cam03'], [3.0, 0.0, 0.0])
    """
    w = id_width(views, 2)
    target = np.array([0.0, 0.0, target_z])
    el = math.radians(elevation_deg)
    K = pinhole_K(res, res, fov_deg)
    cams = []
    for i in range(views):
        az = 2 * math.pi * i / views
        eye = target + distance * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
        cams.append(Camera(f"cam{i:0{w}d}", res, res, look_at(eye, target, [0.0, 0.0, 1.0]), "pinhole", K=K.copy()))
    return cams


def pick_sweep_cameras(view_ids: list[str], light_ids: list[str], count: int) -> list[str]:
    """Cameras for ground-truth sweeps, alternating held-out and seen views of the default split
    (``make_split(view_ids, light_ids, 7/8, 7/8, seed=0)``), held-out first, so that any
    ``count >= 2`` covers both kinds (when there are at least two views).

    Examples:
        >>> pick_sweep_cameras([f"cam{i:02d}" for i in range(8)], ["L0", "L1"], 2)
        ['cam04', 'cam00']
    """
    split = make_split(list(view_ids), list(light_ids), 7 / 8, 7 / 8, seed=0)
    held, seen = list(split.held_out_views), list(split.seen_views)
    order: list[str] = []
    while held or seen:
        if held:
            order.append(held.pop(0))
        if seen:
            order.append(seen.pop(0))
    return order[: max(0, count)]
