"""Light paths for sweeps and regularisers, as homogeneous sources ``(N, 4)`` (see
:func:`neutex.geometry.directions_to`): ``w = 1`` point lights, ``w = 0`` directional."""

from __future__ import annotations

import math

import numpy as np
import torch

from neutex.envmap.latlong import direction_at, up_basis


def circle_light_sources(n: int, radius: float, elevation_deg: float = 30.0, up=(0, 0, 1),
                         center=(0, 0, 0), start_deg: float = 0.0, directional: bool = False,
                         turns: float = 1.0) -> np.ndarray:
    """``n`` lights evenly spaced on a circle about ``up`` (the light-sweep path).

    Frame ``k`` sits at azimuth ``start_deg + 360° · turns · k / n``: with whole ``turns`` the
    last frame stops one step short of the first, so the video loops without a repeated or a
    skipped frame.

    Args:
        n: number of frames.
        radius: distance from ``center`` (point lights); ignored for directional lights.
        elevation_deg: angle above the plane perpendicular to ``up``.
        up: rotation axis (capture.json ``up``); need not be unit.
        center: centre of the circle (point lights).
        start_deg: azimuth of the first light, measured as :func:`azimuth_deg` measures it.
        directional: directional lights (w = 0, unit vectors towards the light) instead of
            point lights.
        turns: revolutions over the ``n`` frames (negative: clockwise seen from ``up``).

    Returns:
        ``(n, 4)`` float64 homogeneous sources.

    Examples:
        >>> s = circle_light_sources(4, 2.0, 0.0)
        >>> np.round(s, 6).tolist()[0], float(np.linalg.norm(s[1, :3]))
        ([2.0, 0.0, 0.0, 1.0], 2.0)
        >>> circle_light_sources(4, 1.0, 90.0, directional=True)[2].round(6).tolist() == [0, 0, 1, 0]
        True
    """
    dirs = direction_at(start_deg + 360.0 * turns * np.arange(n) / n, np.full(n, float(elevation_deg)), up)
    if directional:
        return np.concatenate([dirs, np.zeros((n, 1))], 1)
    return np.concatenate([np.asarray(center, float) + radius * dirs, np.ones((n, 1))], 1)


def azimuth_deg(point, up=(0, 0, 1), center=(0, 0, 0)) -> float:
    """Azimuth (degrees) of ``point`` about the axis ``up`` through ``center``, in the same frame
    as :func:`circle_light_sources`' ``start_deg`` (so a circle can start at a camera).

    Examples:
        >>> s = circle_light_sources(1, 2.0, 20.0, up=(0, 1, 1), start_deg=75.0)
        >>> round(azimuth_deg(s[0, :3], up=(0, 1, 1)), 6)
        75.0
    """
    e1, e2, _ = up_basis(up)
    d = np.asarray(point, float) - np.asarray(center, float)
    return math.degrees(math.atan2(float(d @ e2), float(d @ e1)))


def elevation_deg(point, up=(0, 0, 1), center=(0, 0, 0)) -> float:
    """Angle (degrees) of ``point`` above the plane through ``center`` perpendicular to ``up``.

    Examples:
        >>> round(elevation_deg([1.0, 0.0, 1.0]), 6)
        45.0
    """
    _, _, up = up_basis(up)
    d = np.asarray(point, float) - np.asarray(center, float)
    return math.degrees(math.asin(float(np.clip(d @ up / max(np.linalg.norm(d), 1e-12), -1.0, 1.0))))


def stage_light_distance(light_sources: np.ndarray) -> float | None:
    """Median distance of the point lights ``(L, 4)`` from the origin; None when every light is
    directional (then sweeps are directional too).

    Examples:
        >>> stage_light_distance(np.array([[3.0, 0, 0, 1], [0, 4.0, 0, 1], [0, 0, 1.0, 0]]))
        3.5
    """
    src = np.asarray(light_sources, float).reshape(-1, 4)
    point = src[src[:, 3] > 0.5]
    if len(point) == 0:
        return None
    return float(np.median(np.linalg.norm(point[:, :3], axis=1)))


def sweep_sources(data, n: int, elevation_deg: float = 30.0) -> np.ndarray:
    """The default light sweep of a prepared dataset: ``n`` lights on a circle about its up
    axis at the stage lights' median distance (directional when every stage light is)."""
    radius = stage_light_distance(data.light_sources)
    return circle_light_sources(n, radius or 1.0, elevation_deg, data.up, directional=radius is None)


def _rodrigues(v: torch.Tensor, axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate vectors ``(B, 3)`` about unit axes ``(B, 3)`` or ``(3,)`` by angles ``(B,)``."""
    axis = axis.expand_as(v)
    cos, sin = torch.cos(angle)[:, None], torch.sin(angle)[:, None]
    kv = (v * axis).sum(-1, keepdim=True)
    return v * cos + torch.cross(axis, v, dim=-1) * sin + axis * kv * (1 - cos)


def rotate_sources(sources: torch.Tensor, up: torch.Tensor, angle_rad: torch.Tensor,
                   center: torch.Tensor | None = None) -> torch.Tensor:
    """Rotate homogeneous sources ``(B, 4)`` about the axis ``up`` ``(3,)`` through ``center``
    by per-item angles ``(B,)`` (Rodrigues). Directional sources rotate their direction."""
    k = up / up.norm()
    c = torch.zeros(3, dtype=sources.dtype, device=sources.device) if center is None else center
    w = sources[:, 3:4]
    rot = _rodrigues(sources[:, :3] - w * c, k, angle_rad)
    return torch.cat([rot + w * c, w], 1)


def jitter_sources(sources: torch.Tensor, max_deg: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Perturb each source's direction (as seen from the origin) by a random rotation of up to
    ``max_deg`` degrees about a random axis; distances are kept."""
    if max_deg <= 0:
        return sources
    b = sources.shape[0]
    axis = torch.randn(b, 3, generator=generator, dtype=sources.dtype).to(sources.device)
    angle = torch.rand(b, generator=generator, dtype=sources.dtype).to(sources.device) * math.radians(max_deg)
    axis = axis / axis.norm(dim=-1, keepdim=True)
    return torch.cat([_rodrigues(sources[:, :3], axis, angle), sources[:, 3:4]], 1)
