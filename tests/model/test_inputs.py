"""The renderer-input registry: each cue against a NumPy reference at known angles, the GGX
lobe's energy, irradiance falloff, visibility, and the registry's own checks."""

import math

import numpy as np
import pytest
import torch

from neutex.errors import ConfigError, DataError
from neutex.model.inputs import GGX_ROUGHNESS, INPUTS, RADIANCE_CUES, register_input
from neutex.model.pixel_geometry import PixelGeometry, compute_inputs, ggx_lobe


def _unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def _batch(normal, light_source, view_dir, intensity=(1.0, 1.0, 1.0), position=(0.0, 0.0, 0.0), visibility=None):
    """A one-pixel batch."""
    b = {
        "normal": torch.tensor(normal, dtype=torch.float64).view(1, 3, 1, 1),
        "position": torch.tensor(position, dtype=torch.float64).view(1, 3, 1, 1),
        "view_dir": torch.tensor(view_dir, dtype=torch.float64).view(1, 3, 1, 1),
        "mask": torch.ones(1, 1, 1, 1, dtype=torch.float64),
        "light_source": torch.tensor([light_source], dtype=torch.float64),
        "light_intensity": torch.tensor([intensity], dtype=torch.float64),
    }
    if visibility is not None:
        b["visibility"] = torch.full((1, 1, 1, 1), float(visibility), dtype=torch.float64)
    return b


def _ggx_numpy(n, l, v, alpha):
    """Cook-Torrance with GGX D, height-correlated Smith G2 and F = 1, straight from the formulas."""
    h = _unit(l + v)
    nl, nv, nh = max(n @ l, 0.0), max(n @ v, 0.0), max(n @ h, 0.0)
    if nl <= 0 or nv <= 0:
        return 0.0
    a2 = alpha**2
    d = a2 / (math.pi * (nh**2 * (a2 - 1) + 1) ** 2)
    lam = lambda c: (-1 + math.sqrt(1 + a2 * (1 - c**2) / c**2)) / 2  # Smith Λ for GGX
    g2 = 1 / (1 + lam(nv) + lam(nl))
    return d * g2 / (4 * nl * nv)


