"""Training: the loop (:class:`Trainer`, ``neutex train``), its config, the losses (L1, VGG19
perceptual, SSIM, GAN, feature matching), the VGG19 feature extractor and the photo-initialised
texture.

Every name is imported on first use (:func:`neutex.lazy.lazy_exports`), so
``import neutex.train`` stays light.
"""

from __future__ import annotations

from neutex.lazy import lazy_exports

_LAZY = {
    "DataConfig": "neutex.train.config",
    "LossConfig": "neutex.train.config",
    "OptimConfig": "neutex.train.config",
    "RemediesConfig": "neutex.train.config",
    "ScheduleConfig": "neutex.train.config",
    "TrainConfig": "neutex.train.config",
    "TrainCommand": "neutex.train.command",
    "auto_epochs": "neutex.train.trainer",
    "Trainer": "neutex.train.trainer",
    "feature_matching_loss": "neutex.train.losses",
    "gan_discriminator_loss": "neutex.train.losses",
    "gan_generator_loss": "neutex.train.losses",
    "masked_l1": "neutex.train.losses",
    "PerceptualLoss": "neutex.train.losses",
    "RelightingLoss": "neutex.train.losses",
    "find_vgg_weights": "neutex.train.vgg",
    "load_vgg_weights": "neutex.train.vgg",
    "VGG19Features": "neutex.train.vgg",
    "PIX2PIXHD_VGG_LAYERS": "neutex.train.vgg_layers",
    "PIX2PIXHD_VGG_WEIGHTS": "neutex.train.vgg_layers",
    "VGG_BLOCK_END_LAYERS": "neutex.train.vgg_layers",
    "fit_reflectances": "neutex.train.texture_init",
    "init_texture_from_photos": "neutex.train.texture_init",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
