"""Cast shadows as a per-pixel visibility input: shadow maps rendered with moderngl, filtered
with percentage-closer filtering (PCF) in torch.

The GL part (:class:`ShadowCaster`) renders, once per light, the mesh's depth seen from the
light; the filtering part (:func:`pcf_visibility`) is pure torch, vectorised over batch and
pixels, and testable on a hand-made depth map.

Conventions:

- A light is a homogeneous source (see :func:`neutex.geometry.directions_to`):
  ``(x, y, z, 1)`` a point light, ``(dx, dy, dz, 0)`` a directional light, the unit vector from
  the surface towards the light.
- A shadow map stores **linear depth**: the distance along the light's view axis, in world
  units (float32, one channel, ``inf`` where no geometry). For point lights this is view-space
  z, which GL interpolates exactly (it is affine in world space, unlike the radial distance),
  and a depth bias in world units means the same thing everywhere in the map.
- ``light_matrix`` ``(4, 4)`` maps homogeneous world points to ``(x, y, depth, w)``: the map's
  normalised coordinates are ``(x, y) / w`` in [-1, 1]² and ``depth`` is compared with the map
  (not divided by ``w``). ``w`` is the linear depth for point lights (perspective) and 1 for
  directional lights (orthographic). Texel (column i, row j) of an ``S x S`` map has its
  centre at ``((2 i + 1) / S - 1, (2 j + 1) / S - 1)``: row 0 is y = -1 (GL's bottom-up
  readback, kept as it is; nothing else reads the map as an image).
- ``texel_size`` ``(a, b)``: a texel's width in world units at linear depth z is ``a + b z``
  (``a = 0`` for perspective maps, ``b = 0`` for orthographic ones).
- **Bias**: a receiver at linear depth z is lit by a texel of depth ``d`` when
  ``d >= z - t(z) (c0 + c1 min(tan θ, max_tan))``, ``t(z)`` the texel size above and
  ``θ`` the angle between the normal and the direction to the light. The slope term follows
  the receiver's tangent plane across the filter footprint (PCF taps reach ``pcf_radius``
  texels and a texel's own width beyond the receiver, hence ``c1 = pcf_radius + 1`` by
  default); the constant term (``c0 = 1`` texel) absorbs rasterisation and float error.
  ``max_tan = 10`` (n·l ≈ 0.1) keeps grazing receivers from peter-panning without bound.
- **Attached shadow** (n·l < 0) gets no special treatment: such points usually come out
  shadowed by their own front surface, and the caller's cosine terms zero them anyway.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

from neutex.capture.mesh import Mesh
from neutex.capture.schema import look_at
from neutex.check import check_shape
from neutex.errors import CaptureError, DataError
from neutex.gbuffer.raster import GLResource

#: default ``(c0, c1)`` bias factors (in texels) for ``pcf_radius = 1.5``; see the module docstring.
DEFAULT_BIAS = (1.0, 2.5)

#: a point light must see the bounding sphere within this half-angle (else it is "too near").
MAX_HALF_ANGLE_DEG = 75.0

#: the bounding sphere is padded by this fraction so silhouettes never touch the map's border.
_SPHERE_PAD = 0.01

_VERTEX = """
#version 330
uniform mat4 world_to_light;
uniform mat4 projection;
in vec3 in_pos;
out float v_depth;
void main() {
    vec4 pl = world_to_light * vec4(in_pos, 1.0);
    v_depth = pl.z;
    gl_Position = projection * pl;
}
"""

_FRAGMENT = """
#version 330
in float v_depth;
layout(location = 0) out float out_depth;
void main() {
    out_depth = v_depth;
}
"""


# ----------------------------------------------------------------------------- frustum (numpy)


@dataclass(frozen=True)
class LightFrustum:
    """Where a shadow map looks from and how world points land in it.

    Attributes:
        world_to_light: ``(4, 4)`` float64 rigid transform to the light's view frame
            (z forward along the view axis, right-handed).
        projection: ``(4, 4)`` float64 GL projection (view frame -> GL clip space) used to
            rasterize; its depth goes only to GL's depth test.
        light_matrix: ``(4, 4)`` float64 world -> ``(x, y, linear depth, w)`` (module docstring).
        texel_size: ``(a, b)``: texel width in world units at linear depth z is ``a + b z``.
        perspective: True for a point light.
    """

    world_to_light: np.ndarray
    projection: np.ndarray
    light_matrix: np.ndarray
    texel_size: tuple[float, float]
    perspective: bool


def _view_frame(eye: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """``(4, 4)`` world -> view transform: eye at the origin, ``forward`` (unit) along +z (any
    roll: the map is only ever read back through the same matrix)."""
    helper = np.array([0.0, 0.0, 1.0]) if abs(forward[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    return look_at(eye, eye + forward, helper)


def _light_name(light_source: np.ndarray) -> str:
    kind = "point light" if light_source[3] > 0.5 else "directional light"
    return f"{kind} ({', '.join(f'{v:.4g}' for v in light_source[:3])})"


def normalize_light(light_source) -> np.ndarray:
    """A homogeneous light ``(4,)`` checked and made canonical: w exactly 0 or 1, directions unit.

    Raises:
        DataError: w is neither 0 nor 1, a non-finite value, or a zero direction.

    Examples:
        >>> normalize_light([0.0, 0.0, 2.0, 0.0]).tolist()
        [0.0, 0.0, 1.0, 0.0]
    """
    s = np.asarray(light_source, np.float64).reshape(-1)
    if s.shape != (4,) or not np.isfinite(s).all() or s[3] not in (0.0, 1.0):
        raise DataError(f"light source {s.tolist()}: expected (x, y, z, 1) or (dx, dy, dz, 0)")
    if s[3] == 0.0:
        n = np.linalg.norm(s[:3])
        if n < 1e-12:
            raise DataError(f"light source {s.tolist()}: directional light with a zero direction")
        s = np.r_[s[:3] / n, 0.0]
    return s


def light_frustum(light_source, centre, radius: float, resolution: int) -> LightFrustum:
    """The shadow-map frustum of one light around a bounding sphere.

    A point light looks at the sphere's centre with a perspective frustum whose half-angle is
    ``asin(r' / d)`` (``r'`` the radius padded by 1%, ``d`` the light's distance to the
    centre), so the sphere just fills the map. A directional light looks along ``-direction``
    with an orthographic projection ``2 r'`` wide.

    Args:
        light_source: ``(4,)`` homogeneous light (see :func:`normalize_light`).
        centre: ``(3,)`` bounding-sphere centre, world units.
        radius: bounding-sphere radius, world units.
        resolution: map size S (texels per side).

    Raises:
        DataError: a point light inside or too near the sphere (it would need a half-angle
            above ``MAX_HALF_ANGLE_DEG``), naming the light.

    Examples:
        >>> f = light_frustum([0.0, 0.0, 4.0, 1.0], [0.0, 0.0, 0.0], 1.0, 512)
        >>> p = f.light_matrix @ [1.01, 0.0, 0.0, 1.0]  # a point on the padded sphere's rim
        >>> round(float(p[2]), 3), round(float(np.hypot(p[0], p[1]) / p[3]), 3)  # depth, |ndc|
        (4.0, 0.968)
    """
    s = normalize_light(light_source)
    c = np.asarray(centre, np.float64).reshape(3)
    r = float(radius) * (1 + _SPHERE_PAD) + 1e-9
    P = np.zeros((4, 4))
    L = np.zeros((4, 4))
    if s[3] == 1.0:
        to_centre = c - s[:3]
        d = float(np.linalg.norm(to_centre))
        min_d = r / math.sin(math.radians(MAX_HALF_ANGLE_DEG))
        if d <= min_d:
            raise DataError(f"{_light_name(s)}: inside or too near the mesh's bounding sphere (distance "
                            f"{d:.4g} from its centre, radius {radius:.4g}; a shadow map needs > {min_d:.4g})")
        view = _view_frame(s[:3], to_centre / d)
        tan_half = math.tan(math.asin(r / d))
        f = 1.0 / tan_half
        near, far = 0.99 * (d - r), 1.01 * (d + r)
        P[0, 0] = P[1, 1] = f
        P[2] = [0, 0, (far + near) / (far - near), -2 * far * near / (far - near)]
        P[3, 2] = 1.0
        L[0, 0] = L[1, 1] = f
        L[2, 2] = L[3, 2] = 1.0  # depth = w = view z
        texel = (0.0, 2 * tan_half / resolution)
    else:
        # the eye sits 2 r' out, so every depth inside the sphere lies in [r', 3 r'] (> 0)
        view = _view_frame(c + 2 * r * s[:3], -s[:3])
        near, far = 0.5 * r, 3.5 * r
        P[0, 0] = P[1, 1] = 1.0 / r
        P[2] = [0, 0, 2 / (far - near), -(far + near) / (far - near)]
        P[3, 3] = 1.0
        L[0, 0] = L[1, 1] = 1.0 / r
        L[2, 2] = L[3, 3] = 1.0
        texel = (2 * r / resolution, 0.0)
    return LightFrustum(view, P, L @ view, texel, bool(s[3] == 1.0))


def bounding_sphere(vertices: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre ``(3,)`` float64 (the bounding box's middle) and radius of a sphere around ``vertices`` ``(N, 3)``."""
    v = np.asarray(vertices, np.float64)
    c = 0.5 * (v.min(0) + v.max(0))
    return c, float(np.sqrt(((v - c) ** 2).sum(1).max()))


