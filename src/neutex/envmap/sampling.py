"""An environment map as a few directional lights: light transport is linear in the light, so
the object under a map is the sum of its one-light images under lights that together carry the
map's energy (docs/render.md, "Environment maps").

Two ways to choose K lights:

- ``stratified`` (the default): the sphere is cut into K cells of equal solid angle (latitude
  bands uniform in cos θ, each band cut in azimuth) and every cell becomes one light that
  carries the cell's whole energy ``E = ∫_cell L dω`` (RGB, integrated over the map's pixels)
  from the cell's energy centroid. Deterministic (no noise, no flicker when the map turns),
  energy-exact for any K, and a small bright source (a sun) puts its cell's light on it.
  Empty cells are dropped.
- ``importance``: K directions drawn from the map's pixels with probability ∝ luminance ×
  solid angle (stratified in the CDF, seeded), each carrying ``E = L(ω) dω / (K p)``: every
  sample has the same luminance energy. Unbiased but noisy at small K; repeated pixels merge.

Either way ``Σ_k E_k`` is the map's ``∫ L dω``, and a Lambertian surface of normal n receives
``Σ_k E_k max(n·ω_k, 0) ≈ ∫ L max(n·ω, 0) dω``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from neutex.envmap.latlong import (LUMINANCE, EnvMap, direction_to_uv, pixel_directions, pixel_solid_angles,
                                   rotation_about)
from neutex.errors import ConfigError

Sampling = Literal["stratified", "importance"]


@dataclass
class EnvLights:
    """Directional lights standing in for an environment map.

    Attributes:
        directions: ``(K, 3)`` float64 unit world vectors towards each light.
        irradiance: ``(K, 3)`` float64 RGB irradiance of each light on a surface facing it.
        method: how they were chosen; ``requested``: the K asked for (empty cells and merged
            repeats make ``len`` smaller).
    """

    directions: np.ndarray
    irradiance: np.ndarray
    method: str
    requested: int

    def __len__(self) -> int:
        return int(self.directions.shape[0])

    @property
    def sources(self) -> np.ndarray:
        """``(K, 4)`` homogeneous directional sources (``w = 0``)."""
        return np.concatenate([self.directions, np.zeros((len(self), 1))], 1)

    def rotated(self, deg: float, up=(0.0, 0.0, 1.0)) -> "EnvLights":
        """The lights turned ``deg`` degrees about ``up`` (the map turned with them)."""
        r = rotation_about(up, deg)
        return EnvLights(self.directions @ r.T, self.irradiance.copy(), self.method, self.requested)

    def shade_lambert(self, normal) -> np.ndarray:
        """``(..., 3)`` ``Σ_k E_k max(n·ω_k, 0)`` for unit normals ``(..., 3)``."""
        cos = np.clip(np.asarray(normal, float) @ self.directions.T, 0, None)
        return cos @ self.irradiance


def _band_counts(k: int) -> np.ndarray:
    nb = max(1, int(round(math.sqrt(k / math.pi))))
    counts = np.full(nb, k // nb)
    counts[: k - counts.sum()] += 1
    return counts


def cells_of_uv(u: np.ndarray, v: np.ndarray, k: int) -> np.ndarray:
    """Equal-area cell index (int64, shape of ``u``) of map coordinates ``u, v`` in [0, 1].

    Bands: ``nb ≈ √(K/π)`` latitude bands (square cells at the horizon) with ``m_b`` cells
    each (``Σ m_b = K``); band b spans ``2 m_b / K`` in cos θ, so every cell has solid angle
    ``4π / K`` exactly. Cells are numbered band by band from the zenith (``v = 0``).
    """
    counts = _band_counts(k)
    z_edges = 1.0 - 2.0 * np.concatenate([[0], np.cumsum(counts)]) / k  # from +1 (zenith) down to -1
    z = np.cos(np.pi * np.asarray(v, float))
    band = np.clip(np.searchsorted(-z_edges, -z, side="right") - 1, 0, len(counts) - 1)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    m = counts[band]
    return (first[band] + np.minimum((np.asarray(u, float) * m).astype(int), m - 1)).astype(np.int64)


def stratified_cells(height: int, width: int, k: int) -> np.ndarray:
    """``(H, W)`` int cell index (:func:`cells_of_uv`) of each pixel centre, for K equal-area cells.

    Examples:
        >>> c = stratified_cells(64, 128, 10)
        >>> int(c.max()) + 1, bool(np.bincount(c.ravel()).min() > 0)
        (10, True)
    """
    v = (np.arange(height) + 0.5) / height
    u = (np.arange(width) + 0.5) / width
    return cells_of_uv(u[None, :], v[:, None], k)


def cell_directions(k: int, up=(0.0, 0.0, 1.0), height: int = 64) -> np.ndarray:
    """``(K, 3)`` unit world directions of the K equal-area cells' centroids (solid-angle
    weighted), the cells fixed in the world (a map with no rotation): the lights of
    :func:`cell_irradiance`."""
    w = 2 * height
    dirs = pixel_directions(height, w, up).reshape(-1, 3)
    wt = np.broadcast_to(pixel_solid_angles(height, w), (height, w)).ravel()
    cell = stratified_cells(height, w, k).ravel()
    cen = np.stack([np.bincount(cell, wt * dirs[:, c], minlength=k) for c in range(3)], 1)
    return cen / np.maximum(np.linalg.norm(cen, axis=1, keepdims=True), 1e-12)


def cell_irradiance(env: EnvMap, k: int, rotation_deg: float = 0.0) -> np.ndarray:
    """``(K, 3)`` RGB energy ``∫_cell L dω`` of ``env`` turned a further ``rotation_deg`` about
    its up axis, in each of the K cells fixed in the world (:func:`cell_directions`).

    The fixed-cell counterpart of ``stratified`` sampling: the lights stay put and the map turns
    over them, so the one-light frames of a view can be rendered once and re-weighted for every
    rotation (the viewer's preview while a map is turned). Energy-exact for any rotation; the
    price is that a sun's highlight snaps to its cell's centre instead of following the sun.
    At no rotation the energies are those of :func:`sample_envmap` (``stratified``) for a map
    whose own rotation is 0.

    Examples:
        >>> from neutex.envmap.presets import make_envmap
        >>> e = make_envmap("sky", 32)
        >>> bool(np.allclose(cell_irradiance(e, 16, 37.0).sum(0), e.irradiance_total()))
        True
    """
    dirs = env.directions().reshape(-1, 3)
    if rotation_deg:
        dirs = dirs @ rotation_about(env.up, rotation_deg).T
    u, v = direction_to_uv(dirs, env.up)
    cell = cells_of_uv(u, v, k)
    energy = (env.radiance * pixel_solid_angles(env.height, env.width)[..., None]).reshape(-1, 3).astype(np.float64)
    return np.stack([np.bincount(cell, energy[:, c], minlength=k) for c in range(3)], 1)


def _merge(dirs: np.ndarray, irr: np.ndarray, method: str, k: int, up, rotation: float) -> EnvLights:
    keep = irr.max(1) > 0
    dirs, irr = dirs[keep], irr[keep]
    if rotation:
        dirs = dirs @ rotation_about(up, rotation).T
    return EnvLights(dirs, irr, method, k)


def sample_envmap(env: EnvMap, k: int = 64, method: Sampling = "stratified", seed: int = 0) -> EnvLights:
    """K directional lights whose sum stands in for ``env`` (see the module doc).

    Args:
        env: the map (its ``up`` and ``rotation_deg`` place the lights in the world).
        k: lights requested (>= 1).
        method: ``stratified`` or ``importance``.
        seed: random seed of ``importance``.

    Returns:
        :class:`EnvLights` with ``Σ irradiance`` = the map's ``∫ L dω``.

    Examples:
        >>> from neutex.envmap.presets import make_envmap
        >>> e = make_envmap("sky", 32)
        >>> s = sample_envmap(e, 16)
        >>> len(s) <= 16, bool(np.allclose(s.irradiance.sum(0), e.irradiance_total()))
        (True, True)
    """
    if k < 1:
        raise ConfigError(f"envmap samples: at least 1, got {k}")
    h, w = env.height, env.width
    base = env.rotated(-env.rotation_deg)  # sample in the map's own frame, then turn the lights
    dirs = base.directions().reshape(-1, 3)
    energy = (env.radiance * pixel_solid_angles(h, w)[..., None]).reshape(-1, 3).astype(np.float64)
    lum = energy @ LUMINANCE
    if method == "stratified":
        cell = stratified_cells(h, w, k).ravel()
        irr = np.stack([np.bincount(cell, energy[:, c], minlength=k) for c in range(3)], 1)
        wsum = np.bincount(cell, lum, minlength=k)
        cen = np.stack([np.bincount(cell, lum * dirs[:, c], minlength=k) for c in range(3)], 1)
        # a cell without luminance (black, or pure blue below LUMINANCE's floor) keeps its plain centroid
        plain = np.stack([np.bincount(cell, dirs[:, c], minlength=k) for c in range(3)], 1)
        cen = np.where((wsum > 0)[:, None], cen, plain)
        cen /= np.maximum(np.linalg.norm(cen, axis=1, keepdims=True), 1e-12)
        return _merge(cen, irr, method, k, env.up, env.rotation_deg)
    if method == "importance":
        total = lum.sum()
        if total <= 0:
            return EnvLights(np.zeros((0, 3)), np.zeros((0, 3)), method, k)
        cdf = np.cumsum(lum) / total
        rng = np.random.default_rng(seed)
        u = (np.arange(k) + rng.random(k)) / k
        idx = np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)
        uniq, n = np.unique(idx, return_counts=True)
        # E = L dω / (K p), p = lum / total  =>  every sample carries total / K of luminance energy
        irr = energy[uniq] / lum[uniq, None] * (total / k) * n[:, None]
        return _merge(dirs[uniq], irr, method, k, env.up, env.rotation_deg)
    raise ConfigError(f"envmap sampling {method!r}: unknown (stratified, importance)")
