"""Lat-long (equirectangular) HDR environment maps: the direction convention, per-pixel solid
angles, rotation about the up axis, and reading/writing maps (EXR, Radiance ``.hdr``).

Convention (docs/render.md, "Environment maps"). A map is ``(H, W, 3)`` float32 linear
radiance (W/(m² sr), the capture's radiance units), usually ``W = 2H``. Pixel ``(i, j)``
(column, row) covers ``u ∈ [i/W, (i+1)/W)``, ``v ∈ [j/H, (j+1)/H)`` and its centre looks along

    d(u, v) = cos θ · up + sin θ · (cos φ · e1 − sin φ · e2),   θ = π v,  φ = 2π u

with ``(e1, e2, up)`` the right-handed basis of :func:`neutex.render.lights.circle_light_sources`
(``e1 = +x, e2 = +y`` for ``up = +z``): row 0 is the zenith, the middle row the horizon; the
left and right edges look along ``e1``, the quarter column along ``−e2``, the middle column
along ``−e1``. Read left to right the map pans clockwise seen from above, as a panorama seen
from inside the sphere (not mirrored). It is Mitsuba 3's ``envmap`` convention up to a rotation
(:func:`mitsuba_to_world`; a test pins it against Mitsuba).

``rotation_deg`` turns the map about ``up``: a feature at azimuth α moves to α + rotation
(counter-clockwise seen from above, as light sweeps turn).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neutex.capture.imageio import ImageReadError, read_image, write_exr
from neutex.color import LUMA_WEIGHTS
from neutex.errors import CaptureError

#: Rec. 709 luminance weights (linear RGB), as an array for ``energy @ LUMINANCE``.
LUMINANCE = np.array(LUMA_WEIGHTS)


def up_basis(up=(0.0, 0.0, 1.0)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(e1, e2, up)``: the right-handed orthonormal basis azimuths are measured in, by maps
    and by light sweeps alike (:func:`neutex.render.lights.azimuth_deg`).

    Examples:
        >>> [b.tolist() for b in up_basis()]
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    up = np.asarray(up, float) / np.linalg.norm(up)
    ref = np.array([1.0, 0, 0]) if abs(up[0]) < 0.9 else np.array([0, 1.0, 0])
    e1 = ref - up * (ref @ up)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(up, e1), up


def direction_at(azimuth_deg, elevation_deg, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Unit world directions ``(..., 3)`` at azimuths and elevations (degrees, broadcast) in the
    :func:`up_basis` of ``up``: azimuth 0 along ``e1``, 90 along ``e2``, elevation 90 along ``up``.

    Examples:
        >>> direction_at(90.0, 0.0).round(6).tolist(), direction_at(0.0, 90.0).round(6).tolist()
        ([0.0, 1.0, 0.0], [0.0, 0.0, 1.0])
    """
    e1, e2, k = up_basis(up)
    az, el = np.broadcast_arrays(np.radians(azimuth_deg), np.radians(elevation_deg))
    outer = np.multiply.outer
    return outer(np.cos(el) * np.cos(az), e1) + outer(np.cos(el) * np.sin(az), e2) + outer(np.sin(el), k)


def rotation_about(up, deg: float) -> np.ndarray:
    """``(3, 3)`` rotation by ``deg`` degrees about ``up`` (counter-clockwise seen from up).

    Examples:
        >>> np.round(rotation_about([0, 0, 1], 90) @ [1.0, 0, 0], 6).tolist()
        [0.0, 1.0, 0.0]
    """
    k = np.asarray(up, float) / np.linalg.norm(up)
    a = math.radians(deg)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(a) * kx + (1 - math.cos(a)) * kx @ kx