# ----------------------------------------------------------------------------- PCF (torch)


def pad_depth(depth: torch.Tensor, border: int) -> torch.Tensor:
    """``(..., S, T)`` depth maps -> ``(..., S + 2 border, T + 2 border)`` inside an ``inf`` border."""
    shape = (*depth.shape[:-2], depth.shape[-2] + 2 * border, depth.shape[-1] + 2 * border)
    out = torch.full(shape, float("inf"), device=depth.device, dtype=depth.dtype)
    out[..., border:border + depth.shape[-2], border:border + depth.shape[-1]] = depth
    return out


@torch.no_grad()  # depth tests have no useful gradient; visibility is an input, like a G-buffer
def pcf_visibility(depth: torch.Tensor, light_matrix: torch.Tensor, texel_size: torch.Tensor,
                   position: torch.Tensor, normal: torch.Tensor, light_sources: torch.Tensor,
                   mask: torch.Tensor | None = None, map_index: torch.Tensor | None = None, *,
                   pcf_radius: float = 1.5, bias: tuple[float, float] = DEFAULT_BIAS,
                   max_tan: float = 10.0, border: int = 0) -> torch.Tensor:
    """Soft shadow-map visibility per pixel: slope-biased depth tests, box-filtered (PCF).

    Each pixel is projected into its light's map; every texel under a box ``2 pcf_radius``
    texels wide around that point votes lit (1) or shadowed (0), weighted by how much of the
    texel the box covers. With ``pcf_radius = 1.5`` this is exactly the classic 3 x 3-tap
    PCF with bilinear weighting of each tap's 4 nearest texels (per axis the weights are
    ``(1 - f, 1, 1, f) / 3``), so the soft edge moves continuously with the light, never in
    texel steps. ``pcf_radius = 0`` gives hard nearest-texel tests. Points projecting off the
    map, behind a point light, or onto empty texels are lit. The bias is described in the
    module docstring.

    Args:
        depth: ``(L, S, S)`` float linear depth maps, world units, ``inf`` where empty (or
            ``(L, S + 2 border, S + 2 border)`` with an ``inf`` border, see ``border``).
        light_matrix: ``(L, 4, 4)`` world -> ``(x, y, linear depth, w)`` per map.
        texel_size: ``(L, 2)`` ``(a, b)``: texel width at linear depth z is ``a + b z``.
        position: ``(B, 3, H, W)`` float world-space surface points.
        normal: ``(B, 3, H, W)`` unit world-space normals.
        light_sources: ``(B, 4)`` homogeneous light per batch item (for the slope bias).
        mask: ``(B, 1, H, W)`` 1 on the object, or None (everywhere).
        map_index: ``(B,)`` long, which map each batch item uses; None means map b for item b.
        pcf_radius: half-width of the filter box in texels (>= 0).
        bias: ``(c0, c1)``: constant and slope-scaled bias in texels.
        max_tan: clamp on tan θ for the slope term.
        border: the maps already carry an ``inf`` border this many texels wide; at least
            ``ceil(2 pcf_radius) + 1`` saves a padded copy of every map per call (the
            maps of :class:`ShadowCaster` do), less is padded as needed.

    Returns:
        ``(B, 1, H, W)`` visibility in [0, 1] (dtype and device of ``position``), 0 off the
        mask; computed without gradients.

    Examples:
        A light looking straight down (-z) on the square [-1, 1]², with an occluder at z = 5
        over the half x < 0 of an 8 x 8 map; receivers on the plane z = 0, normal +z:

        >>> depth = torch.full((1, 8, 8), float("inf"))
        >>> depth[:, :, :4] = 5.0  # linear depth 10 - z of the occluder
        >>> M = torch.tensor([[[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, -1, 10], [0, 0, 0, 1]]])
        >>> texel = torch.tensor([[2 / 8, 0.0]])
        >>> x = torch.tensor([-0.5, 0.0, 0.5])
        >>> pos = torch.stack([x, torch.zeros(3), torch.zeros(3)]).reshape(1, 3, 1, 3)
        >>> n = torch.tensor([0.0, 0, 1]).reshape(1, 3, 1, 1).expand(1, 3, 1, 3)
        >>> pcf_visibility(depth, M, texel, pos, n, torch.tensor([[0.0, 0, 1, 0]])).flatten().tolist()
        [0.0, 0.5, 1.0]
    """
    check_shape(depth, "L S T", "depth")
    check_shape(light_matrix, "L 4 4", "light_matrix")
    check_shape(texel_size, "L 2", "texel_size")
    check_shape(position, "B 3 H W", "position")
    check_shape(normal, "B 3 H W", "normal")
    check_shape(light_sources, "B 4", "light_sources")
    B, _, H, W = position.shape
    n_maps, Sy, Sx = depth.shape[0], depth.shape[1] - 2 * border, depth.shape[2] - 2 * border
    if normal.shape != position.shape or len(light_sources) != B:
        raise DataError(f"normal, light_sources: expected ({B}, 3, {H}, {W}) and ({B}, 4), "
                        f"got {tuple(normal.shape)} and {tuple(light_sources.shape)}")
    if mask is not None:
        check_shape(mask, "B 1 H W", "mask")
        if mask.shape != (B, 1, H, W):
            raise DataError(f"mask: expected shape ({B}, 1, {H}, {W}), got {tuple(mask.shape)}")
    if map_index is None:
        if n_maps != B:
            raise DataError(f"depth: {n_maps} maps for a batch of {B} (give map_index)")
        map_index = torch.arange(B)
    dev, dt = position.device, position.dtype
    R = float(pcf_radius)
    N = H * W

    # project all pixels (one batched matmul): rows x, y, linear depth, w (module docstring)
    map_index = map_index.to(dev)
    M = light_matrix.to(dev, dt)[map_index]
    pos = position.reshape(B, 3, N)
    clip = torch.baddbmm(M[:, :, 3:], M[:, :, :3], pos)  # (B, 4, N)

    # Then work on the object's pixels only, as flat (P,) channels with a batch index per
    # pixel; the taps are most of the cost.
    if mask is None:
        keep = None
        b = torch.arange(B, device=dev).repeat_interleave(N)
    else:
        keep = (mask.reshape(B * N) > 0).nonzero().squeeze(1)
        b = keep // N

    def channels(t: torch.Tensor) -> list[torch.Tensor]:
        """(B, C, N) -> C (P,) tensors at the kept pixels (a shifted flat view per channel:
        one index for all channels, much faster than advanced indexing on CPU)."""
        C = t.shape[1]
        if keep is None:
            return [t[:, c].reshape(-1) for c in range(C)]
        flat = t.reshape(-1)
        k = keep + b * ((C - 1) * N)
        return [flat[c * N:].take(k) for c in range(C)]

    x, y, z, w = channels(clip)
    front = w > 1e-6  # behind a point light nothing is in the map: send those points off it
    inv_w = torch.where(front, w, 1.0).reciprocal()
    off = -(2 * R + 2)  # far enough left that the whole box is off the map
    tx = torch.where(front, (x * inv_w + 1) * (0.5 * Sx) - 0.5, off)
    ty = torch.where(front, (y * inv_w + 1) * (0.5 * Sy) - 0.5, off)

    # slope-scaled bias from cos θ = n·d / |d|, d = source.xyz - source.w p
    src = light_sources.to(dev, dt)
    sw = src[:, 3].take(b)
    d = [src[:, c].take(b) - sw * pc for c, pc in enumerate(channels(pos))]
    nx, ny, nz = channels(normal.reshape(B, 3, N))
    cos = (nx * d[0] + ny * d[1] + nz * d[2]) * (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).clamp_min(1e-20).rsqrt()
    cos = cos.clamp(1.0 / math.sqrt(1.0 + max_tan**2), 1.0)
    tan = (1 - cos * cos).sqrt() / cos
    m = map_index.take(b)
    ts = texel_size.to(dev, dt)
    z_biased = z - (ts[:, 0].take(m) + ts[:, 1].take(m) * z) * (bias[0] + bias[1] * tan)

    # An inf border at least n texels wide (n texels under the box per axis), and box starts
    # clamped to [-n, S]: a clamped start still has all its taps off the map (lit), and every
    # tap index stays inside the padded map.
    n = math.ceil(2 * R) + 1 if R > 0 else 1
    if border >= n:
        padded = depth.to(dev, dt)
    else:
        padded = pad_depth(depth[:, border:border + Sy, border:border + Sx].to(dev, dt), n)
        border = n
    Py, Px = padded.shape[1:]
    vis = _box_filter_tests(padded.reshape(-1), m * (Px * Py), tx, ty, z_biased, R, n, border, (Sx, Sy))
    if keep is None:
        return vis.reshape(B, 1, H, W)
    out = torch.zeros(B * N, device=dev, dtype=dt)
    out[keep] = vis
    return out.reshape(B, 1, H, W)


