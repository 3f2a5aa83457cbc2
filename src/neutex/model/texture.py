"""The neural texture: a learnable ``C×H×W`` feature image in UV space, optionally a Laplacian
pyramid, and the one function that samples it through a per-pixel ``grid``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neutex.check import check_shape
from neutex.errors import ConfigError, DataError


def sample_texture(texture: torch.Tensor | Sequence[torch.Tensor], grid: torch.Tensor) -> torch.Tensor:
    """Sample a texture (or a pyramid of textures, summed) at per-pixel grid coordinates.

    One ``grid_sample`` per pyramid level covers all channels and the whole batch: the batch is
    folded into the rows of a single ``(1, B*H, W, 2)`` grid, so the texture is never copied per
    batch item and its gradient is accumulated in one tensor. Bilinear, ``align_corners=False``,
    ``padding_mode="border"``: grid ``(-1, -1)`` is the top-left corner of the top-left texel
    (see :func:`neutex.geometry.uv_to_grid`, the only uv -> grid conversion). Always runs in
    the texture's dtype with autocast off: half-precision grid coordinates would be off by up
    to a texel at 512².

    Args:
        texture: ``(C, Ht, Wt)`` float tensor, or a sequence of them (a Laplacian pyramid: same
            ``C``, any resolutions); the levels are sampled separately and summed.
        grid: ``(B, H, W, 2)`` same dtype and device, x right and y down in [-1, 1]
            (values outside are clamped to the border).

    Returns:
        ``(B, C, H, W)`` sampled features, same dtype as ``texture``.

    Examples:
        >>> tex = torch.arange(4.0).reshape(1, 2, 2)          # one channel, 2x2 texels
        >>> grid = torch.tensor([[[[-0.5, -0.5], [0.5, 0.5], [0.0, 0.0]]]])  # texel centres, middle
        >>> sample_texture(tex, grid)
        tensor([[[[0.0000, 3.0000, 1.5000]]]])
        >>> pyramid = [torch.zeros(16, 8, 8), torch.ones(16, 4, 4)]
        >>> sample_texture(pyramid, torch.zeros(2, 5, 6, 2)).shape
        torch.Size([2, 16, 5, 6])
    """
    levels = [texture] if isinstance(texture, torch.Tensor) else list(texture)
    if not levels:
        raise DataError("texture: empty pyramid")
    check_shape(grid, "B H W 2", "grid")
    B, H, W, _ = grid.shape
    flat_grid = grid.reshape(1, B * H, W, 2)
    out = None
    # never under autocast: fp16/bf16 grid coordinates are off by up to a texel at 512²
    with torch.autocast(device_type=grid.device.type, enabled=False):
        for i, level in enumerate(levels):
            check_shape(level, "C Ht Wt", f"texture[{i}]")
            if level.shape[0] != levels[0].shape[0]:
                raise DataError(f"texture[{i}]: {level.shape[0]} channels, level 0 has {levels[0].shape[0]}")
            s = F.grid_sample(level[None], flat_grid.to(level.dtype), mode="bilinear", padding_mode="border",
                              align_corners=False)
            out = s if out is None else out + s
    C = levels[0].shape[0]
    # (1, C, B*H, W) -> (B, C, H, W)
    return out.reshape(C, B, H, W).transpose(0, 1)


class NeuralTexture(nn.Module):
    """A learnable texture of ``channels`` features at ``resolution``², optionally a Laplacian
    pyramid of ``levels`` levels (level k has ``resolution / 2**k`` texels per side); the levels
    are sampled separately and summed (:func:`sample_texture`).

    Init (explicit, deterministic under ``torch.manual_seed``): the coarsest level is
    ``N(init_mean_c, init_std²)`` (per channel; 0 unless given) and every finer level starts at zero, so the initial texture is smooth
    (no high-frequency noise for the renderer to memorise) while every level still receives
    gradients from the first step (the sum is linear). With one level, that level is
    ``N(init_mean_c, init_std²)``.

    Parameters are ``levels.0`` (finest, ``(C, R, R)``) … ``levels.{L-1}`` (coarsest).

    Args:
        channels: feature channels ``C``.
        resolution: texels per side of the finest level; divisible by ``2**(levels-1)``.
        levels: pyramid levels (1 = a single texture).
        init_std: standard deviation of the coarsest level's initial values.
        init_mean: ``(C,)`` mean of each channel's initial values (None: zeros).

    Examples:
        >>> tex = NeuralTexture(channels=4, resolution=16, levels=2)
        >>> [tuple(p.shape) for p in tex.levels]
        [(4, 16, 16), (4, 8, 8)]
        >>> tex(torch.zeros(1, 3, 3, 2)).shape
        torch.Size([1, 4, 3, 3])
    """

    def __init__(self, channels: int = 16, resolution: int = 512, levels: int = 1, init_std: float = 0.1,
                 init_mean: Sequence[float] | None = None) -> None:
        super().__init__()
        if channels < 1 or levels < 1 or resolution < 1:
            raise ConfigError(f"texture: channels, resolution and levels must be >= 1, got {channels}, {resolution}, {levels}")
        if resolution % (2 ** (levels - 1)):
            raise ConfigError(f"texture: resolution {resolution} is not divisible by 2**(levels-1) = {2 ** (levels - 1)}")
        if init_mean is not None and len(init_mean) != channels:
            raise ConfigError(f"texture: init_mean has {len(init_mean)} values for {channels} channels")
        self.init_std = init_std
        self.init_mean = [0.0] * channels if init_mean is None else [float(v) for v in init_mean]
        self.levels = nn.ParameterList(
            [nn.Parameter(torch.empty(channels, resolution >> k, resolution >> k)) for k in range(levels)]
        )
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Coarsest level ~ N(init_mean, init_std²), finer levels zero (see the class docstring)."""
        for k, p in enumerate(self.levels):
            if k == len(self.levels) - 1:
                p.normal_(0.0, self.init_std)
                p += torch.tensor(self.init_mean, dtype=p.dtype, device=p.device)[:, None, None]
            else:
                p.zero_()

    @property
    def channels(self) -> int:
        return self.levels[0].shape[0]

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        """``grid (B, H, W, 2)`` -> features ``(B, C, H, W)`` (see :func:`sample_texture`)."""
        return sample_texture(list(self.levels), grid)

    @torch.no_grad()
    def collapsed(self) -> torch.Tensor:
        """The pyramid summed into one ``(C, R, R)`` texture at the finest resolution (for
        visualisation/export; bilinear upsampling of each level matches what sampling sees
        up to the border handling)."""
        R = self.levels[0].shape[-1]
        out = self.levels[0].clone()
        for p in list(self.levels)[1:]:
            out += F.interpolate(p[None], size=(R, R), mode="bilinear", align_corners=False)[0]
        return out


