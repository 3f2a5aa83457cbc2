"""Conditioning: how the per-pixel inputs (:mod:`neutex.model.inputs`) enter the renderer
together with the sampled texture features. Each input enters one of two ways:

- ``multiply``: it is multiplied elementwise into its own texture channels ``start:stop``
  (the origin's exp1 for normal / light / view direction; Deferred Neural Lighting for the
  radiance cues). A 1-channel input may multiply several channels.
- ``concat``: it is appended after the texture features (the origin's exp2).

The renderer sees ``C + Σ concat channels`` channels. The origin's exp1 is
``multiply`` of normal, light_dir, view_dir into channels 0–2, 3–5, 6–8; exp2 is ``concat`` of
the same three (25 channels).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from neutex.check import check_shape
from neutex.errors import ConfigError, DataError
from neutex.model.inputs import get_input

ConditioningMode = Literal["multiply", "concat"]
CONDITIONING_MODES: tuple[str, ...] = ("multiply", "concat")

#: the origin's exp1 mapping: (start, stop, input) with channels ``start:stop`` × ``input``.
DEFAULT_CHANNEL_MAP: tuple[tuple[int, int, str], ...] = ((0, 3, "normal"), (3, 6, "light_dir"), (6, 9, "view_dir"))


@dataclass(frozen=True)
class Slot:
    """Where one input enters: ``multiply`` into texture channels ``start:stop``, or ``concat``."""

    name: str
    how: ConditioningMode
    start: int = 0
    stop: int = 0


def parse_input(entry: str, default: ConditioningMode, where: str = "model.inputs") -> tuple[str, ConditioningMode]:
    """``"name"`` or ``"name:multiply"`` / ``"name:concat"`` -> ``(name, how)``.

    Examples:
        >>> parse_input("diffuse", "multiply"), parse_input("normal:concat", "multiply")
        (('diffuse', 'multiply'), ('normal', 'concat'))
    """
    name, _, how = str(entry).partition(":")
    how = how or default
    if how not in CONDITIONING_MODES:
        raise ConfigError(f"{where}: {entry!r}: unknown way {how!r} (known: {', '.join(CONDITIONING_MODES)})")
    get_input(name, where)
    return name, how  # type: ignore[return-value]


def plan_slots(inputs: Sequence[str], default: ConditioningMode, texture_channels: int,
               channel_map: Sequence[Sequence] | None = None, where: str = "model") -> tuple[Slot, ...]:
    """Assign every input its slot.

    Multiplied inputs take texture channels in the order listed, starting at channel 0 (each
    as many channels as it has), unless ``channel_map`` gives ``(start, stop, name)`` for them
    explicitly. Concatenated inputs keep their order.

    Raises:
        ConfigError: an unknown input, a channel used twice or beyond ``texture_channels``, a
            range whose width does not match the input (or 1-channel broadcast), an input listed twice.

    Examples:
        >>> [(s.name, s.start, s.stop) for s in plan_slots(["normal", "light_dir", "view_dir"], "multiply", 16)]
        [('normal', 0, 3), ('light_dir', 3, 6), ('view_dir', 6, 9)]
        >>> [s.how for s in plan_slots(["diffuse", "normal:concat"], "multiply", 16)]
        ['multiply', 'concat']
        >>> plan_slots(["normal"], "multiply", 16, ((0, 3, "normal"), (2, 5, "normal")))
        Traceback (most recent call last):
        ...
        neutex.errors.ConfigError: model.channel_map[1]: 'normal' mapped twice
    """
    parsed = [parse_input(e, default, f"{where}.inputs") for e in inputs]
    names = [n for n, _ in parsed]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise ConfigError(f"{where}.inputs: {dup!r} listed twice")
    explicit: dict[str, tuple[int, int]] = {}
    for i, entry in enumerate(channel_map or ()):
        if len(entry) != 3:
            raise ConfigError(f"{where}.channel_map[{i}]: expected (start, stop, input), got {tuple(entry)!r}")
        start, stop, name = entry
        if name in explicit:
            raise ConfigError(f"{where}.channel_map[{i}]: {name!r} mapped twice")
        if (name, "multiply") not in parsed:
            raise ConfigError(f"{where}.channel_map[{i}]: {name!r} is not a multiplied input "
                              f"(multiplied: {', '.join(n for n, h in parsed if h == 'multiply') or 'none'})")
        if not (isinstance(start, int) and isinstance(stop, int)) or stop <= start:
            raise ConfigError(f"{where}.channel_map[{i}]: {name}: bad range {start}:{stop}")
        explicit[name] = (start, stop)
    used: dict[int, str] = {}
    slots, cursor = [], 0
    for name, how in parsed:
        if how == "concat":
            slots.append(Slot(name, "concat"))
            continue
        ch = get_input(name).channels
        if name in explicit:
            start, stop = explicit[name]
        else:
            while cursor in used:
                cursor += 1
            start, stop = cursor, cursor + ch
            cursor = stop
        width = stop - start
        if width != ch and ch != 1:
            raise ConfigError(f"{where}.channel_map: {name} has {ch} channels, so stop - start must be {ch}, "
                              f"got {start}:{stop}")
        for c in range(start, stop):
            if c < 0 or c >= texture_channels:
                raise ConfigError(f"{where}: channel {c} (for {name}) is beyond texture_channels={texture_channels}",
                                  hint="raise --model.texture-channels or multiply fewer inputs")
            if c in used:
                raise ConfigError(f"{where}.channel_map: channel {c} used twice ({used[c]} and {name})")
            used[c] = name
        slots.append(Slot(name, "multiply", start, stop))
    return tuple(slots)


def condition_features(features: torch.Tensor, inputs: Mapping[str, torch.Tensor], slots: Sequence[Slot]) -> torch.Tensor:
    """Combine sampled texture features with the per-pixel inputs.

    Args:
        features: ``(B, C, H, W)`` sampled texture features.
        inputs: ``{name: (B, c, H, W)}`` computed inputs (:func:`neutex.model.inputs.compute_inputs`).
        slots: from :func:`plan_slots`.

    Returns:
        ``(B, C + Σ concat channels, H, W)``: the features with each multiplied input's channels
        scaled elementwise (one multiply by a stacked multiplier), then the concatenated inputs.

    Examples:
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


def conditioned_channels(slots: Sequence[Slot], texture_channels: int) -> int:
    """Channels the renderer receives: ``C`` plus every concatenated input's channels."""
    return texture_channels + sum(get_input(s.name).channels for s in slots if s.how == "concat")


class Conditioning(nn.Module):
    """Module form of :func:`condition_features` for a fixed slot plan.

    Examples:
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