def _box_filter_tests(flat: torch.Tensor, base: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor,
                      z_biased: torch.Tensor, R: float, n: int, border: int, size: tuple[int, int]) -> torch.Tensor:
    """Box-filtered depth tests of ``(P,)`` points (see :func:`pcf_visibility`).

    Args:
        flat: all padded maps ``(L, S_y + 2 border, S_x + 2 border)`` flattened (inf border).
        base: ``(P,)`` long, offset of each point's map in ``flat``.
        tx, ty: ``(P,)`` continuous texel coordinates (texel centres at integers).
        z_biased: ``(P,)`` receiver linear depth minus the bias.
        R: box half-width in texels; n: texels under the box per axis (<= border);
        size: ``(S_x, S_y)``.

    Returns:
        ``(P,)`` fraction of the box whose texels are at least ``z_biased`` deep.
    """
    Sx, Sy = size
    Px = Sx + 2 * border
    # Per axis the box covers n texels from ``s``; in units where texel ``s`` spans [0, 1] the
    # box spans [f, f + 2R], so texel i gets weight |[i, i + 1] ∩ [f, f + 2R]|.
    if R > 0:
        sx, sy = torch.floor(tx - (R - 0.5)), torch.floor(ty - (R - 0.5))
        fx, fy = tx - (R - 0.5) - sx, ty - (R - 0.5) - sy
    else:
        sx, sy, fx, fy = torch.floor(tx + 0.5), torch.floor(ty + 0.5), tx, ty

    def weights(f: torch.Tensor) -> list[torch.Tensor | None]:
        """Box overlap of each of the n texels; None where it is always 1 (no multiply)."""
        if R == 0:
            return [None]
        return [None if 1 <= i and i + 1 <= 2 * R
                else ((f + 2 * R).clamp(max=i + 1.0) - f.clamp(min=float(i))).clamp(0, 1) for i in range(n)]

    wxs, wys = weights(fx), weights(fy)
    # non-finite coordinates must not index out of bounds (their value is unspecified: G-buffers
    # are checked for NaN where they are loaded, not here in the hot loop)
    sx = torch.nan_to_num(sx, nan=-n, posinf=Sx, neginf=-n).clamp_(-n, Sx)
    sy = torch.nan_to_num(sy, nan=-n, posinf=Sy, neginf=-n).clamp_(-n, Sy)
    start = (sy.long() + border) * Px + (sx.long() + border) + base
    vis = torch.zeros_like(z_biased)
    row = torch.empty_like(z_biased)
    lit = torch.empty_like(z_biased)
    for j, wy in enumerate(wys):
        row.zero_()
        for i, wx in enumerate(wxs):
            # a view shifted by the tap's offset: the one start index serves every tap;
            # comparing straight into a float buffer skips a bool -> float conversion
            torch.ge(flat[j * Px + i:].take(start), z_biased, out=lit)
            if wx is None:
                row.add_(lit)
            else:
                row.addcmul_(lit, wx)
        if wy is None:
            vis.add_(row)
        else:
            vis.addcmul_(row, wy)
    return vis * (1.0 / (4 * R * R)) if R > 0 else vis


