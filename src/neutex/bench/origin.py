"""The origin's training step, reimplemented in plain PyTorch as the bench's side-by-side reference.

This is **not** part of neutex's model: it exists only so that ``neutex bench`` can time the
code neutex replaces on the same machine, in the same run, with the same data. It restates
what the origin's code did (``SSRSGJYD/NeuralTexture`` and ``xuxmin/NeuralTexture_gan``, see
ORIGIN.md), including its inefficiencies, because those are what is being measured:

- **Neural texture**: 16 channels, each its own 4-level Laplacian pyramid of ``(1, 1, S, S)``
  parameters (512, 256, 128, 64 texels), Xavier-initialised; sampled with one ``grid_sample``
  per channel per level (64 calls at 16 channels), each on the level repeated per batch item,
  ``align_corners=True``; the levels are summed and the channels concatenated.
- **Conditioning**: ``multiply`` (exp1) multiplies channels 3-5 by the normal, 6-8 by the
  view direction and 9-11 by the light direction with in-place slice assignments; ``concat``
  (exp2) appends normal, view and light direction (25 channels).
- **Generator**: the pix2pix UNet: ``log2(res)`` stride-2 4×4 convolutions (8 at 256², down to
  1×1), widths ``64·min(2^i, 8)``, InstanceNorm after every inner layer, LeakyReLU(0.2) before
  each encoder convolution and ReLU before each ``ConvTranspose2d`` of the decoder, dropout 0.5
  on the three innermost decoder layers, skip concatenations, tanh output. 12.5 GFLOP forward
  at 256² with 16 input channels.
- **Perceptual loss**: VGG19 in fp32 at the full image resolution, on the prediction and on
  the target, compared at relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 (the origin's
  ``features[0:30]``, pix2pixHD's layers) with weights 1/32, 1/16, 1/8, 1/4, 1: 47 GFLOP per
  pass at 256².
- **Losses**: L1 over ``masked_select`` object pixels on log-encoded targets
  (``log(e^-3 + x) / 3``) + VGG; with ``gan`` also the PatchGAN (input: renderer input ++ image,
  BatchNorm, sigmoid, BCE) and feature matching on its 2nd and 3rd layers.
- **Optimisers**: Adam for texture + generator, SGD (momentum 0.8) for the discriminator.
- **One step**: one generator forward shared by both updates; with ``gan`` first the
  discriminator update (on detached inputs; the origin's code did not detach, which cannot run
  as written), then the generator update through the unfrozen discriminator (its weight
  gradients are computed and thrown away, as in the origin).

The quoted timings of the origin's own code on this machine (256², batch 1, 2 threads):
generator step (L1 + VGG + feature matching) 1.40 s, full GAN step 1.87 s, inference 139 ms.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from neutex.errors import ConfigError
from neutex.model.pixel_geometry import compute_inputs
from neutex.train.vgg import VGG19Features
from neutex.train.vgg_layers import PIX2PIXHD_VGG_LAYERS, PIX2PIXHD_VGG_WEIGHTS

#: the origin's own code, measured on the bench machine (256², batch 1, 2 threads), in ms.
QUOTED_ORIGIN_MS = {"generator_step": 1400.0, "full_gan_step": 1870.0, "inference": 139.0}


class OriginPyramid(nn.Module):
    """One texture channel: a 4-level Laplacian pyramid of ``(1, 1, S/2^k, S/2^k)`` parameters.

    Examples:
        >>> p = OriginPyramid(16)
        >>> p(torch.zeros(2, 4, 4, 2)).shape
        torch.Size([2, 1, 4, 4])
    """

    def __init__(self, size: int, levels: int = 4) -> None:
        super().__init__()
        self.layers = nn.ParameterList(nn.Parameter(torch.empty(1, 1, size >> k, size >> k)) for k in range(levels))
        for p in self.layers:
            nn.init.xavier_uniform_(p)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        """``grid`` ``(B, H, W, 2)`` in [-1, 1] -> ``(B, 1, H, W)``; one grid_sample per level."""
        b = grid.shape[0]
        out = None
        for p in self.layers:
            y = F.grid_sample(p.repeat(b, 1, 1, 1), grid, align_corners=True)
            out = y if out is None else out + y
        return out


class OriginTexture(nn.Module):
    """``channels`` independent pyramids, sampled one by one and concatenated (64 grid_sample
    calls for 16 channels × 4 levels).

    Examples:
        >>> OriginTexture(3, 16)(torch.zeros(1, 4, 4, 2)).shape
        torch.Size([1, 3, 4, 4])
    """

    def __init__(self, channels: int = 16, size: int = 512, levels: int = 4) -> None:
        super().__init__()
        self.textures = nn.ModuleList(OriginPyramid(size, levels) for _ in range(channels))

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        return torch.cat([t(grid) for t in self.textures], dim=1)


class OriginGenerator(nn.Module):
    """The pix2pix UNet the origin used (``xuxmin/NeuralTexture_gan: core/models/generator.py``),
    generalised to ``num_downs = log2(res)`` levels (8 at 256²).

    Examples:
        >>> g = OriginGenerator(16, num_downs=5, ngf=8)
        >>> g(torch.zeros(1, 16, 32, 32)).shape
        torch.Size([1, 3, 32, 32])
    """

    def __init__(self, in_channels: int, out_channels: int = 3, num_downs: int = 8, ngf: int = 64) -> None:
        super().__init__()
        if num_downs < 2:
            raise ConfigError(f"origin generator: num_downs must be >= 2, got {num_downs}")
        ch = [ngf * min(2**i, 8) for i in range(num_downs)]
        self.num_downs = num_downs
        self.enc = nn.ModuleList([nn.Conv2d(in_channels, ch[0], 4, 2, 1)]
                                 + [nn.Conv2d(ch[i - 1], ch[i], 4, 2, 1) for i in range(1, num_downs)])
        self.enc_norm = nn.ModuleList(nn.InstanceNorm2d(ch[i]) for i in range(1, num_downs - 1))
        dec = []
        for j in range(num_downs):
            i = num_downs - 1 - j                # level this decoder layer upsamples from
            cin = ch[i] if j == 0 else 2 * ch[i]
            cout = ch[i - 1] if i > 0 else out_channels
            dec.append(nn.ConvTranspose2d(cin, cout, 4, 2, 1))
        self.dec = nn.ModuleList(dec)
        self.dec_norm = nn.ModuleList(nn.InstanceNorm2d(ch[num_downs - 2 - j]) for j in range(num_downs - 1))
        self.dropout = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = [self.enc[0](x)]
        for i in range(1, self.num_downs):
            y = self.enc[i](F.leaky_relu(e[-1], 0.2))
            if i < self.num_downs - 1:           # no norm on the innermost (1×1) layer
                y = self.enc_norm[i - 1](y)
            e.append(y)
        d = e[-1]
        for j in range(self.num_downs - 1):
            y = self.dec_norm[j](self.dec[j](F.relu(d)))
            if j < 3:
                y = self.dropout(y)
            d = torch.cat([y, e[self.num_downs - 2 - j]], 1)
        return torch.tanh(self.dec[-1](F.relu(d)))


class OriginDiscriminator(nn.Module):
    """The origin's PatchGAN (``core/models/discriminator.py``): BatchNorm, sigmoid output;
    returns the 2nd and 3rd layers' activations (for feature matching) and the scores.

    Examples:
        >>> feats, out = OriginDiscriminator(19, ndf=8)(torch.zeros(1, 19, 64, 64))
        >>> len(feats), out.shape
        (2, torch.Size([1, 1, 6, 6]))
    """

    def __init__(self, in_channels: int, ndf: int = 64) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True))
        self.layer2 = nn.Sequential(nn.Conv2d(ndf, ndf * 2, 4, 2, 1), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True))
        self.layer3 = nn.Sequential(nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1), nn.BatchNorm2d(ndf * 4),
                                    nn.LeakyReLU(0.2, True))
        self.layer4 = nn.Sequential(nn.Conv2d(ndf * 4, ndf * 8, 4, 1, 1), nn.BatchNorm2d(ndf * 8),
                                    nn.LeakyReLU(0.2, True))
        self.layer5 = nn.Sequential(nn.Conv2d(ndf * 8, 1, 4, 1, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        out1 = self.layer1(x)
        out2 = self.layer2(out1)
        out3 = self.layer3(out2)
        out5 = self.layer5(self.layer4(out3))
        return [out2, out3], out5


class OriginModel(nn.Module):
    """Texture -> conditioning -> generator, as the origin's ``NewGanPipelineModel``.

    ``forward(batch)`` reads the loader's ``grid``, ``normal``, ``light_dir``, ``view_dir`` and
    returns ``(renderer_input, prediction)`` like the origin's ``(real_A, fake_B)``.
    """

    def __init__(self, res: int, conditioning: str = "multiply", channels: int = 16, texture_res: int = 512) -> None:
        super().__init__()
        if res < 32 or res & (res - 1):
            raise ConfigError(f"origin model: resolution must be a power of two >= 32, got {res}")
        if conditioning not in ("multiply", "concat"):
            raise ConfigError(f"origin model: unknown conditioning {conditioning!r} (known: multiply, concat)")
        self.conditioning = conditioning
        self.texture = OriginTexture(channels, texture_res)
        self.in_channels = channels if conditioning == "multiply" else channels + 9
        self.generator = OriginGenerator(self.in_channels, 3, int(math.log2(res)))

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        if "light_dir" not in batch:  # the origin's loader delivered it; ours leaves it to the model
            batch = {**batch, **compute_inputs(batch, ["light_dir"])}
        x = self.texture(batch["grid"])
        if self.conditioning == "multiply":
            x[:, 3:6] = x[:, 3:6] * batch["normal"]
            x[:, 6:9] = x[:, 6:9] * batch["view_dir"]
            x[:, 9:12] = x[:, 9:12] * batch["light_dir"]
        else:
            x = torch.cat([x, batch["normal"], batch["view_dir"], batch["light_dir"]], 1)
        return x, self.generator(x)


def origin_encode(x: torch.Tensor) -> torch.Tensor:
    """The origin's target encoding: ``log(e^-3 + x) / 3``.

    Examples:
        >>> origin_encode(torch.tensor([0.0]))
        tensor([-1.])
    """
    return torch.log(math.exp(-3) + x) / 3


class OriginStep:
    """One training step of the origin, callable on a loader batch.

    Args:
        res: image resolution (a power of two; the generator has ``log2(res)`` levels).
        conditioning: ``multiply`` or ``concat``.
        gan: the full GAN step (discriminator update + generator update with GAN and feature
            matching losses) instead of the L1 + VGG generator step.

    Examples:
        >>> from neutex.bench.origin import OriginStep
        >>> step = OriginStep(32, gan=True)  # doctest: +SKIP
        >>> step(batch)  # doctest: +SKIP
    """

    def __init__(self, res: int, conditioning: str = "multiply", gan: bool = False) -> None:
        self.res, self.gan = res, gan
        self.model = OriginModel(res, conditioning)
        self.vgg = VGG19Features(PIX2PIXHD_VGG_LAYERS)  # the origin's: pix2pixHD's VGGLoss
        self.opt_g = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.disc = self.opt_d = None
        if gan:
            self.disc = OriginDiscriminator(self.model.in_channels + 3)
            self.opt_d = torch.optim.SGD(self.disc.parameters(), lr=1e-3, momentum=0.8)
        self.model.train()

    def __call__(self, batch: dict[str, torch.Tensor]) -> float:
        """One optimisation step; returns the generator loss."""
        real_b = origin_encode(batch["target"])
        mask = batch["mask"] > 0.5
        real_a, fake_b = self.model(batch)
        if self.disc is not None:
            self.opt_d.zero_grad()
            _, out = self.disc(torch.cat([real_a, real_b], 1).detach())
            err_real = F.binary_cross_entropy(out, torch.ones_like(out))
            _, out = self.disc(torch.cat([real_a, fake_b], 1).detach())
            err_fake = F.binary_cross_entropy(out, torch.zeros_like(out))
            ((err_real + err_fake) / 2).backward()
            self.opt_d.step()
        self.opt_g.zero_grad()
        err = F.l1_loss(torch.masked_select(fake_b, mask), torch.masked_select(real_b, mask))
        feats_real, feats_fake = self.vgg(real_b), self.vgg(fake_b)
        err = err + sum(w * F.l1_loss(f, r) for w, f, r in zip(PIX2PIXHD_VGG_WEIGHTS, feats_fake, feats_real))
        if self.disc is not None:
            fake_feats, out = self.disc(torch.cat([real_a, fake_b], 1))
            real_feats, _ = self.disc(torch.cat([real_a, real_b], 1))
            err = err + F.binary_cross_entropy(out, torch.ones_like(out))
            err = err + sum(F.l1_loss(r, f) for r, f in zip(real_feats, fake_feats))
        err.backward()
        self.opt_g.step()
        return float(err.detach())

    @torch.no_grad()
    def infer(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The origin's inference: texture + generator forward in eval mode, fp32."""
        was = self.model.training
        self.model.eval()
        try:
            return self.model(batch)[1]
        finally:
            self.model.train(was)


__all__ = [
    "QUOTED_ORIGIN_MS", "OriginDiscriminator", "OriginGenerator",
    "OriginModel", "OriginPyramid", "OriginStep", "OriginTexture", "origin_encode",
]
