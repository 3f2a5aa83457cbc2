"""Initialising the neural texture from the photographs.

The texture channels that radiance cues multiply are per-texel reflectances: the model's base
image is ``Σ_k a_k(uv) · cue_k``. Before training, every such channel is set to the per-texel
least-squares fit of the training photographs to the cues — a rough SVBRDF (diffuse albedo /
π and the weights of the specular lobes), Neural Light Transport's "diffuse base" made
explicit — so the first prediction already has the object's texture, and the renderer learns
only what the cues miss. Texels no training pixel sees are filled from coarser averages
(push-pull).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F

from neutex.check import check_shape
from neutex.model.pixel_geometry import compute_inputs
from neutex.model.slots import radiance_slots

#: ridge term of the per-texel normal equations, relative to the mean diagonal over all texels:
#: keeps rarely lit lobes (a sharp specular cue that is zero almost everywhere) near zero.
RIDGE = 1e-3


def texel_weights(grid: torch.Tensor, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The 4 texels and bilinear weights ``grid_sample(align_corners=False)`` reads for each pixel.

    Args:
        grid: ``(N, 2)`` grid coordinates in [-1, 1] (x right, y down).
        resolution: texels per side ``R``.

    Returns:
        ``(index, weight)``: ``(N, 4)`` long flat texel indices ``y·R + x`` and ``(N, 4)``
        weights summing to 1 (border clamped, as ``padding_mode="border"``).

    Examples:
        >>> idx, w = texel_weights(torch.tensor([[-0.75, -0.75]]), 4)  # the centre of texel (0, 0)
        >>> idx[0, w[0].argmax()].item(), round(w.max().item(), 4)
        (0, 1.0)
    """
    check_shape(grid, "N 2", "grid")
    R = resolution
    x = ((grid[:, 0] + 1) * R - 1) / 2
    y = ((grid[:, 1] + 1) * R - 1) / 2
    x, y = x.clamp(0, R - 1), y.clamp(0, R - 1)
    x0, y0 = x.floor().clamp(max=R - 2 if R > 1 else 0), y.floor().clamp(max=R - 2 if R > 1 else 0)
    fx, fy = x - x0, y - y0
    x0, y0 = x0.long(), y0.long()
    x1, y1 = (x0 + 1).clamp(max=R - 1), (y0 + 1).clamp(max=R - 1)
    idx = torch.stack([y0 * R + x0, y0 * R + x1, y1 * R + x0, y1 * R + x1], 1)
    w = torch.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], 1)
    return idx, w


def push_pull(values: torch.Tensor, weight: torch.Tensor, min_weight: float = 1e-6) -> torch.Tensor:
    """Fill texels with (almost) no weight from coarser weighted averages.

    Args:
        values: ``(C, R, R)`` per-texel values (meaningful where ``weight`` > 0).
        weight: ``(R, R)`` confidence (here: how much pixel weight landed on the texel).

    Returns:
        ``(C, R, R)``: ``values`` where ``weight ≥ min_weight``, else the average of the
        nearest coarser level that has weight there.

    Examples:
        >>> v = torch.tensor([[[1.0, 0.0], [0.0, 3.0]]]); w = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> push_pull(v, w)[0].tolist()
        [[1.0, 2.0], [2.0, 3.0]]
    """
    check_shape(values, "C R S", "values")
    if values.shape[-1] <= 1 or bool((weight >= min_weight).all()):
        return values
    vw = (values * weight)[None]
    w = weight[None, None]
    coarse_vw = F.avg_pool2d(vw, 2, ceil_mode=True)
    coarse_w = F.avg_pool2d(w, 2, ceil_mode=True)[0, 0]
    coarse = push_pull(coarse_vw[0] / coarse_w.clamp_min(1e-12), coarse_w, min_weight / 4)
    up = F.interpolate(coarse[None], size=values.shape[-2:], mode="nearest")[0]
    return torch.where(weight >= min_weight, values, up)


