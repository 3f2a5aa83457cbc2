"""The model: neural texture, the registry of per-pixel renderer inputs, conditioning
(multiply | concat), UNet renderer, PatchGAN discriminator, their configs, and a FLOP counter."""

from neutex.model.conditioning import (
    DEFAULT_CHANNEL_MAP,
    Conditioning,
    Slot,
    condition_features,
    conditioned_channels,
    parse_input,
    plan_slots,
)
from neutex.model.config import DiscriminatorConfig, ModelConfig, descriptions, model_configs
from neutex.model.discriminator import PatchDiscriminator, discriminator_input
from neutex.model.flops import count_flops
from neutex.model.inputs import (
    GGX_ROUGHNESS,
    INPUTS,
    RADIANCE_CUES,
    PixelGeometry,
    PixelInput,
    compute_inputs,
    get_input,
    ggx_lobe,
    register_input,
)
from neutex.model.relighter import Relighter, compress_radiance
from neutex.model.texture import NeuralTexture, sample_texture, texture_resolution_for
from neutex.model.unet import UNet, make_norm, output_activation_for

__all__ = [
    "DEFAULT_CHANNEL_MAP", "GGX_ROUGHNESS", "INPUTS", "RADIANCE_CUES", "Conditioning", "DiscriminatorConfig",
    "ModelConfig", "NeuralTexture", "PatchDiscriminator", "PixelGeometry", "PixelInput", "Relighter", "Slot", "UNet",
    "compress_radiance", "compute_inputs", "condition_features", "conditioned_channels", "count_flops",
    "descriptions", "discriminator_input", "get_input", "ggx_lobe", "make_norm", "model_configs",
    "output_activation_for", "parse_input", "plan_slots", "register_input", "sample_texture",
    "texture_resolution_for",
]
