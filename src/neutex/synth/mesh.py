"""Procedural meshes for synthetic captures, built in numpy: surfaces of revolution about +z.

Every mesh is a :class:`ProceduralMesh` of aligned per-vertex arrays (one index addresses position, uv and
normal, as OBJ ``f a/a/a`` faces do). The UV seam (u = 0 and u = 1) is handled by duplicating
the seam vertices; the poles carry one vertex per triangle fan with u at the fan's centre.
uv follows the OBJ convention: [0, 1]², v up (v = 0 at the start of the profile, the bottom).
Normals are the smooth analytic normals of the surface of revolution (unit, outward).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neutex.check import check_shape


@dataclass
class ProceduralMesh:
    """A triangle mesh with per-vertex uv and normal.

    Attributes:
        vertices: ``(N, 3)`` float64 world positions.
        faces: ``(F, 3)`` int64 vertex indices, counter-clockwise seen from outside.
        uvs: ``(N, 2)`` float64 in [0, 1]², v up (OBJ convention).
        normals: ``(N, 3)`` float64 unit outward vertex normals.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray
    normals: np.ndarray

    def __post_init__(self) -> None:
        check_shape(self.vertices, "N 3", "vertices")
        check_shape(self.faces, "F 3", "faces")
        check_shape(self.uvs, "N 2", "uvs")
        check_shape(self.normals, "N 3", "normals")


