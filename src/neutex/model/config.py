"""Model configs: :class:`ModelConfig` (texture, conditioning, UNet) builds a
:class:`~neutex.model.relighter.Relighter`; :class:`DiscriminatorConfig` builds a
:class:`~neutex.model.discriminator.PatchDiscriminator`. Named variants live in
:data:`model_configs` (nerfstudio's ``method_configs``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

from neutex.color import Encoding
from neutex.errors import ConfigError
from neutex.model.conditioning import (
    DEFAULT_CHANNEL_MAP,
    BufferName,
    Conditioning,
    ConditioningMode,
    validate_channel_map,
)
from neutex.model.discriminator import PatchDiscriminator
from neutex.model.relighter import Relighter
from neutex.model.texture import NeuralTexture
from neutex.model.unet import DecoderOrder, NormKind, UNet, UpsampleMode, output_activation_for


def _check_literal(cfg: Any, where: str, name: str, tp: Any) -> None:
    value = getattr(cfg, name)
    if value not in get_args(tp):
        raise ConfigError(f"{where}.{name}: {value!r} is not one of {list(get_args(tp))}")


def _check_positive(cfg: Any, where: str, *names: str) -> None:
    for name in names:
        value = getattr(cfg, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{where}.{name}: must be a positive integer, got {value!r}")


@dataclass
class DiscriminatorConfig:
    """PatchGAN discriminator (used only when the loss has ``gan`` on)."""

    n_layers: int = 3
    """Stride-2 layers of the PatchGAN (3: 70×70 patches as in pix2pix)."""
    width: int = 64
    """Channels of the first discriminator layer."""
    norm: NormKind = "instance"
    """Normalisation of the inner discriminator layers (pix2pix: batch norm at batch size 1, i.e. instance)."""
    conditional: bool = True
    """Show the discriminator the normal, light and view buffers next to the image (pix2pix cGAN)."""

    def __post_init__(self) -> None:
        _check_positive(self, "disc", "n_layers", "width")
        _check_literal(self, "disc", "norm", NormKind)

    def setup(self) -> PatchDiscriminator:
        """Build the discriminator (input: 3 image channels, + 9 buffer channels if conditional)."""
        return PatchDiscriminator(self.conditional, self.width, self.n_layers, self.norm)


@dataclass
class ModelConfig:
    """Neural texture + conditioning + UNet renderer."""

    texture_channels: int = 16
    """Feature channels of the neural texture."""
    texture_res: int = 512
    """Texels per side of the (finest) neural texture level."""
    pyramid_levels: int = 1
    """Laplacian pyramid levels of the texture (1: a single texture; 4 spreads gradients to rarely seen texels)."""
    texture_init_std: float = 0.1
    """Std of the coarsest texture level's N(0, std²) init; finer pyramid levels start at zero."""
    conditioning: ConditioningMode = "multiply"
    """How the buffers enter the renderer: multiply (exp1) or concat (exp2)."""
    channel_map: tuple[tuple[int, int, BufferName], ...] = DEFAULT_CHANNEL_MAP
    """multiply only: (start, stop, buffer) triples; texture channels start:stop are multiplied by the buffer."""
    multiplied_init_mean: float = 1.0
    """multiply only: initial mean of the texture channels the channel map multiplies by a
    buffer. 1: each product starts as the buffer itself (plus 10 % noise), so the renderer sees
    the light direction at full amplitude from the first step as concat does; 0: zero-mean
    like the other channels, the light then reaches the UNet at a tenth of its amplitude and
    training sat at an all-black image for epochs (docs/model.md)."""
    shading_cue: bool = False
    """Also give the UNet the Lambertian cosine max(n·l, 0) as one extra input channel (not in
    the origin; speeds up learning to tell lit from unlit pixels, see docs/model.md)."""
    unet_depth: int = 5
    """Stride-2 downsamplings of the UNet; image height and width must be divisible by 2**depth."""
    unet_width: int = 32
    """UNet channels at full resolution (doubling per level)."""
    unet_max_width: int = 256
    """Cap on the UNet's channels at the deeper levels."""
    norm: NormKind = "none"
    """UNet normalisation; instance norm erases spatially constant inputs such as a directional light."""
    upsample: UpsampleMode = "bilinear"
    """UNet upsampling in the decoder (no transposed convolutions)."""
    decoder: DecoderOrder = "conv_upsample"
    """Decoder order: conv at the low resolution then upsample (9.0 GFLOP per 256² frame), or
    upsample then conv (21.9 GFLOP; neutex's first decoder). See docs/model.md."""

    def __post_init__(self) -> None:
        where = "model"
        _check_literal(self, where, "conditioning", ConditioningMode)
        _check_literal(self, where, "norm", NormKind)
        _check_literal(self, where, "upsample", UpsampleMode)
        _check_literal(self, where, "decoder", DecoderOrder)
        _check_positive(self, where, "texture_channels", "texture_res", "pyramid_levels", "unet_depth",
                        "unet_width", "unet_max_width")
        if self.texture_res % 2 ** (self.pyramid_levels - 1):
            raise ConfigError(f"model.texture_res: {self.texture_res} is not divisible by 2**(pyramid_levels-1)"
                              f" = {2 ** (self.pyramid_levels - 1)}")
        if not self.texture_init_std >= 0:
            raise ConfigError(f"model.texture_init_std: must be >= 0, got {self.texture_init_std}")
        self.channel_map = tuple(tuple(e) for e in self.channel_map)  # lists from JSON/CLI -> tuples
        if self.conditioning == "multiply":
            validate_channel_map(self.channel_map, self.texture_channels)

    def setup(self, encoding: Encoding) -> Relighter:
        """Build the :class:`Relighter` whose output activation matches ``encoding``."""
        init_mean = [0.0] * self.texture_channels
        if self.conditioning == "multiply":
            for start, stop, _ in self.channel_map:
                init_mean[start:stop] = [self.multiplied_init_mean] * (stop - start)
        texture = NeuralTexture(self.texture_channels, self.texture_res, self.pyramid_levels, self.texture_init_std,
                                init_mean)
        conditioning = Conditioning(self.conditioning, self.texture_channels, self.channel_map)
        unet = UNet(conditioning.out_channels + int(self.shading_cue), 3, self.unet_depth, self.unet_width, self.unet_max_width, self.norm,
                    self.upsample, output_activation_for(encoding), self.decoder)
        return Relighter(texture, conditioning, unet, encoding, self.shading_cue)

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


#: named model variants (the origin's two experiments).
model_configs: dict[str, ModelConfig] = {
    "exp1": ModelConfig(conditioning="multiply"),
    "exp2": ModelConfig(conditioning="concat"),
}

#: one line per variant, for ``--help`` and reports.
descriptions: dict[str, str] = {
    "exp1": "multiply: texture channels 0-2 x normal, 3-5 x light_dir, 6-8 x view_dir (origin exp1)",
    "exp2": "concat: 16 texture channels ++ normal ++ light_dir ++ view_dir = 25 UNet inputs (origin exp2)",
}

ModelName = Literal["exp1", "exp2"]