@pytest.mark.parametrize("theta_l,theta_v,phi", [(0, 0, 0), (30, 20, 180), (60, 45, 90), (80, 10, 30), (45, 70, 200)])
@pytest.mark.parametrize("alpha", GGX_ROUGHNESS)
def test_ggx_cue_matches_numpy_reference(theta_l, theta_v, phi, alpha):
    n = np.array([0.0, 0.0, 1.0])
    tl, tv, ph = np.radians([theta_l, theta_v, phi])
    l = np.array([np.sin(tl), 0.0, np.cos(tl)])
    v = np.array([np.sin(tv) * np.cos(ph), np.sin(tv) * np.sin(ph), np.cos(tv)])
    # a point light 2 units away along l with intensity 8: E = 8 / 4 = 2
    b = _batch(n, [*(2 * l), 1.0], v, intensity=(8.0, 8.0, 8.0))
    out = compute_inputs(b, [f"ggx_{alpha:g}", "diffuse", "cosine", "irradiance"])
    f = _ggx_numpy(n, l, v, alpha)
    E = 2.0
    np.testing.assert_allclose(out[f"ggx_{alpha:g}"].flatten().numpy(), f * np.cos(tl) * E, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(out["diffuse"].flatten().numpy(), np.cos(tl) * E, rtol=1e-9)
    np.testing.assert_allclose(out["cosine"].item(), np.cos(tl), rtol=1e-9)
    np.testing.assert_allclose(out["irradiance"].flatten().numpy(), E, rtol=1e-9)


@pytest.mark.parametrize("alpha", GGX_ROUGHNESS)
@pytest.mark.parametrize("theta_v", [0, 40, 85])
def test_ggx_lobe_energy_is_at_most_one(alpha, theta_v):
    """∫ f cosθ_l dω_l ≤ 1 over the hemisphere, for every view (F = 1: what G2 lets through)."""
    n_t, n_p = 1500, 128
    # integrate in the half-vector's polar angle where the sharp lobes live: dense in θ_l near the mirror direction
    t = torch.linspace(0, math.pi / 2, n_t + 1, dtype=torch.float64)
    t = 0.5 * (t[1:] + t[:-1])
    p = torch.linspace(0, 2 * math.pi, n_p + 1, dtype=torch.float64)[:-1] + math.pi / n_p
    T, P = torch.meshgrid(t, p, indexing="ij")
    l = torch.stack([torch.sin(T) * torch.cos(P), torch.sin(T) * torch.sin(P), torch.cos(T)], -1)
    tv = math.radians(theta_v)
    v = torch.tensor([math.sin(tv), 0.0, math.cos(tv)], dtype=torch.float64)
    h = l + v
    h = h / h.norm(dim=-1, keepdim=True)
    nl, nv, nh = l[..., 2], v[2].expand_as(T), h[..., 2]
    f = ggx_lobe(nl, nv, nh, alpha)
    dw = torch.sin(T) * (math.pi / 2 / n_t) * (2 * math.pi / n_p)
    energy = float((f * nl * dw).sum())
    assert energy <= 1.0 + 2e-3, energy
    if alpha >= 0.13 and theta_v <= 40:
        assert energy > 0.8, energy  # a rough lobe seen from the front keeps most of its energy


def test_attached_shadow_back_facing_and_off_mask_are_zero():
    n = np.array([0.0, 0.0, 1.0])
    b = _batch(n, [0.0, 0.0, -1.0, 0.0], n)  # light from below
    out = compute_inputs(b, RADIANCE_CUES)
    assert all(float(v.abs().max()) == 0 for v in out.values())
    b = _batch(n, [0.0, 0.0, 1.0, 0.0], n)
    b["mask"] = torch.zeros_like(b["mask"])
    out = compute_inputs(b, list(INPUTS))
    assert all(float(v.abs().max()) == 0 for v in out.values())


def test_directional_light_irradiance_is_its_intensity_and_visibility_scales_the_cues():
    n = np.array([0.0, 0.0, 1.0])
    l = _unit([0.0, 0.6, 0.8])
    b = _batch(n, [*l, 0.0], n, intensity=(1.0, 2.0, 3.0), position=(5.0, 5.0, 5.0), visibility=0.25)
    out = compute_inputs(b, ["irradiance", "diffuse", "visibility", "ggx_0.34"])
    np.testing.assert_allclose(out["irradiance"].flatten().numpy(), [1, 2, 3])
    np.testing.assert_allclose(out["diffuse"].flatten().numpy(), 0.25 * 0.8 * np.array([1, 2, 3]), rtol=1e-9)
    assert out["visibility"].item() == 0.25
    full = compute_inputs(_batch(n, [*l, 0.0], n, intensity=(1.0, 2.0, 3.0)), ["ggx_0.34"])["ggx_0.34"]
    torch.testing.assert_close(out["ggx_0.34"], 0.25 * full)


def test_point_light_falls_off_with_the_square_of_the_distance():
    n = np.array([0.0, 0.0, 1.0])
    near = compute_inputs(_batch(n, [0.0, 0.0, 2.0, 1.0], n, intensity=(4, 4, 4)), ["diffuse"])["diffuse"]
    far = compute_inputs(_batch(n, [0.0, 0.0, 4.0, 1.0], n, intensity=(4, 4, 4)), ["diffuse"])["diffuse"]
    torch.testing.assert_close(far, near / 4)
    np.testing.assert_allclose(near.flatten().numpy(), 1.0)


def test_geometry_is_shared_and_checked():
    n = np.array([0.0, 0.0, 1.0])
    g = PixelGeometry(_batch(n, [0.0, 0.0, 1.0, 0.0], n))
    assert g.light_dir is g.light_dir and g.n_dot_l is g.n_dot_l  # computed once
    b = _batch(n, [0.0, 0.0, 1.0, 0.0], n)
    del b["light_source"]
    with pytest.raises(DataError, match="batch: missing key 'light_source'"):
        compute_inputs(b, ["diffuse"])
    b = _batch(n, [0.0, 0.0, 1.0, 0.0], n)
    b["light_intensity"] = torch.ones(1, 4)
    with pytest.raises(DataError, match=r"light_intensity: expected shape \(1 3\)"):
        compute_inputs(b, ["diffuse"])


def test_registry_rejects_unknown_duplicate_and_wrong_channel_count():
    with pytest.raises(ConfigError, match=r"unknown input 'nope' \(known: normal"):
        compute_inputs(_batch([0, 0, 1.0], [0, 0, 1.0, 0], [0, 0, 1.0]), ["nope"])
    with pytest.raises(ConfigError, match="input 'diffuse': already registered"):
        register_input("diffuse", 3, True, "again")(lambda g: g.normal)
    register_input("test_wrong_channels", 2, False, "a bad input")(lambda g: g.normal)
    try:
        with pytest.raises(DataError, match="computed 3 channels, registered 2"):
            compute_inputs(_batch([0, 0, 1.0], [0, 0, 1.0, 0], [0, 0, 1.0]), ["test_wrong_channels"])
    finally:
        del INPUTS["test_wrong_channels"]
