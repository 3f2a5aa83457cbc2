"""The renderer's per-pixel inputs: one registry, one compute function per input.

Every input the renderer can consume — the origin's bare buffers (normal, light and view
direction) and the radiance cues of Deferred Neural Lighting (Gao et al. 2020) — is a
:class:`PixelInput`: a name, its channel count, whether it depends on the light, whether it is
a *radiance cue* (linear radiance, so cue products can be summed into a physically based base
image) and one function computing it from a :class:`~neutex.model.pixel_geometry.PixelGeometry`.
Training, the remedies, evaluation, rendering and the benchmark all go through
:func:`~neutex.model.pixel_geometry.compute_inputs`; the model config lists the names it
consumes and validates them here. The functions only combine the geometry's tensors, so this
module imports no torch: a config (and ``neutex --help``) checks its inputs against
:data:`INPUTS` without loading it. Adding an input is one function and one decorator line::

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

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from neutex.errors import ConfigError

if TYPE_CHECKING:
    import torch

    from neutex.model.pixel_geometry import PixelGeometry

#: the roughnesses α of the specular cues (DNL's four Cook–Torrance materials).
GGX_ROUGHNESS = (0.02, 0.05, 0.13, 0.34)


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
        return g.ggx(alpha) * g.shaded_irradiance


for _alpha in GGX_ROUGHNESS:
    _register_ggx(_alpha)

#: the five radiance cues of Deferred Neural Lighting, in channel order.
RADIANCE_CUES: tuple[str, ...] = ("diffuse", *(f"ggx_{a:g}" for a in GGX_ROUGHNESS))
