"""PatchGAN discriminator (pix2pix's ``NLayerDiscriminator``; 3 layers = 70×70 receptive field)."""

from __future__ import annotations

import torch
from torch import nn

from neutex.check import check_shape
from neutex.model.options import NormKind
from neutex.model.pixel_geometry import compute_inputs
from neutex.model.unet import make_norm

#: buffers a conditional discriminator sees next to the image, in this order.
DISCRIMINATOR_BUFFERS = ("normal", "light_dir", "view_dir")


def discriminator_input(image: torch.Tensor, batch: dict[str, torch.Tensor], conditional: bool) -> torch.Tensor:
    """The tensor a :class:`PatchDiscriminator` judges: the image, optionally with the
    conditioning buffers appended, everything multiplied by the mask.

    Masking makes the background identical (zero) for real and fake images: the renderer's
    background is never trained, so letting the discriminator see it would only teach it a
    trivial cue. A conditional discriminator (pix2pix's cGAN) sees the geometry and lighting
    buffers the image was rendered for, so it can judge whether the shading fits the light,
    not only whether it looks like a photograph; it does not see the texture features (they are
    being learned, and D must not steer them through its input).

    Args:
        image: ``(B, 3, H, W)`` image in the encoded target space (real or predicted).
        batch: the loader's batch; uses ``mask`` ``(B, 1, H, W)`` if present, and ``normal``,
            ``light_dir``, ``view_dir`` ``(B, 3, H, W)`` when ``conditional`` (those the batch
            lacks are computed by :func:`~neutex.model.pixel_geometry.compute_inputs`).
        conditional: append the buffers (12 channels in all) or not (3).

    Returns:
        ``(B, 12 or 3, H, W)``.

    Examples:
        >>> b = {k: torch.ones(1, 3, 4, 4) for k in DISCRIMINATOR_BUFFERS}
        >>> discriminator_input(torch.zeros(1, 3, 4, 4), b, True).shape
        torch.Size([1, 12, 4, 4])
    """
    check_shape(image, "B 3 H W", "image")
    parts = [image]
    if conditional:
        missing = [n for n in DISCRIMINATOR_BUFFERS if n not in batch]
        computed = compute_inputs(batch, missing) if missing else {}  # light_dir from the registry
        for name in DISCRIMINATOR_BUFFERS:
            parts.append((batch[name] if name in batch else computed[name]).to(image.dtype))
    x = torch.cat(parts, 1) if len(parts) > 1 else image
    mask = batch.get("mask")
    return x * mask.to(x.dtype) if mask is not None else x


def with_discriminator_buffers(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``batch`` with the conditional discriminator's buffers (:data:`DISCRIMINATOR_BUFFERS`) it
    lacks computed once (:func:`~neutex.model.pixel_geometry.compute_inputs`): a training step
    scores real and fake images up to four times, all under the same light."""
    missing = [n for n in DISCRIMINATOR_BUFFERS if n not in batch]
    return {**batch, **compute_inputs(batch, missing)} if missing else batch


class PatchDiscriminator(nn.Module):
    """PatchGAN: a fully convolutional classifier whose every output pixel judges one patch.

    pix2pix layout with ``n_layers`` (default 3, 70×70 patches)::

        conv4x4 s2 (in -> w) + LeakyReLU(0.2)
        n_layers - 1 times: conv4x4 s2 (-> w * min(2**n, 8)) + norm + LeakyReLU(0.2)
        conv4x4 s1 (-> w * min(2**n_layers, 8)) + norm + LeakyReLU(0.2)
        conv4x4 s1 (-> 1)                                    raw scores (no sigmoid)

    Args:
        conditional: judge the image together with normal, light_dir and view_dir (12 input
            channels) or the image alone (3); see :func:`discriminator_input`.
        width: channels of the first layer.
        n_layers: stride-2 layers (3: 70×70 receptive field, 4: 142, 5: 286).
        norm: normalisation of the inner layers.

    Examples:
        >>> d = PatchDiscriminator(conditional=False, width=8, n_layers=2)
        >>> scores, feats = d(torch.zeros(1, 3, 32, 32), return_features=True)
        >>> scores.shape, len(feats)
        (torch.Size([1, 1, 6, 6]), 3)
    """

    def __init__(self, conditional: bool = True, width: int = 64, n_layers: int = 3, norm: NormKind = "instance") -> None:
        super().__init__()
        self.conditional = conditional
        self.in_channels = 3 + 3 * len(DISCRIMINATOR_BUFFERS) * int(conditional)
        bias = norm == "none"
        layers: list[nn.Module] = [nn.Sequential(nn.Conv2d(self.in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True))]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers.append(nn.Sequential(nn.Conv2d(width * prev, width * mult, 4, stride, 1, bias=bias),
                                        make_norm(norm, width * mult), nn.LeakyReLU(0.2, True)))
        self.layers = nn.ModuleList(layers)
        self.final = nn.Conv2d(width * mult, 1, 4, 1, 1)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        """``(B, in_channels, H, W)`` -> scores ``(B, 1, h, w)`` float32; with
        ``return_features`` also the list of intermediate activations (for feature matching)."""
        check_shape(x, f"B {self.in_channels} H W", "discriminator input")
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        scores = self.final(x).float()
        return (scores, feats) if return_features else scores

    def score(self, image: torch.Tensor, batch: dict[str, torch.Tensor], return_features: bool = False):
        """Judge an image ``(B, 3, H, W)`` (encoded space) rendered for ``batch``: builds the
        masked (conditional) input with :func:`discriminator_input`, then :meth:`forward`."""
        return self(discriminator_input(image, batch, self.conditional), return_features)
