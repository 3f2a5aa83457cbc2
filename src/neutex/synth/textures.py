"""Procedural SVBRDF textures in UV space (numpy): albedo with fine detail and roughness.

Textures are images with row 0 at the top, i.e. at v = 1 (OBJ convention, v up): texel
``(row, col)`` covers ``u = (col + 0.5) / W``, ``v = 1 - (row + 0.5) / H``. Every pattern is
periodic in u, so the UV seam (u = 0 = 1) is invisible in renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass
class Textures:
    """Albedo ``(H, W, 3)`` float32 linear in [0, 1] and roughness ``(H, W)`` float32 in [0, 1]."""

    albedo: np.ndarray
    roughness: np.ndarray


def _smooth(t: np.ndarray) -> np.ndarray:
    return t * t * (3 - 2 * t)


def periodic_noise(h: int, w: int, cells_u: int, cells_v: int, rng: np.random.Generator) -> np.ndarray:
    """Value noise in [0, 1] on an ``(h, w)`` texture, periodic in u (columns).

    Examples:
        >>> n = periodic_noise(8, 16, 4, 2, np.random.default_rng(0))
        >>> n.shape, bool(0 <= n.min() and n.max() <= 1)
        ((8, 16), True)
    """
    lattice = rng.random((cells_v + 1, cells_u))
    x = (np.arange(w) + 0.5) / w * cells_u
    y = (np.arange(h) + 0.5) / h * cells_v
    x0 = np.floor(x).astype(int)
    y0 = np.minimum(np.floor(y).astype(int), cells_v - 1)
    tx, ty = _smooth(x - x0), _smooth(y - y0)
    x1 = (x0 + 1) % cells_u
    x0 %= cells_u
    a = lattice[y0][:, x0]
    b = lattice[y0][:, x1]
    c = lattice[y0 + 1][:, x0]
    d = lattice[y0 + 1][:, x1]
    top = a + (b - a) * tx
    bot = c + (d - c) * tx
    return top + (bot - top) * ty[:, None]


def fbm(h: int, w: int, cells_u: int, cells_v: int, octaves: int, rng: np.random.Generator) -> np.ndarray:
    """Fractal sum of :func:`periodic_noise` octaves, normalised to [0, 1]."""
    out = np.zeros((h, w))
    amp, total = 1.0, 0.0
    for k in range(octaves):
        out += amp * periodic_noise(h, w, cells_u * 2**k, cells_v * 2**k, rng)
        total += amp
        amp *= 0.5
    return out / total


def _spots(h: int, w: int, cells_u: int, cells_v: int, rng: np.random.Generator, density: float,
           radius: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Soft round spots on a jittered grid (periodic in u). Returns (coverage in [0, 1], the
    spot's random id in [0, 1) per texel)."""
    cu = (np.arange(w) + 0.5) / w * cells_u
    cv = (np.arange(h) + 0.5) / h * cells_v
    iu, iv = np.floor(cu).astype(int), np.floor(cv).astype(int)
    cx = rng.uniform(0.25, 0.75, (cells_v, cells_u))
    cy = rng.uniform(0.25, 0.75, (cells_v, cells_u))
    rad = rng.uniform(*radius, (cells_v, cells_u))
    on = rng.random((cells_v, cells_u)) < density
    ident = rng.random((cells_v, cells_u))
    dx = (cu - iu)[None, :] - cx[iv][:, iu]
    dy = (cv - iv)[:, None] - cy[iv][:, iu]
    dist = np.hypot(dx, dy)
    r = rad[iv][:, iu]
    edge = 0.04
    cov = np.clip((r - dist) / edge + 0.5, 0, 1) * on[iv][:, iu]
    return cov, ident[iv][:, iu]


def _lines(h: int, w: int, every_u: int, every_v: int, width_texels: float) -> np.ndarray:
    """Thin grid lines (1 on a line, 0 elsewhere), anti-aliased, periodic in u."""
    col = np.arange(w) + 0.5
    row = np.arange(h) + 0.5
    pu = w / every_u
    pv = h / every_v
    du = np.abs(((col + pu / 2) % pu) - pu / 2)
    dv = np.abs(((row + pv / 2) % pv) - pv / 2)
    lu = np.clip(width_texels / 2 + 0.5 - du, 0, 1)
    lv = np.clip(width_texels / 2 + 0.5 - dv, 0, 1)
    return np.maximum(lu[None, :], lv[:, None])


