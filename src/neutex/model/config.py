"""Model configs: :class:`ModelConfig` (texture, conditioning, UNet) builds a
:class:`~neutex.model.relighter.Relighter`; :class:`DiscriminatorConfig` builds a
:class:`~neutex.model.discriminator.PatchDiscriminator`. Named variants live in
:data:`model_configs` (nerfstudio's ``method_configs``).

The configs validate without torch (the input registry, the slot plan and the option types
are torch-free), so the CLI's ``--help`` stays instant; ``setup()`` imports the torch modules
it builds."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from neutex.color import Encoding
from neutex.errors import ConfigError
from neutex.model.inputs import get_input
from neutex.model.options import ConditioningMode, DecoderOrder, NormKind, UpsampleMode
from neutex.model.slots import Slot, plan_slots, radiance_slots

if TYPE_CHECKING:
    from neutex.model.discriminator import PatchDiscriminator
    from neutex.model.relighter import Relighter


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
        # torch: imported when the model is built, so configs (and neutex --help) load without it
        from neutex.model.discriminator import PatchDiscriminator

        return PatchDiscriminator(self.conditional, self.width, self.n_layers, self.norm)


ModelPreset = Literal["neutex", "exp1", "exp2"]
TextureInit = Literal["auto", "random", "photo"]


@dataclass
class ModelConfig:
    """Neural texture + per-pixel inputs + conditioning + UNet renderer."""

    preset: ModelPreset = "neutex"
    """Named starting point (nerfstudio's method configs): ``neutex`` (the default, the best
    measured, docs/model.md), ``exp1`` / ``exp2`` (the origin's multiply / concat models,
    exactly). On the command line the preset supplies every model field's default and the
    flags given beside it override them; elsewhere it records where the values came from."""
    inputs: tuple[str, ...] = ("diffuse", "ggx_0.05", "ggx_0.13", "ggx_0.34", "normal:concat", "view_dir:concat")
    """Per-pixel inputs the renderer consumes, from the registry neutex.model.inputs.INPUTS
    (normal, light_dir, view_dir, cosine, irradiance, visibility, and the radiance cues diffuse,
    ggx_0.02, ggx_0.05, ggx_0.13, ggx_0.34; docs/model.md): ``name`` enters the way
    ``conditioning`` says, ``name:multiply`` / ``name:concat`` override it per input."""
    conditioning: ConditioningMode = "multiply"
    """How the inputs enter the renderer: multiplied into their own texture channels (exp1,
    Deferred Neural Lighting) or concatenated after the features (exp2)."""
    channel_map: tuple[tuple[int, int, str], ...] | None = None
    """multiply only: explicit (start, stop, input) triples; None: each multiplied input takes
    the next free channels from 0 in the order listed (exp1: normal 0-2, light_dir 3-5, view_dir 6-8)."""
    texture_channels: int = 16
    """Feature channels of the neural texture."""
    texture_res: int | None = None
    """Texels per side of the (finest) neural texture level. None: chosen from the data so that a
    texel is about the size of a pixel on the object (the resolved value is saved in config.json)."""
    pyramid_levels: int = 1
    """Laplacian pyramid levels of the texture (1: a single texture; 4 spreads gradients to rarely seen texels)."""
    texture_init_std: float = 0.1
    """Std of the coarsest texture level's N(0, std²) init; finer pyramid levels start at zero."""
    texture_init: TextureInit = "auto"
    """random: N(mean, std²) texels; photo: the channels multiplied by radiance cues start at the
    per-texel least-squares fit of the training photographs to those cues (a rough SVBRDF; Neural
    Light Transport's diffuse base), the other channels random; auto: photo when a radiance cue
    is multiplied into 3 texture channels, else random."""
    multiplied_init_mean: float = 1.0
    """multiply only: initial mean of the texture channels an input multiplies (random init).
    1: each product starts as the input itself (plus 10 % noise); 0: zero-mean like the other
    channels, then exp1 sat at an all-black image for epochs (docs/model.md)."""
    shadows: bool = True
    """Cast shadows: the radiance cues (and the ``visibility`` input) include shadow-map
    visibility rendered from each light (needs the mesh; captures without one get attached
    shadows only, and say so)."""
    residual: bool | None = None
    """Predict a correction to a physically based base image: prediction = encode(Σ multiplied
    radiance cue × its texture channels) + UNet (zero-initialised last layer, so training starts
    at the base). Needs a radiance cue multiplied into 3 texture channels; None: on exactly when
    there is one (so ``--model.conditioning concat`` turns it off)."""
    shading_cue: bool = False
    """Deprecated alias: append the Lambertian cosine (input ``cosine:concat``)."""
    unet_depth: int = 5
    """Stride-2 downsamplings of the UNet (images of any size are padded internally to a
    multiple of 2**depth and cropped back)."""
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
        _check_literal(self, where, "preset", ModelPreset)
        _check_literal(self, where, "conditioning", ConditioningMode)
        _check_literal(self, where, "texture_init", TextureInit)
        _check_literal(self, where, "norm", NormKind)
        _check_literal(self, where, "upsample", UpsampleMode)
        _check_literal(self, where, "decoder", DecoderOrder)
        _check_positive(self, where, "texture_channels", "pyramid_levels", "unet_depth",
                        "unet_width", "unet_max_width")
        if self.texture_res is not None:
            _check_positive(self, where, "texture_res")
            if self.texture_res % 2 ** (self.pyramid_levels - 1):
                raise ConfigError(f"model.texture_res: {self.texture_res} is not divisible by 2**(pyramid_levels-1)"
                                  f" = {2 ** (self.pyramid_levels - 1)}")
        if not self.texture_init_std >= 0:
            raise ConfigError(f"model.texture_init_std: must be >= 0, got {self.texture_init_std}")
        self.inputs = tuple(str(x) for x in self.inputs)
        if self.channel_map is not None:
            self.channel_map = tuple(tuple(e) for e in self.channel_map)  # lists from JSON/CLI -> tuples
        slots = self.slots()
        has_base = bool(radiance_slots(slots))
        if self.residual and not has_base:
            raise ConfigError("model.residual: needs a radiance cue (diffuse, ggx_*) multiplied into 3 texture "
                              f"channels; inputs are {list(self.inputs)}", hint="add diffuse to --model.inputs or "
                              "pass --model.residual False")
        if self.texture_init == "photo" and not has_base:
            raise ConfigError("model.texture_init: photo needs a radiance cue (diffuse, ggx_*) multiplied into 3 texture "
                              "channels", hint="pass --model.texture-init random")

    @property
    def uses_residual(self) -> bool:
        """``residual`` resolved: explicit, or on exactly when there is a base image."""
        return bool(radiance_slots(self.slots())) if self.residual is None else self.residual

    @property
    def uses_photo_init(self) -> bool:
        """``texture_init`` resolved: photo explicitly, or auto with a base image."""
        if self.texture_init == "auto":
            return bool(radiance_slots(self.slots()))
        return self.texture_init == "photo"

    def all_inputs(self) -> tuple[str, ...]:
        """``inputs`` plus the deprecated ``shading_cue`` alias."""
        extra = ("cosine:concat",) if self.shading_cue and not any(e.split(":")[0] == "cosine" for e in self.inputs) else ()
        return (*self.inputs, *extra)

    def slots(self) -> tuple[Slot, ...]:
        """Where each input enters (:func:`~neutex.model.slots.plan_slots`)."""
        return plan_slots(self.all_inputs(), self.conditioning, self.texture_channels, self.channel_map)

    @property
    def needs_visibility(self) -> bool:
        """Whether batches must carry shadow-map visibility: shadows are on and an input uses
        it (a radiance cue or ``visibility`` itself)."""
        return self.shadows and any(get_input(s.name).radiance or s.name == "visibility" for s in self.slots())

    def setup(self, encoding: Encoding) -> Relighter:
        """Build the :class:`Relighter` whose output activation matches ``encoding``.

        Raises:
            ConfigError: ``texture_res`` is unresolved (None): call :meth:`resolve` first.
        """
        # torch: imported when the model is built, so configs (and neutex --help) load without it
        from neutex.model.conditioning import Conditioning
        from neutex.model.relighter import Relighter
        from neutex.model.texture import NeuralTexture
        from neutex.model.unet import UNet, output_activation_for

        if self.texture_res is None:
            raise ConfigError("model.texture_res: not resolved (None); resolve it for the dataset first")
        slots = self.slots()
        init_mean = [0.0] * self.texture_channels
        for s in slots:
            if s.how == "multiply":
                init_mean[s.start:s.stop] = [self.multiplied_init_mean] * (s.stop - s.start)
        texture = NeuralTexture(self.texture_channels, self.texture_res, self.pyramid_levels, self.texture_init_std,
                                init_mean)
        conditioning = Conditioning(self.texture_channels, slots)
        residual = self.uses_residual
        activation = "identity" if residual else output_activation_for(encoding)
        unet = UNet(conditioning.out_channels, 3, self.unet_depth, self.unet_width, self.unet_max_width, self.norm,
                    self.upsample, activation, self.decoder)
        return Relighter(texture, conditioning, unet, encoding, residual=residual,
                         base_slots=radiance_slots(slots) if residual else ())

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


#: the origin's three buffers.
ORIGIN_INPUTS = ("normal", "light_dir", "view_dir")
#: the origin's models: random texture, no shadows, no residual, the three bare buffers.
ORIGIN_MODEL = dict(inputs=ORIGIN_INPUTS, channel_map=None, texture_init="random", shadows=False, residual=False,
               texture_res=512)

#: named model variants: the default and the origin's two experiments.
model_configs: dict[str, ModelConfig] = {
    "neutex": ModelConfig(),
    "exp1": ModelConfig(preset="exp1", conditioning="multiply", **ORIGIN_MODEL),
    "exp2": ModelConfig(preset="exp2", conditioning="concat", **ORIGIN_MODEL),
}

#: one line per variant, for ``--help`` and reports.
descriptions: dict[str, str] = {
    "neutex": "radiance cues (diffuse + 3 GGX lobes, cast shadows) x photo-initialised texture channels, "
              "normal and view direction concatenated, residual over the physically based base",
    "exp1": "multiply: texture channels 0-2 x normal, 3-5 x light_dir, 6-8 x view_dir (origin exp1)",
    "exp2": "concat: 16 texture channels ++ normal ++ light_dir ++ view_dir = 25 UNet inputs (origin exp2)",
}
