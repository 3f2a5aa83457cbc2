"""Per-pixel geometry shared by data, model and render: the one uv -> grid_sample convention
and the one way to turn a point or directional source into per-pixel unit directions (a
capture's lights and cameras give their homogeneous sources as ``Light.source`` /
``Camera.source``)."""

from __future__ import annotations

import torch

from neutex.check import check_shape


def uv_to_grid(uv: torch.Tensor) -> torch.Tensor:
    """Capture uv (OBJ convention) -> ``grid_sample`` coordinates. The only place this happens.

    uv ``(u, v)`` in [0, 1]² has v pointing up; a texture tensor ``(C, H, W)`` has row 0 at the
    top, so v = 1 is row 0. With ``align_corners=False`` grid x = 2u - 1, grid y = 1 - 2v.

    Args:
        uv: ``(..., 2)`` float in [0, 1], v up.

    Returns:
        ``(..., 2)`` float in [-1, 1], (x right, y down), for ``F.grid_sample(align_corners=False)``.

    Examples:
        >>> uv_to_grid(torch.tensor([[0.0, 1.0], [0.5, 0.5]]))
        tensor([[-1., -1.],
                [ 0.,  0.]])
    """
    check_shape(uv, "* 2", "uv")
    return torch.stack([uv[..., 0] * 2 - 1, 1 - uv[..., 1] * 2], -1)


def directions_to(position: torch.Tensor, source: torch.Tensor, eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit direction and distance from each surface point to a source, batched.

    A source is homogeneous: ``(x, y, z, 1)`` is a point (a point light, a pinhole camera
    centre) and ``(dx, dy, dz, 0)`` is a direction towards an infinitely far source (a
    directional light, an orthographic camera), so both cases are one expression:
    ``d = s.xyz - s.w * p``.

    Args:
        position: ``(B, 3, H, W)`` world-space surface points.
        source: ``(B, 4)`` homogeneous source per batch item.

    Returns:
        ``(dir, dist)``: ``(B, 3, H, W)`` unit vectors from the surface point to the source, and
        ``(B, 1, H, W)`` distances (``inf`` for directional sources).

    Examples:
        >>> p = torch.zeros(1, 3, 1, 1)
        >>> d, r = directions_to(p, torch.tensor([[0.0, 0.0, 2.0, 1.0]]))
        >>> d.flatten().tolist(), r.item()
        ([0.0, 0.0, 1.0], 2.0)
    """
    check_shape(position, "B 3 H W", "position")
    check_shape(source, "B 4", "source")
    s = source[:, :, None, None]
    d = s[:, :3] - s[:, 3:4] * position
    # an explicit sum of squares: Tensor.norm over dim 1 of an NCHW CPU tensor is ~70x slower
    dist = (d[:, 0:1] ** 2 + d[:, 1:2] ** 2 + d[:, 2:3] ** 2).sqrt()
    unit = d / dist.clamp_min(eps)
    dist = torch.where(s[:, 3:4] > 0.5, dist, torch.full_like(dist, float("inf")))
    return unit, dist