def make_textures(style: Literal["egg", "vase"], height: int = 512, seed: int = 0) -> Textures:
    """Procedural albedo and roughness for a shape, ``(height, 2 * height)`` texels.

    ``egg``: cream and terracotta patches, dark speckles, a fine ink grid and per-texel grain;
    glossy and matte regions. ``vase``: a glazed blue-and-white ceramic with bands, dots and a
    fine grid; mostly glossy with matte bands.

    Args:
        style: ``egg`` or ``vase``.
        height: texture height H (width is 2H: u spans the circumference).
        seed: random seed; the same seed gives the same textures.

    Returns:
        :class:`Textures` (albedo linear in [0.02, 0.9], roughness in [0.05, 0.9]).

    Examples:
        >>> t = make_textures("egg", 32, seed=1)
        >>> t.albedo.shape, t.roughness.shape
        ((32, 64, 3), (32, 64))
    """
    h, w = int(height), 2 * int(height)
    rng = np.random.default_rng(seed)
    low = fbm(h, w, 4, 2, 3, rng)
    mid = fbm(h, w, 12, 6, 2, rng)
    grain = rng.random((h, w)) - 0.5
    lines = _lines(h, w, 64, 32, max(1.0, h / 512))
    if style == "egg":
        c0 = np.array([0.78, 0.62, 0.45])  # cream
        c1 = np.array([0.55, 0.20, 0.09])  # terracotta
        c2 = np.array([0.12, 0.30, 0.45])  # slate blue
        t = np.clip((low - 0.35) / 0.3, 0, 1)[..., None]
        albedo = c0 * (1 - t) + c1 * t
        band = np.clip((mid - 0.62) / 0.05, 0, 1)[..., None]
        albedo = albedo * (1 - band) + c2 * band
        cov, ident = _spots(h, w, 48, 24, rng, 0.7, (0.08, 0.22))
        spot_col = np.where(ident[..., None] < 0.75, np.array([0.10, 0.06, 0.04]), np.array([0.9, 0.88, 0.8]))
        albedo = albedo * (1 - cov[..., None]) + spot_col * cov[..., None]
        albedo *= (1 - 0.55 * lines)[..., None]
        albedo *= (1 + 0.16 * grain)[..., None]
        rough = np.where(low > 0.55, 0.2, 0.45) + 0.25 * cov + 0.03 * grain
    elif style == "vase":
        c0 = np.array([0.85, 0.85, 0.82])  # white glaze
        c1 = np.array([0.05, 0.12, 0.45])  # cobalt
        v = 1 - (np.arange(h) + 0.5) / h
        bands = (np.sin(2 * np.pi * v * 9) > 0.55).astype(float)[:, None] * np.ones((1, w))
        t = np.clip(np.maximum(bands, (low - 0.62) / 0.08), 0, 1)[..., None]
        albedo = c0 * (1 - t) + c1 * t
        cov, _ = _spots(h, w, 64, 32, rng, 0.5, (0.1, 0.2))
        albedo = albedo * (1 - cov[..., None]) + np.array([0.6, 0.15, 0.05]) * cov[..., None]
        albedo *= (1 - 0.45 * lines)[..., None]
        albedo *= (1 + 0.10 * grain)[..., None]
        matte = (np.sin(2 * np.pi * v * 3 + 1.0) > 0.8).astype(float)[:, None]
        rough = 0.15 + 0.45 * matte + 0.15 * (mid > 0.6) + 0.03 * grain
    else:
        raise ValueError(f"unknown texture style {style!r} (egg, vase)")
    albedo = np.clip(albedo, 0.02, 0.9).astype(np.float32)
    rough = np.clip(rough, 0.05, 0.9).astype(np.float32)
    return Textures(albedo, rough)