# ----------------------------------------------------------------------------- GL


@dataclass(frozen=True)
class ShadowMap:
    """One light's depth map, stored inside an ``inf`` border (ready for :func:`pcf_visibility`
    without a padded copy).

    Attributes:
        padded: ``(S + 2 border, S + 2 border)`` float32 CPU tensor: linear depth along the
            light's view axis (world units), ``inf`` where no geometry and in the border; row 0
            is the map's y = -1 side (module docstring).
        border: width of the ``inf`` border in texels.
        light_matrix: ``(4, 4)`` float32 world -> ``(x, y, linear depth, w)``.
        texel_size: ``(a, b)``: texel width in world units at linear depth z is ``a + b z``.
        light_source: ``(4,)`` float64 canonical homogeneous light (see :func:`normalize_light`).
    """

    padded: torch.Tensor
    border: int
    light_matrix: torch.Tensor
    texel_size: tuple[float, float]
    light_source: np.ndarray

    @property
    def depth(self) -> torch.Tensor:
        """``(S, S)`` the map without its border (a view)."""
        b = self.border
        return self.padded[b:self.padded.shape[0] - b, b:self.padded.shape[1] - b]


class ShadowCaster(GLResource):
    """Shadow maps of one mesh, rendered with moderngl (EGL) and cached per light, and the
    per-pixel visibility they give.

    The mesh (positions only) is uploaded once; each map is one depth-only render with a
    one-channel float32 readback. Maps are kept in an LRU cache of ``cache_size`` lights
    (captured lights recur every epoch; sweep lights are new each frame), keyed by the light
    rounded to 1e-6. See the module docstring for the conventions and the bias.

    Args:
        mesh: the occluding geometry (world space).
        resolution: map size S (S x S texels).
        pcf_radius: PCF box half-width in texels (:func:`pcf_visibility`).
        bias: ``(c0, c1)`` constant and slope bias in texels; None = ``(1, pcf_radius + 1)``.
        cache_size: maps kept (about ``4 S²`` bytes each: 1 MiB at 512).

    Examples:
        >>> import trimesh
        >>> s = trimesh.creation.icosphere(2, radius=0.5)
        >>> with ShadowCaster(Mesh(s.vertices, s.faces), resolution=64) as caster:  # doctest: +SKIP
        ...     m = caster.depth_map(np.array([0.0, 0.0, 3.0, 1.0]))
        >>> m.depth.shape  # doctest: +SKIP
        torch.Size([64, 64])
    """

    def __init__(self, mesh: Mesh, resolution: int = 512, pcf_radius: float = 1.5,
                 bias: tuple[float, float] | None = None, cache_size: int = 512) -> None:
        if len(mesh.faces) == 0:
            raise CaptureError(f"{mesh.source}: mesh has no faces")
        if resolution < 1 or pcf_radius < 0 or cache_size < 1:
            raise DataError(f"ShadowCaster: resolution >= 1, pcf_radius >= 0 and cache_size >= 1, "
                            f"got {resolution}, {pcf_radius}, {cache_size}")
        self.resolution = int(resolution)
        self.pcf_radius = float(pcf_radius)
        self.bias = (1.0, self.pcf_radius + 1.0) if bias is None else (float(bias[0]), float(bias[1]))
        self.cache_size = int(cache_size)
        # maps carry the inf border pcf_visibility needs, so a lookup never pads a copy
        self._border = math.ceil(2 * self.pcf_radius) + 1 if self.pcf_radius > 0 else 1
        self.centre, self.radius = bounding_sphere(mesh.vertices)
        #: GL renders so far (cache misses).
        self.renders = 0
        self._cache: OrderedDict[tuple[float, ...], ShadowMap] = OrderedDict()
        super().__init__()
        self._objs: list = []
        self.prog = self.ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT)
        vbo = self.ctx.buffer(np.ascontiguousarray(mesh.vertices, np.float32).tobytes())
        ibo = self.ctx.buffer(np.ascontiguousarray(mesh.faces, np.int32).tobytes())
        self._vao = self.ctx.vertex_array(self.prog, [(vbo, "3f", "in_pos")], index_buffer=ibo, index_element_size=4)
        size = (self.resolution, self.resolution)
        color = self.ctx.texture(size, 1, dtype="f4")
        depth = self.ctx.depth_renderbuffer(size)
        self._fbo = self.ctx.framebuffer(color_attachments=[color], depth_attachment=depth)
        self._objs = [vbo, ibo, self._vao, color, depth, self._fbo, self.prog]

    # ---------------------------------------------------------------- maps
    def depth_map(self, light_source: np.ndarray) -> ShadowMap:
        """The shadow map of one light ``(4,)`` (homogeneous), rendered or from the cache.

        Raises:
            DataError: a malformed light, or a point light inside or too near the mesh's
                bounding sphere (naming the light).
        """
        s = normalize_light(light_source)
        key = tuple(np.round(s, 6).tolist())
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        with self._current():
            smap = self._render_depth_map(s)
        self._cache[key] = smap
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return smap

    def _render_depth_map(self, s: np.ndarray) -> ShadowMap:
        # heavy optional dependency: imported only when a map is rendered
        import moderngl

        frustum = light_frustum(s, self.centre, self.radius, self.resolution)
        self.prog["world_to_light"].write(frustum.world_to_light.T.astype("f4").tobytes())  # GLSL is column-major
        self.prog["projection"].write(frustum.projection.T.astype("f4").tobytes())
        S = self.resolution
        self._fbo.use()
        self.ctx.viewport = (0, 0, S, S)
        self.ctx.enable_only(moderngl.DEPTH_TEST)  # no culling: open meshes (a ground plane) cast too
        self._fbo.clear(float("inf"), depth=1.0)  # float colour buffers are not clamped: empty = inf
        self._vao.render(moderngl.TRIANGLES)
        buf = np.empty((S, S), np.float32)
        self._fbo.read_into(buf, components=1, attachment=0, dtype="f4")
        self.renders += 1
        return ShadowMap(pad_depth(torch.from_numpy(buf), self._border), self._border,
                         torch.from_numpy(frustum.light_matrix.astype(np.float32)), frustum.texel_size, s)

    def visibility(self, position: torch.Tensor, normal: torch.Tensor, light_sources: torch.Tensor,
                   mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-pixel visibility of each batch item's light (see :func:`pcf_visibility`).

        Args:
            position: ``(B, 3, H, W)`` float world-space surface points.
            normal: ``(B, 3, H, W)`` unit world-space normals.
            light_sources: ``(B, 4)`` homogeneous lights (repeated lights render once).
            mask: ``(B, 1, H, W)`` 1 on the object, or None.

        Returns:
            ``(B, 1, H, W)`` float in [0, 1] on ``position``'s device, 0 off the mask. Attached
            shadow (n·l < 0) is left to the caller's cosine terms.
        """
        check_shape(light_sources, "B 4", "light_sources")
        lights = light_sources.detach().to("cpu", torch.float64).numpy()
        maps: list[ShadowMap] = []
        slot: dict[int, int] = {}  # id(map) -> its place in the stack: a repeated light stacks once
        index = []
        for s in lights:
            m = self.depth_map(s)
            if id(m) not in slot:
                slot[id(m)] = len(maps)
                maps.append(m)
            index.append(slot[id(m)])
        dev = position.device
        depth = torch.stack([m.padded for m in maps])
        matrix = torch.stack([m.light_matrix for m in maps])
        texel = torch.tensor([m.texel_size for m in maps])
        return pcf_visibility(depth, matrix, texel, position, normal, light_sources, mask,
                              torch.tensor(index, device=dev), pcf_radius=self.pcf_radius, bias=self.bias,
                              border=self._border)

    # ---------------------------------------------------------------- lifetime
    def _gl_objects(self) -> list:
        return self._objs

    def _forget(self) -> None:
        self._objs = []  # the cached maps are CPU tensors: they stay readable
