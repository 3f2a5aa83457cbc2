"""A VGG19 feature extractor without torchvision, with torchvision-compatible state-dict keys.

The module holds ``features.N.weight`` / ``features.N.bias`` for the convolutions of
torchvision's ``vgg19().features`` up to the deepest layer used, at the same indices ``N``, so
the standard ImageNet weight file ``vgg19-dcbb9e9d.pth`` loads with strict key matching for
those layers (its other keys — deeper convs, the classifier — are ignored).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from neutex.errors import ConfigError, DependencyError
from neutex.train.vgg_layers import VGG19_CFG, VGG19_LAYERS

#: torchvision's file name for the ImageNet VGG19 weights (hub cache name includes the hash).
VGG19_FILENAME = "vgg19-dcbb9e9d.pth"
VGG19_URL = f"https://download.pytorch.org/models/{VGG19_FILENAME}"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def hub_weights_path() -> Path:
    """Where torch's hub cache keeps the file: ``torch.hub.get_dir()/checkpoints/vgg19-dcbb9e9d.pth``
    (``$TORCH_HOME/hub/...``, by default ``~/.cache/torch/hub/checkpoints/...``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILENAME


def find_vgg_weights(path: str | Path | None = None) -> Path | None:
    """The weight file to use: ``path`` if given (it must exist), else the hub cache file if it
    exists, else None."""
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise DependencyError(f"loss.vgg_weights: file not found: {path}; {how_to_get_vgg_weights()}",
                              hint=NO_WEIGHTS_HINT)
        return path
    hub = hub_weights_path()
    return hub if hub.is_file() else None


def how_to_get_vgg_weights() -> str:
    """How to provide the VGG19 weights (part of every missing-weights message)."""
    return (f"download {VGG19_URL} (torchvision's ImageNet VGG19) and pass it with "
            f"--loss.vgg-weights FILE, or put it at {hub_weights_path()}")


#: the hint of every missing-weights error: the alternatives that need no weights.
NO_WEIGHTS_HINT = "to train without VGG19: --perceptual auto (L1 + SSIM when the weights are missing) or --perceptual off"


def load_vgg_weights(path: str | Path | None = None) -> dict[str, torch.Tensor]:
    """Load the VGG19 weights as a state dict (torchvision keys, on the CPU).

    Looks in ``path`` (from the config) if given, else in torch's hub cache
    (:func:`hub_weights_path`); raises :class:`DependencyError` naming both places and how to
    provide the file when neither has it. Loads with ``weights_only=True`` (no pickled code)
    and memory-maps the file when its format allows, so the 400 MB classifier is never read.
    """
    found = find_vgg_weights(path)
    if found is None:
        raise DependencyError(f"VGG19 weights: not found at {hub_weights_path()} and loss.vgg_weights is not set;"
                              f" {how_to_get_vgg_weights()}", hint=NO_WEIGHTS_HINT)
    try:
        try:
            sd = torch.load(found, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # legacy (non-zip) files cannot be memory-mapped
            sd = torch.load(found, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise DependencyError(f"{found}: cannot read VGG19 weights ({type(exc).__name__}: {exc}); "
                              f"{how_to_get_vgg_weights()}", hint=NO_WEIGHTS_HINT) from None
    if isinstance(sd, Mapping) and "state_dict" in sd and isinstance(sd["state_dict"], Mapping):
        sd = sd["state_dict"]
    if not isinstance(sd, Mapping):
        raise DependencyError(f"{found}: not a state dict (got {type(sd).__name__}); {how_to_get_vgg_weights()}",
                              hint=NO_WEIGHTS_HINT)
    return dict(sd)


class VGG19Features(nn.Module):
    """VGG19 convolutions up to the deepest requested relu layer, returning the activations at
    the requested layers. ImageNet normalisation is inside: inputs are RGB in [0, 1].

    Parameters are frozen (``requires_grad=False``; backpropagating to the input still works).
    State-dict keys match torchvision's ``vgg19().features`` (``features.N.weight``); the
    normalisation constants are non-persistent buffers.

    Args:
        layers: relu layer names (``relu1_2`` …), any order; the output follows this order.

    Examples:
        >>> vgg = VGG19Features(["relu2_2", "relu1_2"])
        >>> sorted(vgg.state_dict())
        ['features.0.bias', 'features.0.weight', 'features.2.bias', 'features.2.weight', 'features.5.bias', 'features.5.weight', 'features.7.bias', 'features.7.weight']
        >>> [f.shape[1] for f in vgg(torch.rand(1, 3, 16, 16))]
        [128, 64]
    """

    def __init__(self, layers: Sequence[str]) -> None:
        super().__init__()
        if not layers:
            raise ConfigError("loss.vgg_layers: empty")
        for name in layers:
            if name not in VGG19_LAYERS:
                raise ConfigError(f"loss.vgg_layers: unknown layer {name!r} (known: {', '.join(VGG19_LAYERS)})")
        self.layers = tuple(layers)
        self._indices = [VGG19_LAYERS[n] for n in self.layers]
        last = max(self._indices)
        modules: list[nn.Module] = []
        cin = 3
        for v in VGG19_CFG:
            if len(modules) > last:
                break
            if v == "M":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                modules += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=False)]
                cin = v
        self.features = nn.Sequential(*modules[: last + 1])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG19Features:  # always in eval mode (no dropout/bn anyway)
        return super().train(False)

    def load_weights(self, state_dict: Mapping[str, torch.Tensor], source: str = "VGG19 weights") -> None:
        """Copy the weights of this extractor's layers from a torchvision-layout state dict;
        keys of deeper layers or the classifier are ignored; a missing key or a wrong shape
        raises :class:`DependencyError`."""
        own = self.state_dict()
        picked = {}
        for key, value in own.items():
            if key not in state_dict:
                raise DependencyError(f"{source}: missing {key} (expected torchvision's vgg19 layout); "
                                      f"{how_to_get_vgg_weights()}", hint=NO_WEIGHTS_HINT)
            if tuple(state_dict[key].shape) != tuple(value.shape):
                raise DependencyError(f"{source}: {key} has shape {tuple(state_dict[key].shape)}, expected "
                                      f"{tuple(value.shape)} (not a VGG19 file?); {how_to_get_vgg_weights()}",
                                      hint=NO_WEIGHTS_HINT)
            picked[key] = state_dict[key]
        self.load_state_dict(picked, strict=True)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``(B, 3, H, W)`` RGB in [0, 1] -> activations at ``self.layers`` (in that order)."""
        x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        want = {i: k for k, i in enumerate(self._indices)}
        out: list[torch.Tensor | None] = [None] * len(self._indices)
        for i, module in enumerate(self.features):
            x = module(x)
            if i in want:
                out[want[i]] = x
        return out  # type: ignore[return-value]
