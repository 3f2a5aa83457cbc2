"""Conditioning: how the per-pixel inputs (:mod:`neutex.model.inputs`) enter the renderer
together with the sampled texture features. Each input enters one of two ways:

- ``multiply``: it is multiplied elementwise into its own texture channels ``start:stop``
  (the origin's exp1 for normal / light / view direction; Deferred Neural Lighting for the
  radiance cues). A 1-channel input may multiply several channels.
- ``concat``: it is appended after the texture features (the origin's exp2).

The renderer sees ``C + Σ concat channels`` channels. The origin's exp1 is
``multiply`` of normal, light_dir, view_dir into channels 0–2, 3–5, 6–8; exp2 is ``concat`` of
the same three (25 channels). Which input goes where (the slots) is planned without torch, in
:mod:`neutex.model.slots`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from neutex.check import check_shape
from neutex.errors import DataError
from neutex.model.slots import Slot, conditioned_channels


def condition_features(features: torch.Tensor, inputs: Mapping[str, torch.Tensor], slots: Sequence[Slot]) -> torch.Tensor:
    """Combine sampled texture features with the per-pixel inputs.

    Args:
        features: ``(B, C, H, W)`` sampled texture features.
        inputs: ``{name: (B, c, H, W)}`` computed inputs (:func:`neutex.model.pixel_geometry.compute_inputs`).
        slots: from :func:`~neutex.model.slots.plan_slots`.

    Returns:
        ``(B, C + Σ concat channels, H, W)``: the features with each multiplied input's channels
        scaled elementwise (one multiply by a stacked multiplier), then the concatenated inputs.

    Examples:
        >>> from neutex.model.slots import plan_slots
        >>> f = torch.full((1, 10, 1, 1), 2.0)
        >>> n, l, v = (torch.tensor([a, b, c]).view(1, 3, 1, 1) for a, b, c in [(1., 2., 3.), (4., 5., 6.), (7., 8., 9.)])
        >>> ins = {"normal": n, "light_dir": l, "view_dir": v}
        >>> condition_features(f, ins, plan_slots(["normal", "light_dir", "view_dir"], "multiply", 10)).flatten().tolist()
        [2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0, 2.0]
        >>> condition_features(f, ins, plan_slots(["normal", "light_dir", "view_dir"], "concat", 10)).shape
        torch.Size([1, 19, 1, 1])
    """
    check_shape(features, "B C H W", "features")
    B, C, H, W = features.shape
    dt = features.dtype
    mult = sorted((s for s in slots if s.how == "multiply"), key=lambda s: s.start)
    x = features
    if mult:
        pieces, c = [], 0
        ones = None
        for s in mult:
            if s.start > c:
                ones = ones if ones is not None else torch.ones(B, 1, H, W, dtype=dt, device=features.device)
                pieces.append(ones.expand(B, s.start - c, H, W))
            t = inputs[s.name].to(dt)
            pieces.append(t if t.shape[1] == s.stop - s.start else t.expand(B, s.stop - s.start, H, W))
            c = s.stop
        if c < C:
            ones = ones if ones is not None else torch.ones(B, 1, H, W, dtype=dt, device=features.device)
            pieces.append(ones.expand(B, C - c, H, W))
        x = features * torch.cat(pieces, 1)
    cat = [inputs[s.name].to(dt) for s in slots if s.how == "concat"]
    return torch.cat([x, *cat], 1) if cat else x


class Conditioning(nn.Module):
    """Module form of :func:`condition_features` for a fixed slot plan.

    Examples:
        >>> from neutex.model.slots import plan_slots
        >>> cond = Conditioning(16, plan_slots(["normal", "light_dir", "view_dir"], "multiply", 16))
        >>> b = torch.ones(2, 3, 4, 4)
        >>> cond(torch.ones(2, 16, 4, 4), {"normal": b, "light_dir": b, "view_dir": b}).shape, cond.out_channels
        (torch.Size([2, 16, 4, 4]), 16)
    """

    def __init__(self, texture_channels: int, slots: Sequence[Slot]) -> None:
        super().__init__()
        self.texture_channels = int(texture_channels)
        self.slots = tuple(slots)
        self.out_channels = conditioned_channels(self.slots, self.texture_channels)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.slots)

    def forward(self, features: torch.Tensor, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        missing = [s.name for s in self.slots if s.name not in inputs]
        if missing:
            raise DataError(f"conditioning: missing input {missing[0]!r}")
        return condition_features(features, inputs, self.slots)

    def extra_repr(self) -> str:
        parts = [f"{s.name}x[{s.start}:{s.stop}]" if s.how == "multiply" else f"++{s.name}" for s in self.slots]
        return f"out_channels={self.out_channels}, " + " ".join(parts)