def uv_to_direction(u, v, up=(0.0, 0.0, 1.0), rotation_deg: float = 0.0) -> np.ndarray:
    """World directions ``(..., 3)`` of map coordinates ``u, v`` in [0, 1] (see the module doc).

    Examples:
        >>> np.round(uv_to_direction(np.array([0.0, 0.25, 0.5]), np.array([0.5, 0.5, 0.0])), 6) + 0.0
        array([[ 1.,  0.,  0.],
               [ 0., -1.,  0.],
               [ 0.,  0.,  1.]])
    """
    e1, e2, k = up_basis(up)
    th, ph = np.pi * np.asarray(v, float), 2 * np.pi * np.asarray(u, float)
    s = np.sin(th)[..., None]
    d = np.cos(th)[..., None] * k + s * (np.cos(ph)[..., None] * e1 - np.sin(ph)[..., None] * e2)
    if rotation_deg:
        d = d @ rotation_about(k, rotation_deg).T
    return d


def direction_to_uv(d, up=(0.0, 0.0, 1.0), rotation_deg: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Map coordinates ``(u, v)`` in [0, 1) x [0, 1] of world directions ``(..., 3)``; the
    inverse of :func:`uv_to_direction`.

    Examples:
        >>> u, v = direction_to_uv(uv_to_direction(0.3, 0.7, rotation_deg=40.0), rotation_deg=40.0)
        >>> round(float(u), 6), round(float(v), 6)
        (0.3, 0.7)
    """
    e1, e2, k = up_basis(up)
    d = np.asarray(d, float)
    if rotation_deg:
        d = d @ rotation_about(k, -rotation_deg).T
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    v = np.arccos(np.clip(d @ k, -1.0, 1.0)) / np.pi
    u = np.mod(np.arctan2(-(d @ e2), d @ e1) / (2 * np.pi), 1.0)
    return u, v


def pixel_directions(height: int, width: int, up=(0.0, 0.0, 1.0), rotation_deg: float = 0.0) -> np.ndarray:
    """``(H, W, 3)`` unit world directions of the pixel centres of an ``H x W`` map."""
    v = (np.arange(height) + 0.5) / height
    u = (np.arange(width) + 0.5) / width
    return uv_to_direction(u[None, :], v[:, None], up, rotation_deg)


def pixel_solid_angles(height: int, width: int) -> np.ndarray:
    """``(H, 1)`` exact solid angle (sr) of each row's pixels: ``(2π/W)(cos θ_top − cos θ_bottom)``;
    they sum to 4π over the map.

    Examples:
        >>> round(float(pixel_solid_angles(8, 16).sum() * 16 / (4 * np.pi)), 9)
        1.0
    """
    th = np.pi * np.arange(height + 1) / height
    return ((2 * np.pi / width) * (np.cos(th[:-1]) - np.cos(th[1:])))[:, None]


def mitsuba_to_world(up=(0.0, 0.0, 1.0), rotation_deg: float = 0.0) -> np.ndarray:
    """``(4, 4)`` ``to_world`` of Mitsuba's ``envmap`` emitter that shows a map in this convention.

    Mitsuba looks up local direction ``(sin θ sin φ, cos θ, −sin θ cos φ)`` at ``(u, v) =
    (φ / 2π, θ / π)``; mapping local ``(x, y, z)`` to ``(−e2, up, −e1)`` makes that the
    direction of :func:`uv_to_direction` (a proper rotation: det +1).
    """
    e1, e2, k = up_basis(up)
    m = np.eye(4)
    m[:3, :3] = rotation_about(k, rotation_deg) @ np.stack([-e2, k, -e1], 1)
    return m


@dataclass
class EnvMap:
    """An HDR environment map in the lat-long convention of this module.

    Attributes:
        radiance: ``(H, W, 3)`` float32 linear radiance, finite, >= 0.
        up: ``(3,)`` world up axis the map's zenith points along.
        rotation_deg: rotation about ``up`` (degrees).
        name: a short name (file stem or preset).
    """

    radiance: np.ndarray
    up: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 1.0]))
    rotation_deg: float = 0.0
    name: str = "envmap"

    def __post_init__(self) -> None:
        r = np.asarray(self.radiance, np.float32)
        if r.ndim != 3 or r.shape[2] != 3 or r.shape[0] < 2 or r.shape[1] < 2:
            raise CaptureError(f"envmap {self.name}: expected an (H, W, 3) image of at least 2x2, got {r.shape}")
        if not np.isfinite(r).all() or (r < 0).any():
            raise CaptureError(f"envmap {self.name}: radiance must be finite and non-negative")
        self.radiance = r
        self.up = np.asarray(self.up, float) / np.linalg.norm(self.up)

    @property
    def height(self) -> int:
        return int(self.radiance.shape[0])

    @property
    def width(self) -> int:
        return int(self.radiance.shape[1])

    def rotated(self, deg: float) -> "EnvMap":
        """The same map turned a further ``deg`` degrees about up."""
        return EnvMap(self.radiance, self.up, self.rotation_deg + deg, self.name)

    def directions(self) -> np.ndarray:
        """``(H, W, 3)`` world directions of the pixel centres (rotation applied)."""
        return pixel_directions(self.height, self.width, self.up, self.rotation_deg)

    def solid_angles(self) -> np.ndarray:
        """``(H, 1)`` per-row pixel solid angles (sr)."""
        return pixel_solid_angles(self.height, self.width)

    def irradiance_total(self) -> np.ndarray:
        """``(3,)`` ``∫ L dω`` over the sphere (RGB): what the map's lights sum to."""
        return (self.radiance * self.solid_angles()[..., None]).sum((0, 1))

    def lookup(self, d: np.ndarray) -> np.ndarray:
        """``(..., 3)`` radiance seen along world directions ``(..., 3)`` (nearest pixel)."""
        u, v = direction_to_uv(d, self.up, self.rotation_deg)
        i = np.minimum((u * self.width).astype(int), self.width - 1)
        j = np.minimum((v * self.height).astype(int), self.height - 1)
        return self.radiance[j, i]

    def irradiance_at(self, normal) -> np.ndarray:
        """``(3,)`` irradiance ``∫ L max(n·ω, 0) dω`` on a surface with unit ``normal`` (3,)
        (unoccluded): the brightness of a white Lambertian patch times π.

        Examples:
            >>> e = EnvMap(np.ones((32, 64, 3), np.float32))
            >>> round(float(e.irradiance_at([0, 0, 1])[0] / np.pi), 2)  # uniform radiance 1: E = π
            1.0
        """
        cos = np.clip(self.directions() @ np.asarray(normal, float), 0, None)
        return (self.radiance * (cos * self.solid_angles())[..., None]).sum((0, 1))


def read_envmap(path: str | Path, up=(0.0, 0.0, 1.0), rotation_deg: float = 0.0) -> EnvMap:
    """Read a lat-long HDR map: ``.exr`` (through :func:`neutex.capture.imageio.read_image`),
    ``.hdr``/``.pic`` (Radiance RGBE, :func:`read_hdr`) or ``.npy`` ``(H, W, 3)``.

    Raises:
        CaptureError: missing or unreadable file, NaN/inf or negative values, a shape that is
            not a map.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(path, "file not found")
    suffix = path.suffix.lower()
    if suffix == ".exr":
        arr = read_image(path, "linear")
    elif suffix in (".hdr", ".pic"):
        arr = read_hdr(path)
    elif suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False).astype(np.float32)
        except (ValueError, OSError) as exc:
            raise ImageReadError(path, f"cannot read .npy ({exc})") from None
    else:
        raise ImageReadError(path, f"unsupported environment map format {suffix!r} (use .exr, .hdr, .npy)")
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageReadError(path, f"expected an RGB lat-long image, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ImageReadError(path, "NaN or inf values")
    if (arr < 0).any():
        raise ImageReadError(path, f"negative radiance (min {float(arr.min()):.3g}); a light probe is >= 0")
    h, w = arr.shape[:2]
    if not 1.5 <= w / h <= 2.5:
        raise ImageReadError(path, f"{w}x{h} is not a lat-long map (width should be about twice the height)")
    return EnvMap(arr, np.asarray(up, float), float(rotation_deg), path.stem)


def write_envmap(path: str | Path, env: EnvMap | np.ndarray) -> Path:
    """Write a map as a 32-bit float EXR (``.exr``), Radiance RGBE (``.hdr``) or ``.npy``."""
    arr = env.radiance if isinstance(env, EnvMap) else np.asarray(env, np.float32)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".exr":
        write_exr(path, arr, half=False)
    elif suffix == ".hdr":
        write_hdr(path, arr)
    elif suffix == ".npy":
        np.save(path, np.asarray(arr, np.float32))
    else:
        raise ValueError(f"write_envmap: {path}: use .exr, .hdr or .npy")
    return path


# ---------------------------------------------------------------- Radiance RGBE (.hdr)


def write_hdr(path: str | Path, img: np.ndarray) -> None:
    """Write ``(H, W, 3)`` linear float as a flat (not run-length encoded) Radiance RGBE file."""
    x = np.asarray(img, np.float64)
    h, w = x.shape[:2]
    m = x.max(-1)
    e = np.where(m > 1e-32, np.floor(np.log2(np.maximum(m, 1e-32))) + 1, -128)
    scale = np.where(m > 1e-32, 256.0 / np.exp2(e), 0.0)
    rgbe = np.zeros((h, w, 4), np.uint8)
    rgbe[..., :3] = np.clip(np.floor(x * scale[..., None]), 0, 255).astype(np.uint8)
    rgbe[..., 3] = np.where(m > 1e-32, np.clip(e + 128, 0, 255), 0).astype(np.uint8)
    head = f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {h} +X {w}\n".encode()
    Path(path).write_bytes(head + rgbe.tobytes())


def read_hdr(path: str | Path) -> np.ndarray:
    """Read a Radiance RGBE ``.hdr`` (flat or new-style run-length encoded scanlines, ``-Y H +X W``)
    as ``(H, W, 3)`` float32 linear.

    Raises:
        CaptureError: not a Radiance file, an unsupported orientation, or truncated data.
    """
    path = Path(path)
    buf = path.read_bytes()
    if not (buf.startswith(b"#?RADIANCE") or buf.startswith(b"#?RGBE")):
        raise ImageReadError(path, "not a Radiance HDR file (no #?RADIANCE header)")
    pos = 0
    size_line = None
    while True:
        end = buf.find(b"\n", pos)
        if end < 0:
            raise ImageReadError(path, "truncated header")
        line = buf[pos:end].strip()
        pos = end + 1
        if line.startswith(b"FORMAT=") and line != b"FORMAT=32-bit_rle_rgbe":
            raise ImageReadError(path, f"unsupported {line.decode(errors='replace')} (RGBE only)")
        if line.startswith((b"-Y", b"+Y")):
            size_line = line.split()
            break
    if len(size_line) != 4 or size_line[0] != b"-Y" or size_line[2] != b"+X":
        raise ImageReadError(path, f"unsupported orientation {b' '.join(size_line).decode(errors='replace')} "
                             "(only -Y H +X W)")
    h, w = int(size_line[1]), int(size_line[3])
    data = np.frombuffer(buf, np.uint8, offset=pos)
    out = np.zeros((h, w, 4), np.uint8)
    k = 0
    try:
        for y in range(h):
            if 8 <= w < 32768 and data[k] == 2 and data[k + 1] == 2 and (int(data[k + 2]) << 8 | int(data[k + 3])) == w:
                k += 4
                for c in range(4):
                    x = 0
                    while x < w:
                        n = int(data[k])
                        k += 1
                        if n > 128:
                            n -= 128
                            out[y, x:x + n, c] = data[k]
                            k += 1
                        else:
                            out[y, x:x + n, c] = data[k:k + n]
                            k += n
                        x += n
            else:
                out[y] = data[k:k + 4 * w].reshape(w, 4)
                k += 4 * w
    except (IndexError, ValueError):
        raise ImageReadError(path, "truncated pixel data") from None
    e = out[..., 3].astype(np.int32)
    f = np.where(e > 0, np.ldexp(1.0, e - 136), 0.0)
    return (out[..., :3] * f[..., None]).astype(np.float32)
