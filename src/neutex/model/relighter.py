"""The relighting model: neural texture -> conditioning -> UNet, one module."""

from __future__ import annotations

import torch
from torch import nn

from neutex.check import check_shape
from neutex.color import Encoding
from neutex.errors import DataError
from neutex.model.conditioning import Conditioning
from neutex.model.texture import NeuralTexture
from neutex.model.unet import UNet

#: batch keys the model reads.
MODEL_INPUTS = ("grid", "normal", "light_dir", "view_dir")


def shading_cue(normal: torch.Tensor, light_dir: torch.Tensor) -> torch.Tensor:
    """The Lambertian cosine ``max(n·l, 0)``: ``(B, 3, H, W)`` unit normals and light
    directions -> ``(B, 1, H, W)`` in [0, 1].

    A UNet fed ``n`` and ``l`` separately must learn their dot product before it can tell lit
    from unlit pixels; until it does, L1 pulls the output to the per-pixel median, which is
    black when most lights are behind the surface. Giving it the cosine removes that stall.

    Examples:
        >>> n = torch.tensor([0.0, 0.0, 1.0]).view(1, 3, 1, 1)
        >>> shading_cue(n, n).item(), shading_cue(n, -n).item()
        (1.0, 0.0)
    """
    return (normal[:, 0:1] * light_dir[:, 0:1] + normal[:, 1:2] * light_dir[:, 1:2]
            + normal[:, 2:3] * light_dir[:, 2:3]).clamp_min(0)


class Relighter(nn.Module):
    """Neural texture + conditioning + UNet renderer.

    ``forward(batch)`` samples the texture through ``batch["grid"]``, combines the features with
    the normal, light and view directions (:class:`~neutex.model.conditioning.Conditioning`),
    zeroes everything outside ``batch["mask"]`` (when given, so the renderer's input on the
    background is exactly zero whatever the loader puts there) and renders with the UNet.

    The prediction is in the *encoded* target space (``self.encoding``); decode it with
    :func:`neutex.color.decode_target`. It is always float32, also under bf16 autocast.

    Args:
        texture: the :class:`NeuralTexture`.
        conditioning: the :class:`Conditioning`; its ``out_channels`` is the UNet's input.
        renderer: the :class:`UNet`.
        encoding: the target encoding the output activation was chosen for.

    Examples:
        >>> from neutex.model.config import ModelConfig
        >>> model = ModelConfig(texture_res=16, unet_depth=2, unet_width=8).setup("log")
        >>> batch = {"grid": torch.zeros(1, 8, 8, 2), "mask": torch.ones(1, 1, 8, 8),
        ...          **{k: torch.zeros(1, 3, 8, 8) for k in ("normal", "light_dir", "view_dir")}}
        >>> model(batch).shape
        torch.Size([1, 3, 8, 8])
    """

    def __init__(self, texture: NeuralTexture, conditioning: Conditioning, renderer: UNet,
                 encoding: Encoding = "linear", shading_cue: bool = False) -> None:
        super().__init__()
        self.texture = texture
        self.conditioning = conditioning
        self.renderer = renderer
        self.encoding = encoding
        self.shading_cue = shading_cue

    def renderer_input(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The UNet's input ``(B, C or C+9 (+1), H, W)``: conditioned, masked texture features
        (and the shading cue when enabled)."""
        for key in MODEL_INPUTS:
            if key not in batch:
                raise DataError(f"batch: missing key {key!r} (the model needs {', '.join(MODEL_INPUTS)})")
        grid = batch["grid"]
        check_shape(grid, "B H W 2", "grid")
        B, H, W, _ = grid.shape
        for key in MODEL_INPUTS[1:]:
            check_shape(batch[key], f"{B} 3 {H} {W}", key)
        features = self.texture(grid)
        x = self.conditioning(features, batch["normal"], batch["light_dir"], batch["view_dir"])
        if self.shading_cue:
            x = torch.cat([x, shading_cue(batch["normal"], batch["light_dir"])], 1)
        mask = batch.get("mask")
        if mask is not None:
            check_shape(mask, f"{B} 1 {H} {W}", "mask")
            x = x * mask.to(x.dtype)
        return x

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """``batch`` -> ``(B, 3, H, W)`` float32 prediction in the encoded target space."""
        return self.renderer(self.renderer_input(batch))