def lathe_mesh(profile_r: np.ndarray, profile_z: np.ndarray, n_around: int) -> ProceduralMesh:
    """Revolve a profile curve about +z.

    The profile runs from one pole to the other (``r[0] == r[-1] == 0``); walking along it, the
    solid must lie on the left in the (r, z) half-plane, i.e. the outward normal is
    ``(dz, -dr)`` normalised (start at the bottom and go outwards, then up). v is the
    normalised arc length along the profile, u the azimuth / 2π.

    Args:
        profile_r: ``(M,)`` radii >= 0, zero at both ends.
        profile_z: ``(M,)`` heights.
        n_around: number of segments around the axis.

    Returns:
        A :class:`ProceduralMesh` with ``M - 2`` rings of ``n_around + 1`` vertices (seam duplicated) and
        ``n_around`` vertices at each pole.

    Examples:
        >>> t = np.linspace(np.pi, 0, 9)
        >>> m = lathe_mesh(np.sin(t), np.cos(t), 8)
        >>> m.faces.shape, bool(np.allclose(np.linalg.norm(m.normals, axis=1), 1))
        ((112, 3), True)
    """
    r = np.asarray(profile_r, np.float64).copy()
    z = np.asarray(profile_z, np.float64)
    m = len(r)
    if m < 3 or r.shape != z.shape:
        raise ValueError("lathe_mesh: profile needs >= 3 points and matching r, z")
    r[0] = r[-1] = 0.0
    seg = np.hypot(np.diff(r), np.diff(z))
    s = np.r_[0.0, np.cumsum(seg)]
    v_prof = s / s[-1]
    dr = np.gradient(r, s)
    dz = np.gradient(z, s)
    # Poles: the tangent is horizontal there by symmetry.
    dz[0] = dz[-1] = 0.0
    dr[0] = 1.0
    dr[-1] = -1.0
    nr, nz = dz, -dr
    nlen = np.hypot(nr, nz)
    nr, nz = nr / nlen, nz / nlen

    n = int(n_around)
    # Ring vertices (i = 1..m-2): n + 1 per ring, j = n duplicates j = 0 with u = 1.
    j = np.arange(n + 1)
    phi = 2 * np.pi * j / n
    cos_p, sin_p = np.cos(phi), np.sin(phi)
    cos_p[-1], sin_p[-1] = 1.0, 0.0
    ri = r[1:-1, None]
    ring_pos = np.stack([ri * cos_p, ri * sin_p, np.broadcast_to(z[1:-1, None], (m - 2, n + 1))], -1)
    ring_nrm = np.stack([nr[1:-1, None] * cos_p, nr[1:-1, None] * sin_p,
                         np.broadcast_to(nz[1:-1, None], (m - 2, n + 1))], -1)
    ring_uv = np.stack([np.broadcast_to(j / n, (m - 2, n + 1)), np.broadcast_to(v_prof[1:-1, None], (m - 2, n + 1))], -1)

    # Pole vertices: one per fan triangle, u at the triangle's centre.
    uc = (np.arange(n) + 0.5) / n
    def pole(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.tile([0.0, 0.0, z[i]], (n, 1))
        nrm = np.tile([0.0, 0.0, nz[i]], (n, 1))
        uv = np.stack([uc, np.full(n, v_prof[i])], -1)
        return pos, nrm, uv

    p0, n0, t0 = pole(0)
    p1, n1, t1 = pole(m - 1)
    vertices = np.concatenate([p0, ring_pos.reshape(-1, 3), p1])
    normals = np.concatenate([n0, ring_nrm.reshape(-1, 3), n1])
    uvs = np.concatenate([t0, ring_uv.reshape(-1, 2), t1])

    def ring(i: int, jj: np.ndarray) -> np.ndarray:  # index of ring vertex (profile index i in 1..m-2)
        return n + (i - 1) * (n + 1) + jj

    jj = np.arange(n)
    faces = []
    # With phi counter-clockwise about +z and the profile advancing with the solid on its left,
    # (ring i j, ring i j+1, ring i+1 j+1) has normal d(phi) x d(s), i.e. outward; the fans
    # at the poles follow the same rule.
    faces.append(np.stack([jj, ring(1, jj + 1), ring(1, jj)], -1))
    for i in range(1, m - 2):
        a, b = ring(i, jj), ring(i, jj + 1)
        c, d = ring(i + 1, jj + 1), ring(i + 1, jj)
        faces.append(np.stack([a, b, c], -1))
        faces.append(np.stack([a, c, d], -1))
    top0 = n + (m - 2) * (n + 1)
    a, b = ring(m - 2, jj), ring(m - 2, jj + 1)
    faces.append(np.stack([a, b, top0 + jj], -1))
    faces = np.concatenate(faces).astype(np.int64)
    return ProceduralMesh(vertices, faces, uvs, normals)


def _smooth_profile(r: np.ndarray, z: np.ndarray, n_out: int, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Resample a pole-to-pole polyline uniformly by arc length and round its corners with a
    Gaussian of ``sigma`` (world units). r is padded oddly and z evenly at both poles, so the
    result still starts and ends on the axis with a horizontal tangent."""
    seg = np.hypot(np.diff(r), np.diff(z))
    s = np.r_[0.0, np.cumsum(seg)]
    n_dense = 4096
    sd = np.linspace(0, s[-1], n_dense)
    rd, zd = np.interp(sd, s, r), np.interp(sd, s, z)
    h = sd[1] - sd[0]
    k = max(1, int(np.ceil(4 * sigma / h)))
    x = np.arange(-k, k + 1) * h
    g = np.exp(-0.5 * (x / sigma) ** 2)
    g /= g.sum()
    rp = np.r_[-rd[k:0:-1], rd, -rd[-2:-k - 2:-1]]
    zp = np.r_[zd[k:0:-1], zd, zd[-2:-k - 2:-1]]
    rs = np.convolve(rp, g, "valid")
    zs = np.convolve(zp, g, "valid")
    seg = np.hypot(np.diff(rs), np.diff(zs))
    s2 = np.r_[0.0, np.cumsum(seg)]
    so = np.linspace(0, s2[-1], n_out)
    ro, zo = np.interp(so, s2, rs), np.interp(so, s2, zs)
    ro[0] = ro[-1] = 0.0
    return np.maximum(ro, 0.0), zo


def make_egg_mesh(n_around: int = 128, n_profile: int = 65, height: float = 1.44, radius: float = 0.52,
                  asymmetry: float = 0.12) -> ProceduralMesh:
    """An egg: a closed surface of revolution about +z, blunt end down, centred near the origin.

    Profile: ``z = h/2 cos t``, ``r = radius * sin t * (1 - asymmetry * cos t)``, ``t`` from π
    (bottom pole) to 0 (top pole). It fits inside the unit sphere for the defaults.

    Args:
        n_around: segments around the axis (u direction).
        n_profile: points along the profile, poles included (v direction).
        height: pole-to-pole height.
        radius: equatorial radius before the asymmetry.
        asymmetry: how much fatter the bottom half is than the top half.

    Examples:
        >>> m = make_egg_mesh(16, 9)
        >>> bool((np.linalg.norm(m.vertices, axis=1) < 1).all())
        True
    """
    t = np.linspace(np.pi, 0.0, n_profile)
    z = 0.5 * height * np.cos(t)
    r = radius * np.sin(t) * (1 - asymmetry * np.cos(t))
    return lathe_mesh(r, z, n_around)


def make_vase_mesh(n_around: int = 128, n_profile: int = 320, thickness: float = 0.04) -> ProceduralMesh:
    """A thick-walled vase: a bulbous body, a concave (narrow) neck and a flared, open top,
    revolved about +z. The profile runs bottom centre -> outer wall -> rounded lip -> inner wall
    -> inner bottom centre, so the mesh is closed and its interior (seen through the mouth) is
    real geometry: concavities, self-shadowing and interreflection.

    Args:
        n_around: segments around the axis.
        n_profile: points along the (smoothed, arc-length uniform) profile.
        thickness: wall thickness.

    Examples:
        >>> m = make_vase_mesh(16, 64)
        >>> bool((np.linalg.norm(m.vertices, axis=1) < 1).all())
        True
    """
    z0, z1 = -0.75, 0.72

    def r_out(z: np.ndarray) -> np.ndarray:
        body = 0.36 * np.exp(-((z + 0.2) / 0.36) ** 2)
        flare = 0.13 * np.clip((z - 0.35) / (z1 - 0.35), 0, 1) ** 2
        return 0.15 + body + flare

    zs = np.linspace(z0, z1, 400)
    ro = r_out(zs)
    zi = np.linspace(z1, z0 + 1.5 * thickness, 400)
    ri = r_out(zi) - thickness
    # lip: a half circle from the outer to the inner top
    a = np.linspace(0, np.pi, 24)[1:-1]
    rl = r_out(np.array([z1]))[0] - thickness / 2 + thickness / 2 * np.cos(a)
    zl = z1 + thickness / 2 * np.sin(a)
    r = np.r_[0.0, ro, rl, ri, 0.0]
    z = np.r_[z0, zs, zl, zi, z0 + 1.5 * thickness]
    r, z = _smooth_profile(r, z, n_profile, sigma=thickness / 5)
    return lathe_mesh(r, z, n_around)


def write_obj(path: str | Path, mesh: ProceduralMesh) -> None:
    """Write ``mesh`` as a Wavefront OBJ with ``v``, ``vt`` (v up), ``vn`` and ``f a/a/a``
    faces (1-based), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# neutex synth mesh: v/vt/vn share indices; vt is the OBJ convention (v up)"]
    lines += [f"v {x:.7f} {y:.7f} {z:.7f}" for x, y, z in mesh.vertices]
    lines += [f"vt {u:.7f} {v:.7f}" for u, v in mesh.uvs]
    lines += [f"vn {x:.7f} {y:.7f} {z:.7f}" for x, y, z in mesh.normals]
    f1 = mesh.faces + 1
    lines += [f"f {a}/{a}/{a} {b}/{b}/{b} {c}/{c}/{c}" for a, b, c in f1]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def make_mesh(shape: str, detail: float = 1.0) -> ProceduralMesh:
    """The mesh of a named shape (``egg`` or ``vase``); ``detail`` scales the tessellation."""
    if shape == "egg":
        return make_egg_mesh(max(8, int(128 * detail)), max(9, int(65 * detail)))
    if shape == "vase":
        return make_vase_mesh(max(8, int(128 * detail)), max(64, int(320 * detail)))
    raise ValueError(f"unknown shape {shape!r} (egg, vase)")