def texture_resolution_for(uv: np.ndarray, mask: np.ndarray, lo: int = 32, hi: int = 2048,
                           views: Sequence[int] | None = None) -> int:
    """A texture resolution at which one texel covers about one pixel on the object.

    Too fine a texture leaves most texels unseen by the training views (each novel view then
    samples untrained texels: noise); too coarse a texture blurs the object's detail. The
    footprint of a pixel in uv space is ``sqrt|det ∂uv/∂(x, y)|`` (finite differences between
    neighbouring object pixels, uv seams excluded); its median over the views sets ``R ≈ 1 /
    footprint``, rounded to the nearest power of two.

    Args:
        uv: ``(V, H, W, 2)`` in [0, 1]² per view (a memmap is fine: read view by view).
        mask: ``(V, H, W)`` bool.
        lo, hi: clamp range.
        views: the view indices to measure (default all); indexing here, view by view, keeps
            a memmap from being copied whole.

    Returns:
        a power of two in ``[lo, hi]``.

    Examples:
        >>> u, v = np.meshgrid(np.arange(64) / 128, np.arange(64) / 128)   # 1/128 uv per pixel
        >>> texture_resolution_for(np.stack([u, v], -1)[None], np.ones((1, 64, 64), bool))
        128
    """
    foot = []
    for k in range(len(uv)) if views is None else views:
        g, m = np.asarray(uv[k], np.float64), np.asarray(mask[k], bool)
        gx, gy = g[:-1, 1:] - g[:-1, :-1], g[1:, :-1] - g[:-1, :-1]
        ok = m[:-1, 1:] & m[:-1, :-1] & m[1:, :-1]
        ok &= (np.abs(gx) < 0.1).all(-1) & (np.abs(gy) < 0.1).all(-1)  # not across a seam
        det = np.abs(gx[..., 0] * gy[..., 1] - gx[..., 1] * gy[..., 0])[ok]
        foot.append(np.sqrt(det[det > 0]))
    f = np.concatenate(foot) if foot else np.zeros(0)
    if len(f) == 0:
        return lo
    r = 1.0 / float(np.median(f))
    return int(min(hi, max(lo, 2 ** round(np.log2(r)))))
