"""The neural renderer: a small pix2pix-style UNet with resize-convolutions (a 3×3 conv and a
×2 upsample, never transposed convolutions), skip connections at every scale, configurable
normalisation (``none`` by default) and an output activation matched to the target encoding."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from neutex.color import Encoding
from neutex.errors import ConfigError, DataError
from neutex.model.options import DecoderOrder, NormKind, OutputActivation, UpsampleMode


def output_activation_for(encoding: Encoding) -> OutputActivation:
    """The renderer's output activation for a target encoding.

    - ``linear`` -> ``softplus``: linear HDR radiance is >= 0 and unbounded above; softplus is
      both, is smooth, and (unlike ReLU) never stops the gradient of a pixel predicted too dark.
    - ``log`` -> ``identity``: the encoding maps linear [0, ~4] onto about [0, 1] but may exceed
      it on both sides (bright highlights, values below the log floor); decoding clips at 0.
    - ``srgb`` -> ``sigmoid``: the encoding is exactly [0, 1].

    Examples:
        >>> [output_activation_for(e) for e in ("linear", "log", "srgb")]
        ['softplus', 'identity', 'sigmoid']
    """
    table = {"linear": "softplus", "log": "identity", "srgb": "sigmoid"}
    if encoding not in table:
        raise ConfigError(f"encoding: unknown target encoding {encoding!r} (known: {', '.join(table)})")
    return table[encoding]  # type: ignore[return-value]


def make_norm(kind: NormKind, channels: int) -> nn.Module:
    """A normalisation layer: ``none`` (identity), ``batch``, ``instance`` (affine) or
    ``group`` (``gcd(channels, 8)`` groups, so a group spans several channels).

    Examples:
        >>> make_norm("group", 32).num_groups
        8
    """
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "group":
        return nn.GroupNorm(math.gcd(channels, 8), channels)
    raise ConfigError(f"norm: unknown normalisation {kind!r} (known: none, batch, instance, group)")


def _activation(kind: OutputActivation) -> nn.Module:
    if kind == "identity":
        return nn.Identity()
    if kind == "softplus":
        return nn.Softplus()
    if kind == "sigmoid":
        return nn.Sigmoid()
    raise ConfigError(f"output activation: unknown {kind!r} (known: identity, softplus, sigmoid)")


class UNet(nn.Module):
    """pix2pix-style UNet with resize-convolutions.

    Layout (``ch[i] = min(width * 2**i, max_width)``, ``D = depth``)::

        head   conv3x3(in -> ch[0]) + LeakyReLU(0.2)                       at H
        down i conv4x4 stride 2 (ch[i-1] -> ch[i]) + norm + LeakyReLU(0.2)  at H / 2**i,  i = 1..D
        up i   conv3x3 (-> ch[i-1]) + norm + ReLU at H / 2**i, then upsample x2, then concat
               the skip of level i-1                                       i = D..1
        out    conv3x3(2*ch[0] -> out) + output activation                 at H

    ``decoder="conv_upsample"`` (default) convolves *before* upsampling, at a quarter of the
    pixels: 9.0 instead of 21.9 GFLOP per 256² frame with the same parameters (the three
    widest decoder convs at 64², 128², 256² carried 14.4 GFLOP); full-resolution detail reaches
    the output through the head's skip. ``"upsample_conv"`` is the classic resize-convolution
    (upsample, then conv at the higher resolution). Neither has a transposed convolution's
    checkerboard. The head and the output layer are never normalised. Works for any ``H, W``
    (padded internally to a multiple of ``2**depth``, cropped back). For speed on CPU, convert the module with
    ``.to(memory_format=torch.channels_last)`` (the input is converted to match) and/or run it
    under ``torch.autocast("cpu", torch.bfloat16)``; the output is always float32.

    Args:
        in_channels: input channels (16 for multiply, 25 for concat by default).
        out_channels: output channels (3).
        depth: number of stride-2 downsamplings ``D``.
        width: channels at full resolution ``ch[0]``.
        max_width: cap on the channels of deeper levels.
        norm: ``none`` (default), ``batch``, ``instance``, ``group``.
        upsample: ``bilinear`` or ``nearest``.
        decoder: ``conv_upsample`` (conv at the low resolution, then upsample) or
            ``upsample_conv`` (upsample, then conv).
        activation: output activation (see :func:`output_activation_for`).

    Examples:
        >>> net = UNet(16, depth=2, width=8, activation="sigmoid")
        >>> y = net(torch.randn(1, 16, 12, 8))
        >>> y.shape, bool(((y > 0) & (y < 1)).all())
        (torch.Size([1, 3, 12, 8]), True)
    """

    def __init__(self, in_channels: int, out_channels: int = 3, depth: int = 5, width: int = 32,
                 max_width: int = 256, norm: NormKind = "none", upsample: UpsampleMode = "bilinear",
                 activation: OutputActivation = "identity", decoder: DecoderOrder = "conv_upsample") -> None:
        super().__init__()
        if depth < 1 or width < 1 or max_width < 1:
            raise ConfigError(f"unet: depth, width and max_width must be >= 1, got {depth}, {width}, {max_width}")
        if upsample not in ("bilinear", "nearest"):
            raise ConfigError(f"unet.upsample: unknown mode {upsample!r} (known: bilinear, nearest)")
        if decoder not in ("conv_upsample", "upsample_conv"):
            raise ConfigError(f"unet.decoder: unknown order {decoder!r} (known: conv_upsample, upsample_conv)")
        make_norm(norm, 8)  # validate early
        self.depth = depth
        ch = [min(width * 2**i, max_width) for i in range(depth + 1)]
        bias = norm == "none"
        self.head = nn.Sequential(nn.Conv2d(in_channels, ch[0], 3, padding=1), nn.LeakyReLU(0.2, inplace=True))
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(ch[i - 1], ch[i], 4, stride=2, padding=1, bias=bias), make_norm(norm, ch[i]),
                          nn.LeakyReLU(0.2, inplace=True))
            for i in range(1, depth + 1)
        )
        up_kwargs = {"align_corners": False} if upsample == "bilinear" else {}
        # up[j] goes from level depth-j to level depth-j-1
        self.up = nn.ModuleList()
        for i in range(depth, 0, -1):
            cin = ch[i] if i == depth else 2 * ch[i]
            conv = [nn.Conv2d(cin, ch[i - 1], 3, padding=1, bias=bias), make_norm(norm, ch[i - 1]), nn.ReLU(inplace=True)]
            up = nn.Upsample(scale_factor=2, mode=upsample, **up_kwargs)
            self.up.append(nn.Sequential(*conv, up) if decoder == "conv_upsample" else nn.Sequential(up, *conv))
        self.out = nn.Conv2d(2 * ch[0], out_channels, 3, padding=1)
        self.activation = _activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, H, W)`` -> ``(B, out_channels, H, W)`` float32, any ``H, W``.

        The input is zero-padded on the bottom and right to a multiple of ``2**depth`` and the
        output cropped back: the renderer's inputs are zero off the object anyway, so the
        padding looks like background, and no user has to crop their images."""
        if x.ndim != 4:
            raise DataError(f"unet input: expected (B, C, H, W), got shape {tuple(x.shape)}")
        m = 2**self.depth
        H, W = x.shape[-2:]
        ph, pw = (-H) % m, (-W) % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        if self.head[0].weight.is_contiguous(memory_format=torch.channels_last):
            x = x.contiguous(memory_format=torch.channels_last)
        skips = [self.head(x)]
        for block in self.down:
            skips.append(block(skips[-1]))
        y = skips.pop()
        for block in self.up:
            y = torch.cat([block(y), skips.pop()], 1)
        y = self.activation(self.out(y).float())
        return y[..., :H, :W] if (ph or pw) else y
