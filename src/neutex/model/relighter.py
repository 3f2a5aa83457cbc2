"""The relighting model: neural texture -> per-pixel inputs -> conditioning -> UNet, one module."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from neutex.check import check_shape
from neutex.color import Encoding, encode_target
from neutex.errors import DataError
from neutex.model.conditioning import Conditioning
from neutex.model.inputs import get_input
from neutex.model.pixel_geometry import PixelGeometry, compute_inputs
from neutex.model.slots import Slot
from neutex.model.texture import NeuralTexture
from neutex.model.unet import UNet


def compress_radiance(x: torch.Tensor) -> torch.Tensor:
    """``sign(x) · log(1 + |x|)``: radiance-like renderer inputs span 0 to ~1000× (a sharp GGX
    lobe's peak), so the UNet sees them log-compressed, as Deferred Neural Lighting maps its cues.

    Examples:
        >>> compress_radiance(torch.tensor([0.0, 1.0, -1.0])).tolist()
        [0.0, 0.6931471824645996, -0.6931471824645996]
    """
    return torch.sign(x) * torch.log1p(x.abs())


class Relighter(nn.Module):
    """Neural texture + per-pixel inputs + conditioning + UNet renderer.

    ``forward(batch)`` samples the texture through ``batch["grid"]``, computes the inputs the
    conditioning names from the batch's geometry and light (:func:`~neutex.model.pixel_geometry.compute_inputs`),
    combines them with the features (:class:`~neutex.model.conditioning.Conditioning`),
    log-compresses the radiance channels (:func:`compress_radiance`), zeroes everything outside
    ``batch["mask"]`` and renders with the UNet. With ``base_slots`` (residual mode) the output
    is ``encode(base) + UNet(...)`` where ``base = Σ features[slot] × cue`` over the multiplied
    radiance cues: a physically based image from learned per-texel reflectances.

    The prediction is in the *encoded* target space (``self.encoding``); decode it with
    :func:`neutex.color.decode_target`. It is always float32, also under bf16 autocast.

    Args:
        texture: the :class:`NeuralTexture`.
        conditioning: the :class:`Conditioning`; its ``out_channels`` is the UNet's input.
        renderer: the :class:`UNet`.
        encoding: the target encoding the output activation was chosen for.
        residual: predict a correction to the base image (needs ``base_slots``).
        base_slots: the multiplied radiance-cue slots whose products sum to the base.

    Examples:
        >>> from neutex.model.config import ModelConfig
        >>> model = ModelConfig(texture_res=16, unet_depth=2, unet_width=8).setup("log")
        >>> batch = {"grid": torch.zeros(1, 8, 8, 2), "mask": torch.ones(1, 1, 8, 8),
        ...          "light_source": torch.tensor([[0.0, 0.0, 3.0, 1.0]]),
        ...          **{k: torch.zeros(1, 3, 8, 8) for k in ("normal", "position", "view_dir")}}
        >>> model(batch).shape
        torch.Size([1, 3, 8, 8])
    """

    def __init__(self, texture: NeuralTexture, conditioning: Conditioning, renderer: UNet,
                 encoding: Encoding = "linear", residual: bool = False, base_slots: Sequence[Slot] = ()) -> None:
        super().__init__()
        self.texture = texture
        self.conditioning = conditioning
        self.renderer = renderer
        self.encoding = encoding
        self.residual = bool(residual)
        self.base_slots = tuple(base_slots)
        if self.residual and not self.base_slots:
            raise DataError("Relighter: residual mode needs radiance-cue slots for the base image")
        self.input_names = conditioning.input_names
        # channels of the UNet input that carry radiance (products with or concatenations of cues)
        compress = torch.zeros(conditioning.out_channels, dtype=torch.bool)
        c = conditioning.texture_channels
        for s in conditioning.slots:
            spec = get_input(s.name)
            if s.how == "multiply" and spec.radiance:
                compress[s.start:s.stop] = True
            elif s.how == "concat":
                compress[c:c + spec.channels] = spec.radiance
                c += spec.channels
        self.register_buffer("_compress", compress.view(1, -1, 1, 1), persistent=False)
        self._any_compressed = bool(compress.any())  # read here once: on a GPU, .any() per forward is a sync
        if self.residual:  # start exactly at the base image
            nn.init.zeros_(renderer.out.weight)
            nn.init.zeros_(renderer.out.bias)

    def sample_features(self, grid: torch.Tensor) -> torch.Tensor:
        """``grid (B, H, W, 2)`` -> texture features ``(B, C, H, W)`` (independent of the light:
        a sweep samples them once per view)."""
        check_shape(grid, "B H W 2", "grid")
        return self.texture(grid)

    def _inputs(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return compute_inputs(PixelGeometry(batch), self.input_names)

    def _unet_input(self, features: torch.Tensor, batch: Mapping[str, torch.Tensor]
                    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The UNet's input ``(B, C', H, W)`` (conditioned, compressed, masked) and, in residual
        mode, the physically based base image ``(B, 3, H, W)`` linear (else None)."""
        inputs = self._inputs(batch)
        mask = batch["mask"]
        B = mask.shape[0]
        if features.shape[0] != B:
            features = features.expand(B, -1, -1, -1)
        x = self.conditioning(features, inputs)
        base = sum(x[:, s.start:s.stop] for s in self.base_slots) if self.residual else None
        if self._any_compressed:
            x = torch.where(self._compress, compress_radiance(x), x)
        return x * mask.to(x.dtype), base

    def render(self, features: torch.Tensor, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Render from already-sampled ``features`` ``(B or 1, C, H, W)`` and the batch's
        geometry and light: ``(B, 3, H, W)`` float32 prediction in the encoded target space."""
        x, base = self._unet_input(features, batch)
        out = self.renderer(x)
        if base is not None:
            out = out + encode_target(base.float().clamp_min(0), self.encoding)
        return out

    def renderer_input(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The UNet's input ``(B, C', H, W)``: conditioned, compressed, masked features."""
        return self._unet_input(self.sample_features(batch["grid"]), batch)[0]

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``batch`` -> ``(B, 3, H, W)`` float32 prediction in the encoded target space."""
        if "grid" not in batch:
            raise DataError("batch: missing key 'grid' (the model samples its texture through it)")
        return self.render(self.sample_features(batch["grid"]), batch)
