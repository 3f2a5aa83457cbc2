"""Training losses: masked L1, VGG19 perceptual loss (or a weight-free SSIM fallback), GAN
losses (LSGAN, hinge, feature matching), and the combined :class:`RelightingLoss` used by the
trainer, which :meth:`neutex.train.config.LossConfig.setup` builds.

Every image loss is masked: it sums over object pixels and divides by their number, via the
project's one mask-aware mean, :func:`neutex.eval.metrics.masked_mean`.
"""

from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from neutex.check import check_shape
from neutex.color import Encoding, encode_target, linear_to_srgb
from neutex.errors import ConfigError, DataError, DependencyError
from neutex.eval.metrics import masked_mean, ssim
from neutex.train.vgg import (
    NO_WEIGHTS_HINT,
    VGG19Features,
    find_vgg_weights,
    how_to_get_vgg_weights,
    hub_weights_path,
    load_vgg_weights,
)

if TYPE_CHECKING:
    from neutex.train.config import GanLoss, LossConfig


# ----------------------------------------------------------------------------- pixel losses


def _safe_masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Batch mean of :func:`neutex.eval.metrics.masked_mean` over the samples whose mask is not
    empty (an empty-mask sample contributes nothing, and no NaN reaches the gradient); 0 with a
    gradient path when every mask is empty."""
    nonempty = mask.flatten(1).amax(1) > 0                        # (B,)
    safe_mask = torch.where(nonempty[:, None, None, None], mask.to(x.dtype), torch.ones_like(mask, dtype=x.dtype))
    per = masked_mean(x, safe_mask)                               # finite for every sample
    per = torch.where(nonempty, per, torch.zeros_like(per))
    return per.sum() / nonempty.sum().clamp_min(1)


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over object pixels (and channels), averaged over the batch.

    Background pixels never contribute, whatever they hold (NaN and inf included): per sample
    it is :func:`neutex.eval.metrics.masked_mean` of ``|pred - target|``. Samples with an empty
    mask are skipped (they have nothing to learn from).

    Args:
        pred, target: ``(B, C, H, W)`` float, same space (e.g. the encoded target space).
        mask: ``(B, 1, H, W)`` {0, 1} (bool or float), 1 on the object.

    Returns:
        scalar tensor.

    Examples:
        >>> pred = torch.tensor([[[[1.0, 5.0], [0.0, 9.0]]]])
        >>> target = torch.zeros(1, 1, 2, 2)
        >>> mask = torch.tensor([[[[1.0, 1.0], [1.0, 0.0]]]])
        >>> masked_l1(pred, target, mask)
        tensor(2.)
    """
    check_shape(pred, "B C H W", "pred")
    if target.shape != pred.shape:
        raise DataError(f"target: shape {tuple(target.shape)} does not match pred {tuple(pred.shape)}")
    check_shape(mask, f"{pred.shape[0]} 1 {pred.shape[2]} {pred.shape[3]}", "mask")
    return _safe_masked_mean((pred - target).abs(), mask)


def to_display(x: torch.Tensor, encoding: Encoding | None) -> torch.Tensor:
    """Encoded-space image -> display-like values (about [0, 1]) for VGG and SSIM.

    ``log`` and ``srgb`` encodings already are display-like (perceptually spaced, about
    [0, 1]) and pass unchanged, so the perceptual loss sees exactly what L1 sees. ``linear``
    HDR is tone-mapped smoothly, ``srgb(x / (1 + x))`` (Reinhard, then the sRGB curve): no
    clipping, so highlights keep a gradient. ``None`` (encoding unknown) passes unchanged.

    Examples:
        >>> to_display(torch.tensor([0.0, 1.0]), "linear")
        tensor([0.0000, 0.7354])
    """
    if encoding in (None, "log", "srgb"):
        return x
    if encoding == "linear":
        x = x.clamp_min(0)
        return linear_to_srgb(x / (1 + x))
    raise ConfigError(f"encoding: unknown target encoding {encoding!r}")


# ----------------------------------------------------------------------------- perceptual