@torch.no_grad()
def fit_reflectances(batches: Iterable[dict[str, torch.Tensor]], cue_names: list[str], resolution: int,
                     ridge: float = RIDGE) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-texel least squares ``target ≈ Σ_k a_k · cue_k`` (each RGB channel separately).

    Each pixel adds its normal-equation terms to the 4 texels its uv samples, weighted
    bilinearly: ``A_t += w · c cᵀ``, ``b_t += w · c · target``. Then ``a_t = (A_t + λ I)⁻¹ b_t``,
    clamped at 0 (reflectances are non-negative), and unseen texels are filled by :func:`push_pull`.

    Args:
        batches: geometry batches with ``grid``, ``mask``, ``target`` (linear) and what the cues need.
        cue_names: K radiance-cue inputs (3 channels each).
        resolution: texels per side ``R``.
        ridge: λ relative to the mean diagonal of ``A``.

    Returns:
        ``(reflectance, coverage)``: ``(K, 3, R, R)`` float32 and ``(R, R)`` the summed pixel
        weight per texel (0: never seen).
    """
    K, R = len(cue_names), int(resolution)
    A = B = cover = None
    for batch in batches:
        m = batch["mask"][:, 0] > 0.5  # (B, H, W)
        if not bool(m.any()):
            continue
        ins = compute_inputs(batch, cue_names)
        cues = torch.stack([ins[n].float() for n in cue_names], 1)  # (B, K, 3, H, W)
        cues = cues.permute(0, 3, 4, 2, 1)[m]  # (N, 3, K)
        target = batch["target"].float().permute(0, 2, 3, 1)[m]  # (N, 3)
        idx, w = texel_weights(batch["grid"].float()[m], R)  # (N, 4)
        if A is None:
            dev = cues.device
            A = torch.zeros(R * R, 3, K, K, device=dev)
            B = torch.zeros(R * R, 3, K, device=dev)
            cover = torch.zeros(R * R, device=dev)
        cc = cues[:, :, :, None] * cues[:, :, None, :]  # (N, 3, K, K)
        cb = cues * target[:, :, None]  # (N, 3, K)
        for j in range(4):
            wj = w[:, j]
            A.index_add_(0, idx[:, j], cc * wj[:, None, None, None])
            B.index_add_(0, idx[:, j], cb * wj[:, None, None])
            cover.index_add_(0, idx[:, j], wj)
    if A is None:
        return torch.zeros(K, 3, R, R), torch.zeros(R, R)
    diag = torch.diagonal(A, dim1=-2, dim2=-1)  # (T, 3, K)
    lam = ridge * diag[cover > 0].mean().clamp_min(1e-12)
    eye = torch.eye(K, device=A.device)
    sol = torch.linalg.solve(A + lam * eye, B[..., None])[..., 0].clamp_min(0)  # (T, 3, K)
    refl = sol.permute(2, 1, 0).reshape(K, 3, R, R)
    cover = cover.reshape(R, R)
    filled = push_pull(refl.reshape(K * 3, R, R), cover).reshape(K, 3, R, R)
    return filled.cpu(), cover.cpu()


@torch.no_grad()
def init_texture_from_photos(model, batches: Iterable[dict[str, torch.Tensor]]) -> dict[str, float]:
    """Set the texture channels of ``model``'s multiplied radiance cues (its base slots, or
    every radiance slot multiplied into 3 channels) to :func:`fit_reflectances` of the photos.

    The fit goes into the finest pyramid level; those channels are zeroed in coarser levels,
    so the sampled texture equals the fit.

    Returns:
        ``{"texels_seen": fraction of texels any pixel sampled, "mean_<cue>": mean reflectance}``.
    """
    slots = radiance_slots(model.conditioning.slots)
    if not slots:
        return {}
    levels = model.texture.levels
    R = levels[0].shape[-1]
    refl, cover = fit_reflectances(batches, [s.name for s in slots], R)
    for k, s in enumerate(slots):
        levels[0].data[s.start:s.stop] = refl[k].to(levels[0].device, levels[0].dtype)
        for lvl in list(levels)[1:]:
            lvl.data[s.start:s.stop] = 0
    stats = {"texels_seen": float((cover > 0).float().mean())}
    for k, s in enumerate(slots):
        stats[f"mean_{s.name}"] = float(refl[k].mean())
    return stats
