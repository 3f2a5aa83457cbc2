"""The model: neural texture, conditioning (multiply | concat), UNet renderer, PatchGAN
discriminator, their configs, and a FLOP counter."""

from neutex.model.conditioning import (
    BUFFER_NAMES,
    DEFAULT_CHANNEL_MAP,
    Conditioning,
    channel_map_index,
    condition_features,
    conditioned_channels,
    validate_channel_map,
)
from neutex.model.config import DiscriminatorConfig, ModelConfig, descriptions, model_configs
from neutex.model.discriminator import PatchDiscriminator, discriminator_input
from neutex.model.flops import count_flops
from neutex.model.relighter import MODEL_INPUTS, Relighter
from neutex.model.texture import NeuralTexture, sample_texture
from neutex.model.unet import UNet, make_norm, output_activation_for

__all__ = [
    "BUFFER_NAMES", "DEFAULT_CHANNEL_MAP", "MODEL_INPUTS", "Conditioning", "DiscriminatorConfig", "ModelConfig",
    "NeuralTexture", "PatchDiscriminator", "Relighter", "UNet", "channel_map_index", "condition_features",
    "conditioned_channels", "count_flops", "descriptions", "discriminator_input", "make_norm", "model_configs",
    "output_activation_for", "sample_texture", "validate_channel_map",
]
