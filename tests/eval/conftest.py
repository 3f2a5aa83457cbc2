"""Analytic scenes for the eval tests: a textured Lambertian sphere seen by an orthographic camera."""

import math

import pytest
import torch


def _sphere(res: int, radius: float = 0.9):
    """Pixel grid of a sphere at the origin seen from +y (image x = world x, image up = world z)."""
    c = (torch.arange(res, dtype=torch.float64) - (res - 1) / 2) / (res / 2)
    z, x = torch.meshgrid(-c, c, indexing="ij")
    r2 = x**2 + z**2
    mask = r2 < radius**2
    y = torch.sqrt((radius**2 - r2).clamp_min(0))
    position = torch.stack([x, y, z], 0)  # (3, H, W)
    normal = position / radius
    albedo = torch.stack([0.6 + 0.2 * torch.sin(5 * x), 0.5 + 0.2 * torch.cos(4 * z), 0.4 + 0.1 * x * z])
    return mask, position, normal, albedo


def render_sphere(sources: torch.Tensor, res: int = 32, ambient: float = 0.02) -> torch.Tensor:
    """Lambertian sphere under homogeneous sources ``(N, 4)`` (unit intensity) -> ``(N, 3, H, W)``."""
    mask, position, normal, albedo = _sphere(res)
    s = sources.to(torch.float64)[:, :, None, None]
    d = s[:, :3] - s[:, 3:4] * position[None]
    r = d.norm(dim=1, keepdim=True)
    ldir = d / r
    falloff = torch.where(s[:, 3:4] > 0.5, 1 / r**2, torch.ones_like(r))
    shade = (ldir * normal[None]).sum(1, keepdim=True).clamp_min(0) * falloff
    img = albedo[None] * (shade + ambient)
    return torch.where(mask, img, torch.zeros(())).float()


def sphere_sequence(T: int = 360, res: int = 64, elevation: float = 0.5, ambient: float = 0.02):
    """A directional light rotating once about the up axis (z) at ``elevation``: ``(T, 3, H, W)``, mask."""
    mask, _, normal, albedo = _sphere(res)
    phi = torch.arange(T, dtype=torch.float64) * 2 * math.pi / T
    ce, se = math.cos(elevation), math.sin(elevation)
    d = torch.stack([ce * torch.cos(phi), ce * torch.sin(phi), torch.full_like(phi, se)], 1)
    shade = torch.einsum("tc,chw->thw", d, normal).clamp_min(0)
    img = albedo[None] * (shade[:, None] + ambient)
    return torch.where(mask, img, torch.zeros(())).float(), mask


@pytest.fixture
def sphere_seq():
    return sphere_sequence


@pytest.fixture
def sphere_renderer():
    return render_sphere


@pytest.fixture
def sphere_geometry():
    return _sphere
