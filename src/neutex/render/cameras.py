"""Camera paths for orbit videos: new cameras on a ring about the up axis, looking at the
centre, with the intrinsics of a dataset camera."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from neutex.capture.schema import Camera, look_at
from neutex.errors import DataError
from neutex.render.lights import azimuth_deg, circle_light_sources, elevation_deg


def ring_of(cameras: list[Camera], up=(0, 0, 1), center=(0, 0, 0)) -> dict[str, float]:
    """Where the dataset's cameras sit: mean distance from ``center`` and mean elevation above
    the plane perpendicular to ``up`` (degrees).

    Examples:
        >>> from neutex.capture.schema import pinhole_K
        >>> cams = [Camera(f"c{k}", 8, 8, look_at([2 * np.cos(a), 2 * np.sin(a), 2.0], [0, 0, 0], [0, 0, 1]),
        ...                K=pinhole_K(8, 8, 40)) for k, a in enumerate([0.0, 1.0, 2.0])]
        >>> {k: round(v, 6) for k, v in ring_of(cams).items()}
        {'distance': 2.828427, 'elevation_deg': 45.0}
    """
    if not cameras:
        raise DataError("cameras: no camera to place an orbit ring by")
    c = np.asarray(center, float)
    centres = np.stack([cam.center_world for cam in cameras])
    return {"distance": float(np.mean(np.linalg.norm(centres - c, axis=1))),
            "elevation_deg": float(np.mean([elevation_deg(p, up, c) for p in centres]))}


def orbit_cameras(template: Camera, n: int, distance: float, elevation_deg: float = 30.0, up=(0, 0, 1),
                  center=(0, 0, 0), start_deg: float = 0.0, turns: float = 1.0) -> list[Camera]:
    """``n`` cameras evenly spaced on a circle about ``up`` (the orbit path), each looking at
    ``center`` with ``up`` towards the top of the image, with ``template``'s intrinsics (``K``,
    or ``scale``/``center`` for an orthographic camera) and image size.

    Frame ``k`` sits at azimuth ``start_deg + 360° · turns · k / n`` (as
    :func:`~neutex.render.lights.circle_light_sources`: the loop closes without a repeated frame).

    Returns:
        cameras with ids ``orbit0000``, ``orbit0001``, ...

    Examples:
        >>> from neutex.capture.schema import pinhole_K
        >>> t = Camera("c", 8, 8, np.eye(4), K=pinhole_K(8, 8, 40))
        >>> cams = orbit_cameras(t, 4, 3.0, 0.0)
        >>> np.round(cams[1].center_world, 6) + 0.0, np.round(cams[1].forward_world, 6) + 0.0
        (array([0., 3., 0.]), array([ 0., -1.,  0.]))
    """
    if n < 1:
        raise DataError(f"frames: an orbit needs at least 1 frame, got {n}")
    if not distance > 0:
        raise DataError(f"orbit distance: must be positive, got {distance}")
    eyes = circle_light_sources(n, distance, elevation_deg, up, center, start_deg, turns=turns)[:, :3]
    cams = []
    for k, eye in enumerate(eyes):
        w2c = look_at(eye, center, up)
        cams.append(replace(template, id=f"orbit{k:04d}", world_to_camera=w2c, gbuffer=None))
    return cams


def orbit_start_deg(camera: Camera, up=(0, 0, 1), center=(0, 0, 0)) -> float:
    """Azimuth of ``camera``'s centre: an orbit starting there begins next to that camera."""
    return azimuth_deg(camera.center_world, up, center)

