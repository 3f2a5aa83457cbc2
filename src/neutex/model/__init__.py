"""The model: neural texture, the registry of per-pixel renderer inputs, conditioning
(multiply | concat), UNet renderer, PatchGAN discriminator, their configs, and a FLOP counter.

Every name is imported on first use (:func:`neutex.lazy.lazy_exports`), so
``import neutex.model`` stays light.
"""

from __future__ import annotations

from neutex.lazy import lazy_exports

_LAZY = {
    "condition_features": "neutex.model.conditioning",
    "Conditioning": "neutex.model.conditioning",
    "descriptions": "neutex.model.config",
    "DiscriminatorConfig": "neutex.model.config",
    "model_configs": "neutex.model.config",
    "ModelConfig": "neutex.model.config",
    "discriminator_input": "neutex.model.discriminator",
    "PatchDiscriminator": "neutex.model.discriminator",
    "count_flops": "neutex.model.flops",
    "get_input": "neutex.model.inputs",
    "GGX_ROUGHNESS": "neutex.model.inputs",
    "INPUTS": "neutex.model.inputs",
    "PixelInput": "neutex.model.inputs",
    "RADIANCE_CUES": "neutex.model.inputs",
    "register_input": "neutex.model.inputs",
    "compute_inputs": "neutex.model.pixel_geometry",
    "ggx_lobe": "neutex.model.pixel_geometry",
    "PixelGeometry": "neutex.model.pixel_geometry",
    "compress_radiance": "neutex.model.relighter",
    "Relighter": "neutex.model.relighter",
    "NeuralTexture": "neutex.model.texture",
    "sample_texture": "neutex.model.texture",
    "texture_resolution_for": "neutex.model.texture",
    "conditioned_channels": "neutex.model.slots",
    "parse_input": "neutex.model.slots",
    "plan_slots": "neutex.model.slots",
    "Slot": "neutex.model.slots",
    "make_norm": "neutex.model.unet",
    "output_activation_for": "neutex.model.unet",
    "UNet": "neutex.model.unet",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
