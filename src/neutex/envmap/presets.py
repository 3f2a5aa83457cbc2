"""Procedural HDR environment maps: nothing can be downloaded here, so docs and tests light the
object with maps made from a few analytic pieces (``neutex envmap``).

Every map is scaled so that the irradiance on an upward-facing white surface is about that of
one stage light of ``neutex synth`` at the object (20 W/sr at 2.5 units: 3.2): the object
looks as bright as in the capture, whatever the map's character.

- ``sky``: a blue sky brightening towards the horizon, a dim brown ground and a small sun
  (0.53° like the real one, widened to 3° so a 256-pixel map resolves it) 40° above the horizon.
- ``studio``: a dark grey room with two large soft boxes (a warm key light high on one side, a
  cool, weaker fill light on the other) and a faint top light.
- ``spot``: black with one small (5° radius) bright disc 30° above the horizon: nearly a
  single directional light, the easiest map for a relighter trained on one-light images.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

from neutex.envmap.latlong import EnvMap, direction_at, pixel_directions, pixel_solid_angles
from neutex.errors import ConfigError

#: the name of a procedural map (``neutex envmap --preset``).
PresetName = Literal["sky", "studio", "spot"]
#: preset names, in documentation order.
PRESET_NAMES: tuple[str, ...] = get_args(PresetName)

#: irradiance (per channel, on a surface facing up) every preset is scaled to.
TARGET_IRRADIANCE = 3.2


def _disc(d: np.ndarray, centre: np.ndarray, radius_deg: float, soft_deg: float = 0.0) -> np.ndarray:
    """``(H, W)`` weight of a disc of angular ``radius_deg`` about ``centre`` (smooth edge of ``soft_deg``)."""
    ang = np.degrees(np.arccos(np.clip(d @ centre, -1, 1)))
    if soft_deg <= 0:
        return (ang <= radius_deg).astype(np.float32)
    return np.clip((radius_deg + soft_deg - ang) / (2 * soft_deg), 0, 1).astype(np.float32)


def _box(d: np.ndarray, centre: np.ndarray, half_w_deg: float, half_h_deg: float, up, soft: float = 0.15) -> np.ndarray:
    """A rectangular soft box facing the origin: angular half sizes, in the tangent frame of ``centre``."""
    k = np.asarray(up, float)
    side = np.cross(k, centre)
    side /= np.linalg.norm(side)
    top = np.cross(centre, side)
    front = d @ centre
    x = np.degrees(np.arctan2(d @ side, np.maximum(front, 1e-6)))
    y = np.degrees(np.arctan2(d @ top, np.maximum(front, 1e-6)))
    wx = np.clip((half_w_deg - np.abs(x)) / (soft * half_w_deg) + 0.5, 0, 1)
    wy = np.clip((half_h_deg - np.abs(y)) / (soft * half_h_deg) + 0.5, 0, 1)
    return (wx * wy * (front > 0)).astype(np.float32)


def make_envmap(name: str, height: int = 128, up=(0.0, 0.0, 1.0)) -> EnvMap:
    """The procedural map ``name`` (one of :data:`PRESET_NAMES`) at ``height x 2·height``.

    Examples:
        >>> e = make_envmap("spot", 32)
        >>> e.radiance.shape, round(float(e.irradiance_at([0, 0, 1]).mean()), 2)
        ((32, 64, 3), 3.2)
    """
    if name not in PRESET_NAMES:
        raise ConfigError(f"envmap preset {name!r}: unknown (known: {', '.join(PRESET_NAMES)})")
    if height < 8:
        raise ConfigError(f"envmap height: at least 8 rows, got {height}")
    h, w = int(height), 2 * int(height)
    d = pixel_directions(h, w, up)
    k = np.asarray(up, float) / np.linalg.norm(up)
    z = d @ k
    img = np.zeros((h, w, 3), np.float32)
    if name == "sky":
        above = np.clip(z, 0, 1)[..., None]
        zenith, horizon = np.array([0.10, 0.22, 0.55]), np.array([0.55, 0.65, 0.80])
        sky = horizon + (zenith - horizon) * np.sqrt(above)
        ground = np.array([0.09, 0.07, 0.05])
        blend = np.clip(z / 0.03 + 0.5, 0, 1)[..., None]  # a soft horizon, one or two pixels wide
        img = (blend * sky + (1 - blend) * ground).astype(np.float32)
        sun_dir = direction_at(-35.0, 40.0, up)
        sun = _disc(d, sun_dir, 3.0, 0.5)
        glow = np.exp(-np.degrees(np.arccos(np.clip(d @ sun_dir, -1, 1))) / 12.0)[..., None] * 0.6
        img = img + glow * np.array([1.0, 0.85, 0.6]) * (z[..., None] > -0.05)
        img = _with_source(img, sun, np.array([1.0, 0.93, 0.8]), share=0.6, d=d, up=k, h=h, w=w)
    elif name == "studio":
        img[:] = 0.025 + 0.015 * np.clip(z, 0, 1)[..., None]
        key = _box(d, direction_at(50.0, 35.0, up), 22.0, 16.0, up) [..., None] * np.array([1.0, 0.9, 0.75])
        fill = _box(d, direction_at(-110.0, 15.0, up), 18.0, 24.0, up)[..., None] * np.array([0.55, 0.65, 0.85]) * 0.35
        top = _disc(d, k, 20.0, 6.0)[..., None] * 0.15
        img = (img + 6.0 * (key + fill + top)).astype(np.float32)
    else:  # spot
        spot = _disc(d, direction_at(20.0, 30.0, up), 5.0, 1.0)
        img = spot[..., None] * np.ones(3, np.float32)
    env = EnvMap(img.astype(np.float32), k, 0.0, name)
    scale = TARGET_IRRADIANCE / float(env.irradiance_at(k).mean())
    return EnvMap((img * scale).astype(np.float32), k, 0.0, name)


def _with_source(img: np.ndarray, weight: np.ndarray, color: np.ndarray, share: float, d, up, h, w) -> np.ndarray:
    """Add a source (``weight`` map, ``color``) bright enough to give ``share`` of the
    upward irradiance of the result."""
    dw = pixel_solid_angles(h, w)
    cos = np.clip(d @ up, 0, None)
    e_rest = float((img.mean(-1) * cos * dw).sum())
    e_unit = float((weight * cos * dw).sum())
    amp = share / (1 - share) * e_rest / max(e_unit, 1e-12)
    return img + amp * weight[..., None] * color
