"""The model's choices as ``Literal`` types, without torch: the configs (and so ``neutex
--help``) validate against them, and the torch modules take the same values."""

from __future__ import annotations

from typing import Literal, get_args

#: normalisation layers of the UNet and the discriminator (:func:`neutex.model.unet.make_norm`).
NormKind = Literal["none", "batch", "instance", "group"]
#: the UNet decoder's upsampling.
UpsampleMode = Literal["bilinear", "nearest"]
#: the UNet decoder's order: conv at the low resolution then upsample, or the other way round.
DecoderOrder = Literal["conv_upsample", "upsample_conv"]
#: the renderer's output activation (:func:`neutex.model.unet.output_activation_for`).
OutputActivation = Literal["identity", "softplus", "sigmoid"]

#: how a per-pixel input enters the renderer (:mod:`neutex.model.conditioning`).
ConditioningMode = Literal["multiply", "concat"]
CONDITIONING_MODES: tuple[str, ...] = get_args(ConditioningMode)
