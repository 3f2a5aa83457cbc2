"""The renderer's per-pixel inputs: one registry, one compute function per input.

Every input the renderer can consume — the origin's bare buffers (normal, light and view
direction) and the radiance cues of Deferred Neural Lighting (Gao et al. 2020) — is a
:class:`PixelInput`: a name, its channel count, whether it depends on the light, whether it is
a *radiance cue* (linear radiance, so cue products can be summed into a physically based base
image) and one function computing it from a :class:`PixelGeometry`. Training, the remedies,
evaluation, rendering and the benchmark all go through :func:`compute_inputs`; the model config
lists the names it consumes. Adding an input is one function and one decorator line::

    @register_input("my_input", channels=1, light_dependent=True, description="...")
    def _my_input(g: PixelGeometry) -> torch.Tensor:
        return g.n_dot_l.clamp_min(0) ** 2

Radiance cues (linear, in the capture's radiance units, 0 off the object):

- ``diffuse``: ``max(n·l, 0) · E · V`` — a white Lambertian surface's irradiance (the texture
  learns albedo/π); ``E = I / d²`` for a point light of intensity ``I`` at distance ``d``,
  ``E = I`` for a directional light; ``V`` is the cast-shadow visibility (1 without shadow maps).
- ``ggx_<α>`` for α in :data:`GGX_ROUGHNESS`: a white Cook–Torrance lobe
  ``f · max(n·l, 0) · E · V`` with ``f = D · G · F / (4 (n·l)(n·v))``: D the GGX
  (Trowbridge–Reitz) distribution with α as given (the value squared in ``D``), G Smith's
  height-correlated masking-shadowing for GGX (Heitz 2014), F = 1 (the texture channels the cue
  multiplies learn the specular colour/F0; the renderer corrects grazing Fresnel). The energy
  ``∫ f cosθ_l dω_l`` is at most 1 for every view (a test checks it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import torch

from neutex.check import check_shape
from neutex.errors import ConfigError, DataError
from neutex.geometry import directions_to

#: the roughnesses α of the specular cues (DNL's four Cook–Torrance materials).
GGX_ROUGHNESS = (0.02, 0.05, 0.13, 0.34)


class PixelGeometry:
    """Per-pixel geometry of B (view, light) pairs, with every light-dependent quantity the
    inputs share computed once, on first use.

    Built from a batch dict (:func:`neutex.data.geometry_batch`):

    - ``normal``, ``position``: ``(B, 3, H, W)`` world, unit normals (0 off the object);
    - ``view_dir`` (needed by view-dependent quantities only): ``(B, 3, H, W)`` unit, surface -> camera;
    - ``mask``: ``(B, 1, H, W)``, 1 on the object;
    - ``light_source``: ``(B, 4)`` homogeneous light (``x, y, z, 1`` point / ``dx, dy, dz, 0``
      directional, the unit vector towards the light);
    - ``light_intensity`` (optional): ``(B, 3)`` RGB radiant intensity (point, W/sr) or
      irradiance (directional); default 1;
    - ``visibility`` (optional): ``(B, 1, H, W)`` cast-shadow visibility in [0, 1] (from
      :class:`neutex.gbuffer.ShadowCaster`); default 1 (attached shadow only, through n·l).

    It is also the one Lambertian shading ``max(n·l, 0) · I / d²``
    (:attr:`shaded_irradiance`) of the nearest-light baseline and the analytic test dataset.

    Examples:
        >>> b = {"normal": torch.tensor([0.0, 0, 1]).view(1, 3, 1, 1), "position": torch.zeros(1, 3, 1, 1),
        ...      "view_dir": torch.tensor([0.0, 0, 1]).view(1, 3, 1, 1), "mask": torch.ones(1, 1, 1, 1),
        ...      "light_source": torch.tensor([[0.0, 0, 2, 1]]), "light_intensity": torch.full((1, 3), 8.0)}
        >>> g = PixelGeometry(b)
        >>> g.n_dot_l.item(), g.irradiance[0, :, 0, 0].tolist()
        (1.0, [2.0, 2.0, 2.0])
    """

    def __init__(self, batch: Mapping[str, torch.Tensor]) -> None:
        for key in ("normal", "position", "mask", "light_source"):
            if key not in batch:
                raise DataError(f"batch: missing key {key!r} (renderer inputs need normal, position, mask, "
                                "light_source, and view_dir for view-dependent ones)")
        self.normal = batch["normal"]
        check_shape(self.normal, "B 3 H W", "normal")
        B, _, H, W = self.normal.shape
        self.position = batch["position"]
        self._view_dir = batch.get("view_dir")
        self.mask = batch["mask"]
        check_shape(self.position, f"{B} 3 {H} {W}", "position")
        if self._view_dir is not None:
            check_shape(self._view_dir, f"{B} 3 {H} {W}", "view_dir")
        check_shape(self.mask, f"{B} 1 {H} {W}", "mask")
        self.light_source = batch["light_source"].to(self.position.dtype)
        check_shape(self.light_source, f"{B} 4", "light_source")
        inten = batch.get("light_intensity")
        if inten is None:
            inten = torch.ones(B, 3, dtype=self.position.dtype, device=self.position.device)
        check_shape(inten, f"{B} 3", "light_intensity")
        self.light_intensity = inten.to(self.position.dtype)
        vis = batch.get("visibility")
        if vis is not None:
            check_shape(vis, f"{B} 1 {H} {W}", "visibility")
        self._visibility = vis

    @cached_property
    def _light(self) -> tuple[torch.Tensor, torch.Tensor]:
        # directions_to reduces over channels: ~5x faster on channels-last memory
        pos = self.position.contiguous(memory_format=torch.channels_last)
        d, dist = directions_to(pos, self.light_source)
        return (d * self.mask).contiguous(), dist.contiguous()

    @property
    def view_dir(self) -> torch.Tensor:
        """``(B, 3, H, W)`` unit, surface -> camera.

        Raises:
            DataError: the batch carries no ``view_dir``.
        """
        if self._view_dir is None:
            raise DataError("batch: missing key 'view_dir' (renderer inputs need it for view-dependent quantities: "
                            "view_dir, the GGX cues)")
        return self._view_dir

    @property
    def light_dir(self) -> torch.Tensor:
        """``(B, 3, H, W)`` unit, surface -> light; 0 off the object."""
        return self._light[0]

    @property
    def light_dist(self) -> torch.Tensor:
        """``(B, 1, H, W)`` distance to the light (``inf`` for directional lights)."""
        return self._light[1]

    @cached_property
    def n_dot_l(self) -> torch.Tensor:
        """``(B, 1, H, W)`` cosine between normal and light direction (unclamped)."""
        return _dot(self.normal, self.light_dir)

    @cached_property
    def n_dot_v(self) -> torch.Tensor:
        """``(B, 1, H, W)`` cosine between normal and view direction (unclamped)."""
        return _dot(self.normal, self.view_dir)

    @cached_property
    def n_dot_h(self) -> torch.Tensor:
        """``(B, 1, H, W)`` cosine between normal and the half vector of light and view (clamped at 0)."""
        h = self.light_dir + self.view_dir
        h = h * torch.rsqrt(_dot(h, h).clamp_min(1e-12))
        return _dot(self.normal, h).clamp(0.0, 1.0)

    @cached_property
    def irradiance(self) -> torch.Tensor:
        """``(B, 3, H, W)`` irradiance scale ``E``: ``I / d²`` for point lights, ``I`` for
        directional ones (a surface facing the light receives ``E``; ``E · max(n·l, 0)`` in general)."""
        falloff = torch.where(torch.isinf(self.light_dist), torch.ones_like(self.light_dist),
                              1.0 / self.light_dist.clamp_min(1e-6) ** 2)
        return self.light_intensity[:, :, None, None] * falloff

    @property
    def visibility(self) -> torch.Tensor:
        """``(B, 1, H, W)`` cast-shadow visibility (ones when the batch carries none)."""
        if self._visibility is None:
            return torch.ones_like(self.mask)
        return self._visibility.to(self.mask.dtype)

    @cached_property
    def shaded_irradiance(self) -> torch.Tensor:
        """``(B, 3, H, W)`` ``max(n·l, 0) · E · V · mask``: the irradiance every radiance cue scales."""
        e = self.n_dot_l.clamp_min(0) * self.irradiance * self.mask
        return e if self._visibility is None else e * self.visibility


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # explicit sum: a reduction over dim 1 of an NCHW CPU tensor is far slower
    return a[:, 0:1] * b[:, 0:1] + a[:, 1:2] * b[:, 1:2] + a[:, 2:3] * b[:, 2:3]


def ggx_lobe(n_dot_l: torch.Tensor, n_dot_v: torch.Tensor, n_dot_h: torch.Tensor, alpha: float) -> torch.Tensor:
    """Cook–Torrance BRDF with GGX D, height-correlated Smith G and F = 1:
    ``f = D(h) · G2(l, v) / (4 (n·l)(n·v))``, written with the visibility term
    ``G2 / (4 (n·l)(n·v)) = 0.5 / (n·l · √((n·v)²(1−α²)+α²) + n·v · √((n·l)²(1−α²)+α²))``
    (Heitz 2014), which stays finite at grazing angles.

    Args:
        n_dot_l, n_dot_v, n_dot_h: ``(...)`` cosines (clamped to [0, 1] here).
        alpha: GGX roughness α (``D = α² / (π ((n·h)²(α²−1)+1)²)``).

    Returns:
        ``(...)`` the BRDF value (1/sr), 0 where n·l or n·v ≤ 0.

    Examples:
        >>> one = torch.ones(())
        >>> round(ggx_lobe(one, one, one, 0.5).item(), 4)  # D = 1/(π α²), G2/(4) = 1/4
        0.3183
    """
    a2 = alpha * alpha
    nl, nv = n_dot_l.clamp(0.0, 1.0), n_dot_v.clamp(0.0, 1.0)
    nh = n_dot_h.clamp(0.0, 1.0)
    d = a2 / (math.pi * (nh * nh * (a2 - 1.0) + 1.0) ** 2)
    lam_v = nl * torch.sqrt(nv * nv * (1.0 - a2) + a2)
    lam_l = nv * torch.sqrt(nl * nl * (1.0 - a2) + a2)
    vis = 0.5 / (lam_v + lam_l).clamp_min(1e-7)
    return torch.where((nl > 0) & (nv > 0), d * vis, torch.zeros_like(d))


# ============================================================================ the registry


@dataclass(frozen=True)
class PixelInput:
    """One per-pixel renderer input.

    Attributes:
        name: registry key (used in ``model.inputs``).
        channels: channels of the computed tensor.
        light_dependent: whether it changes with the light (otherwise computed once per view
            when rendering a sweep).
        radiance: a radiance cue: linear radiance of a white material under the light, so
            ``texture channels × cue`` are radiance and can be summed into a base image.
        compute: ``PixelGeometry -> (B, channels, H, W)`` float, 0 off the object.
        description: one line for ``--help`` and docs.
    """

    name: str
    channels: int
    light_dependent: bool
    radiance: bool
    compute: Callable[[PixelGeometry], torch.Tensor]
    description: str


#: every registered input, by name (insertion order: the documentation's order).
INPUTS: dict[str, PixelInput] = {}


def register_input(name: str, channels: int, light_dependent: bool, description: str,
                   radiance: bool = False) -> Callable[[Callable[[PixelGeometry], torch.Tensor]], Callable]:
    """Decorator: register ``fn(PixelGeometry) -> (B, channels, H, W)`` under ``name``.

    Raises:
        ConfigError: the name is taken or malformed.
    """
    if not name or ":" in name or " " in name:
        raise ConfigError(f"input name {name!r}: must be non-empty, without ':' or spaces")

    def deco(fn: Callable[[PixelGeometry], torch.Tensor]) -> Callable[[PixelGeometry], torch.Tensor]:
        if name in INPUTS:
            raise ConfigError(f"input {name!r}: already registered")
        INPUTS[name] = PixelInput(name, int(channels), bool(light_dependent), bool(radiance), fn, description)
        return fn

    return deco


def get_input(name: str, where: str = "model.inputs") -> PixelInput:
    """The registered input ``name``, or a :class:`ConfigError` listing the known ones."""
    if name not in INPUTS:
        raise ConfigError(f"{where}: unknown input {name!r} (known: {', '.join(INPUTS)})")
    return INPUTS[name]


def compute_inputs(batch: Mapping[str, torch.Tensor] | PixelGeometry, names: Sequence[str]) -> dict[str, torch.Tensor]:
    """Compute the named inputs for a batch (shared intermediates computed once).

    Args:
        batch: a geometry batch (see :class:`PixelGeometry`) or a PixelGeometry.
        names: registered input names.

    Returns:
        ``{name: (B, channels, H, W)}`` in the batch's dtype, 0 off the object.

    Examples:
        >>> b = {"normal": torch.tensor([0.0, 0, 1]).view(1, 3, 1, 1), "position": torch.zeros(1, 3, 1, 1),
        ...      "view_dir": torch.tensor([0.0, 0, 1]).view(1, 3, 1, 1), "mask": torch.ones(1, 1, 1, 1),
        ...      "light_source": torch.tensor([[0.0, 0.6, 0.8, 0.0]])}
        >>> out = compute_inputs(b, ["cosine", "light_dir"])
        >>> round(out["cosine"].item(), 4), [round(x, 4) for x in out["light_dir"].flatten().tolist()]
        (0.8, [0.0, 0.6, 0.8])
    """
    g = batch if isinstance(batch, PixelGeometry) else PixelGeometry(batch)
    out = {}
    for n in names:
        spec = get_input(n)
        x = spec.compute(g)
        if x.shape[1] != spec.channels:
            raise DataError(f"input {n!r}: computed {x.shape[1]} channels, registered {spec.channels}")
        out[n] = x
    return out


# ============================================================================ the inputs


@register_input("normal", 3, False, "world-space unit normal")
def _normal(g: PixelGeometry) -> torch.Tensor:
    return g.normal * g.mask


@register_input("light_dir", 3, True, "unit direction surface -> light (the origin's light input)")
def _light_dir(g: PixelGeometry) -> torch.Tensor:
    return g.light_dir


@register_input("view_dir", 3, False, "unit direction surface -> camera")
def _view_dir(g: PixelGeometry) -> torch.Tensor:
    return g.view_dir * g.mask


@register_input("cosine", 1, True, "Lambertian cosine max(n·l, 0) (the former --model.shading-cue)")
def _cosine(g: PixelGeometry) -> torch.Tensor:
    return g.n_dot_l.clamp_min(0) * g.mask


@register_input("irradiance", 3, True, "light falloff E = I/d² (point) or I (directional), no cosine")
def _irradiance(g: PixelGeometry) -> torch.Tensor:
    return g.irradiance * g.mask


@register_input("visibility", 1, True, "cast-shadow visibility in [0, 1] from shadow maps (1 without them)")
def _visibility(g: PixelGeometry) -> torch.Tensor:
    return g.visibility * g.mask


@register_input("diffuse", 3, True, "diffuse radiance cue max(n·l, 0)·E·V (white Lambertian x π)", radiance=True)
def _diffuse(g: PixelGeometry) -> torch.Tensor:
    return g.shaded_irradiance


def _register_ggx(alpha: float) -> None:
    @register_input(f"ggx_{alpha:g}", 3, True, f"specular radiance cue: GGX lobe, α = {alpha:g}, × max(n·l, 0)·E·V",
                    radiance=True)
    def _ggx(g: PixelGeometry) -> torch.Tensor:
        return ggx_lobe(g.n_dot_l, g.n_dot_v, g.n_dot_h, alpha) * g.shaded_irradiance


for _alpha in GGX_ROUGHNESS:
    _register_ggx(_alpha)

#: the five radiance cues of Deferred Neural Lighting, in channel order.
RADIANCE_CUES: tuple[str, ...] = ("diffuse", *(f"ggx_{a:g}" for a in GGX_ROUGHNESS))