class PerceptualLoss(nn.Module):
    """VGG19 perceptual loss: weighted L1 between VGG activations of prediction and target.

    ``loss = Σ_k w_k · mean|φ_k(m·pred) − φ_k(m·target)|`` over the chosen relu layers ``k``.

    - Masked: both images are multiplied by the mask *before* VGG, so the background is black
      in both and its activations cancel; near the silhouette the receptive fields still see the
      outline, which is wanted. (The mean over activations includes background positions, which
      contribute ~0: the loss scale depends slightly on object coverage.)
    - Inputs are display-like images in about [0, 1] (see :func:`to_display`); ImageNet
      normalisation happens inside :class:`~neutex.train.vgg.VGG19Features`.
    - Speed: the network stops at the deepest layer used; ``resolution`` first area-downsamples
      both images so their longer side is at most that many pixels (FLOPs fall with the square);
      target activations are computed under ``no_grad``; VGG weights are frozen so the backward
      pass computes only input gradients; ``bf16`` runs VGG under bf16 autocast.

    Args:
        vgg: the feature extractor (its ``layers`` fix the order of ``layer_weights``).
        layer_weights: one weight per layer.
        resolution: max side in pixels fed to VGG; None keeps the input size.
        bf16: run VGG in bfloat16 autocast (on the input's device type).

    Examples:
        >>> loss = PerceptualLoss(VGG19Features(["relu1_2", "relu2_2"]), (1.0, 1.0), resolution=16)
        >>> x = torch.rand(1, 3, 32, 32)
        >>> float(loss(x, x, torch.ones(1, 1, 32, 32)))
        0.0
    """

    def __init__(self, vgg: VGG19Features, layer_weights: tuple[float, ...], resolution: int | None = None,
                 bf16: bool = False) -> None:
        super().__init__()
        if len(layer_weights) != len(vgg.layers):
            raise ConfigError(f"loss.vgg_layer_weights: {len(layer_weights)} weights for {len(vgg.layers)} layers")
        self.vgg = vgg
        self.layer_weights = tuple(float(w) for w in layer_weights)
        self.resolution = resolution
        self.bf16 = bf16

    def _prepare(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if mask is not None:
            x = torch.where(mask > 0, x * mask.to(x.dtype), torch.zeros((), dtype=x.dtype, device=x.device))
        h, w = x.shape[-2:]
        if self.resolution is not None and max(h, w) > self.resolution:
            s = self.resolution / max(h, w)
            x = F.interpolate(x, size=(max(1, round(h * s)), max(1, round(w * s))), mode="area")
        return x

    def forward(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``pred``, ``target``: ``(B, 3, H, W)`` display-like; ``mask``: ``(B, 1, H, W)`` or None.
        Returns a scalar."""
        check_shape(pred, "B 3 H W", "pred")
        pred, target = self._prepare(pred, mask), self._prepare(target.detach(), mask)
        with torch.autocast(pred.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            with torch.no_grad():
                feats_t = self.vgg(target)
            feats_p = self.vgg(pred)
        total = pred.new_zeros(())
        for w, fp, ft in zip(self.layer_weights, feats_p, feats_t):
            if w:
                total = total + w * (fp.float() - ft.float()).abs().mean()
        return total


# ----------------------------------------------------------------------------- GAN


def gan_generator_loss(fake_scores: torch.Tensor, kind: GanLoss) -> torch.Tensor:
    """Generator side of the GAN loss on the discriminator's scores for fake images.

    ``lsgan``: ``mean((D(fake) − 1)²)``; ``hinge``: ``−mean(D(fake))``.

    Examples:
        >>> s = torch.tensor([0.0, 2.0])
        >>> gan_generator_loss(s, "lsgan"), gan_generator_loss(s, "hinge")
        (tensor(1.), tensor(-1.))
    """
    if kind == "lsgan":
        return ((fake_scores - 1) ** 2).mean()
    if kind == "hinge":
        return -fake_scores.mean()
    raise ConfigError(f"loss.gan_loss: unknown {kind!r} (known: lsgan, hinge)")


def gan_discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor, kind: GanLoss) -> torch.Tensor:
    """Discriminator side.

    ``lsgan``: ``½·[mean((D(real) − 1)²) + mean(D(fake)²)]``;
    ``hinge``: ``mean(relu(1 − D(real))) + mean(relu(1 + D(fake)))``.

    Examples:
        >>> gan_discriminator_loss(torch.ones(4), torch.zeros(4), "lsgan")
        tensor(0.)
        >>> gan_discriminator_loss(torch.ones(4), -torch.ones(4), "hinge")
        tensor(0.)
    """
    if kind == "lsgan":
        return 0.5 * (((real_scores - 1) ** 2).mean() + (fake_scores**2).mean())
    if kind == "hinge":
        return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()
    raise ConfigError(f"loss.gan_loss: unknown {kind!r} (known: lsgan, hinge)")


def feature_matching_loss(fake_feats: list[torch.Tensor], real_feats: list[torch.Tensor]) -> torch.Tensor:
    """pix2pixHD feature matching: mean over discriminator layers of ``mean|f_fake − f_real|``
    (real activations detached).

    Examples:
        >>> feature_matching_loss([torch.ones(2)], [torch.zeros(2)])
        tensor(1.)
    """
    if not fake_feats:
        raise DataError("feature matching: no discriminator features")
    return sum((f.float() - r.detach().float()).abs().mean() for f, r in zip(fake_feats, real_feats)) / len(fake_feats)


@contextmanager
def _frozen(module: nn.Module):
    """Temporarily turn off ``requires_grad`` of a module's parameters (pix2pix's
    ``set_requires_grad(netD, False)``): the generator step backpropagates through D to the
    image without computing D's weight gradients."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(module.parameters(), flags):
            p.requires_grad_(f)


# ----------------------------------------------------------------------------- combined


def resolve_perceptual(cfg: LossConfig) -> str:
    """What ``cfg.perceptual`` means on this machine: ``vgg``, ``random``, ``ssim`` or ``off``
    (``auto`` -> ``vgg`` if a weight file is found, else ``ssim``). Raises
    :class:`~neutex.errors.DependencyError` for ``vgg`` without weights."""
    if cfg.perceptual == "auto":
        return "vgg" if find_vgg_weights(cfg.vgg_weights) is not None else "ssim"
    if cfg.perceptual == "vgg":
        if find_vgg_weights(cfg.vgg_weights) is None:
            raise DependencyError(f"loss.perceptual=vgg: VGG19 weights not found at {hub_weights_path()} and "
                                  f"loss.vgg_weights is not set; {how_to_get_vgg_weights()}", hint=NO_WEIGHTS_HINT)
        return "vgg"
    return cfg.perceptual


class RelightingLoss(nn.Module):
    """The training objective built by :meth:`LossConfig.setup`.

    ``generator_loss(pred, batch, disc)`` = ``l1_weight · masked_l1``
    + ``perceptual_weight · VGG`` (or ``ssim_weight · (1 − SSIM)``, per :attr:`resolved`)
    + ``gan_weight · GAN_G`` + ``feature_matching_weight · FM`` (with ``gan``).

    Attributes:
        resolved: the perceptual loss actually used: ``vgg``, ``random``, ``ssim`` or ``off``
            (record it in the run's config/metrics).
    """

    def __init__(self, cfg: LossConfig, device: torch.device | str = "cpu", encoding: Encoding | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoding = encoding
        self.resolved = resolve_perceptual(cfg)
        self.perceptual: PerceptualLoss | None = None
        if cfg.perceptual == "auto":
            where = find_vgg_weights(cfg.vgg_weights)
            print(f"perceptual loss: auto -> {self.resolved} "
                  + (f"(VGG19 weights: {where})" if where else "(no VGG19 weights found; L1 + SSIM, see docs/model.md)"),
                  file=sys.stderr, flush=True)
        if self.resolved in ("vgg", "random"):
            layers, weights = zip(*cfg.used_vgg_layers())
            vgg = VGG19Features(layers)
            if self.resolved == "vgg":
                vgg.load_weights(load_vgg_weights(cfg.vgg_weights), source=str(find_vgg_weights(cfg.vgg_weights)))
            else:
                warnings.warn("perceptual=random: VGG19 with random weights, meant for tests only; "
                              "use perceptual=vgg (or auto) for real training", UserWarning, stacklevel=3)
            self.perceptual = PerceptualLoss(vgg, weights, cfg.vgg_resolution, cfg.vgg_bf16)
        self.to(device)

    def target(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The encoded target: ``batch["target_encoded"]``, else ``encode_target(batch["target"])``."""
        if "target_encoded" in batch:
            return batch["target_encoded"]
        if self.encoding is None:
            raise DataError("batch: no 'target_encoded', and the loss was built without an encoding "
                            "(LossConfig.setup(device, encoding))")
        return encode_target(batch["target"], self.encoding)

    def generator_loss(self, pred: torch.Tensor, batch: dict[str, torch.Tensor],
                       disc: nn.Module | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss of the renderer's prediction.

        Args:
            pred: ``(B, 3, H, W)`` float32 prediction in the encoded target space.
            batch: the loader's batch (``mask``, ``target`` or ``target_encoded``; the buffers
                when a conditional discriminator is used).
            disc: the :class:`~neutex.model.PatchDiscriminator` (needed when ``gan`` is on).

        Returns:
            ``(total, logs)``: a scalar to backpropagate and the terms as floats
            (``l1``, ``perceptual`` or ``ssim``, ``gan_g``, ``fm``).
        """
        cfg = self.cfg
        target = self.target(batch)
        mask = batch["mask"]
        l1 = masked_l1(pred, target, mask)
        total = cfg.l1_weight * l1
        logs = {"l1": float(l1.detach())}
        if self.perceptual is not None and cfg.perceptual_weight > 0:
            p = self.perceptual(to_display(pred, self.encoding), to_display(target, self.encoding), mask)
            total = total + cfg.perceptual_weight * p
            logs["perceptual"] = float(p.detach())
        elif self.resolved == "ssim" and cfg.ssim_weight > 0:
            ssim_pred = to_display(pred, self.encoding)
            s = ssim(ssim_pred, to_display(target, self.encoding).to(ssim_pred.dtype), mask, data_range=1.0)
            nonempty = mask.flatten(1).amax(1) > 0
            dssim = torch.where(nonempty, 1 - s, torch.zeros_like(s)).sum() / nonempty.sum().clamp_min(1)
            total = total + cfg.ssim_weight * dssim
            logs["ssim"] = float(dssim.detach())
        if cfg.gan:
            if disc is None:
                raise ConfigError("loss.gan is on but no discriminator was given to generator_loss")
            with _frozen(disc):
                fake_scores, fake_feats = disc.score(pred, batch, return_features=True)
                g = gan_generator_loss(fake_scores, cfg.gan_loss)
                total = total + cfg.gan_weight * g
                logs["gan_g"] = float(g.detach())
                if cfg.feature_matching_weight > 0:
                    with torch.no_grad():
                        _, real_feats = disc.score(target, batch, return_features=True)
                    fm = feature_matching_loss(fake_feats, real_feats)
                    total = total + cfg.feature_matching_weight * fm
                    logs["fm"] = float(fm.detach())
        return total, logs

    def discriminator_loss(self, disc: nn.Module, fake: torch.Tensor,
                           batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss of the discriminator on real (the encoded target) vs fake (``fake``, detached
        here) images; returns ``(loss, {"d_loss", "d_real", "d_fake"})`` (mean scores)."""
        real_scores = disc.score(self.target(batch), batch)
        fake_scores = disc.score(fake.detach(), batch)
        loss = gan_discriminator_loss(real_scores, fake_scores, self.cfg.gan_loss)
        return loss, {"d_loss": float(loss.detach()), "d_real": float(real_scores.detach().mean()),
                      "d_fake": float(fake_scores.detach().mean())}
