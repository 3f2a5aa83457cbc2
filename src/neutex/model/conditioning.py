"""Conditioning: how the per-pixel buffers (normal, light and view direction) enter the
renderer together with the sampled texture features. Two first-class modes (the origin's two
experiments):

- ``multiply`` (exp1): feature channels are multiplied elementwise by buffers, following a
  channel map (default channels 0–2 × normal, 3–5 × light_dir, 6–8 × view_dir, the rest
  unchanged); the renderer sees ``C`` channels.
- ``concat`` (exp2): features ++ normal ++ light_dir ++ view_dir; the renderer sees ``C + 9``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import torch
from torch import nn

from neutex.check import check_shape
from neutex.errors import ConfigError

ConditioningMode = Literal["multiply", "concat"]
BufferName = Literal["normal", "light_dir", "view_dir"]

#: the buffers a channel map may name, in the order ``concat`` appends them.
BUFFER_NAMES: tuple[str, ...] = get_args(BufferName)

#: the origin's exp1 mapping: (start, stop, buffer) with channels ``start:stop`` × ``buffer``.
DEFAULT_CHANNEL_MAP: tuple[tuple[int, int, str], ...] = ((0, 3, "normal"), (3, 6, "light_dir"), (6, 9, "view_dir"))


def validate_channel_map(channel_map: Sequence[Sequence], channels: int, where: str = "model.channel_map") -> None:
    """Raise :class:`ConfigError` unless every triple is ``(start, start + 3, buffer)`` with a
    known buffer, inside ``[0, channels)``, and no channel is used twice.

    Examples:
        >>> validate_channel_map(DEFAULT_CHANNEL_MAP, 16)
        >>> validate_channel_map(((0, 3, "normal"), (2, 5, "view_dir")), 16)
        Traceback (most recent call last):
        ...
        neutex.errors.ConfigError: model.channel_map: channel 2 used twice
    """
    used: set[int] = set()
    for i, entry in enumerate(channel_map):
        if len(entry) != 3:
            raise ConfigError(f"{where}[{i}]: expected (start, stop, buffer), got {tuple(entry)!r}")
        start, stop, name = entry
        if name not in BUFFER_NAMES:
            raise ConfigError(f"{where}[{i}]: unknown buffer {name!r} (known: {', '.join(BUFFER_NAMES)})")
        if not (isinstance(start, int) and isinstance(stop, int)) or stop - start != 3:
            raise ConfigError(f"{where}[{i}]: {name} has 3 channels, so stop - start must be 3, got {start}:{stop}")
        for c in range(start, stop):
            if c < 0 or c >= channels:
                raise ConfigError(f"{where}: channel {c} is beyond texture_channels={channels}")
            if c in used:
                raise ConfigError(f"{where}: channel {c} used twice")
            used.add(c)


def channel_map_index(channel_map: Sequence[Sequence], channels: int) -> torch.Tensor:
    """The gather index of the ``multiply`` mode: for each feature channel, its row in the
    stacked multiplier ``cat([normal, light_dir, view_dir, ones])`` (rows 0–8; row 9 is the
    ones row for unmapped channels).

    Examples:
        >>> channel_map_index(DEFAULT_CHANNEL_MAP, 12).tolist()
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9]
        >>> channel_map_index(((4, 7, "view_dir"),), 8).tolist()
        [9, 9, 9, 9, 6, 7, 8, 9]
    """
    validate_channel_map(channel_map, channels)
    idx = [3 * len(BUFFER_NAMES)] * channels
    for start, stop, name in channel_map:
        row = 3 * BUFFER_NAMES.index(name)
        for k, c in enumerate(range(start, stop)):
            idx[c] = row + k
    return torch.tensor(idx, dtype=torch.long)


def condition_features(features: torch.Tensor, normal: torch.Tensor, light_dir: torch.Tensor,
                       view_dir: torch.Tensor, mode: ConditioningMode,
                       index: torch.Tensor | None = None) -> torch.Tensor:
    """Combine sampled texture features with the per-pixel buffers.

    Args:
        features: ``(B, C, H, W)`` sampled texture features.
        normal, light_dir, view_dir: ``(B, 3, H, W)`` world-space unit vectors (light_dir and
            view_dir point from the surface to the light / camera).
        mode: ``"multiply"`` or ``"concat"``; anything else raises :class:`ConfigError`.
        index: ``multiply`` only: ``(C,)`` long tensor from :func:`channel_map_index`
            (default: the origin's map, channels 0–8).

    Returns:
        ``multiply``: ``(B, C, H, W)`` = ``features * cat([normal, light_dir, view_dir, 1])[:, index]``,
        one indexed multiply. ``concat``: ``(B, C + 9, H, W)`` = features ++ normal ++ light_dir ++ view_dir.

    Examples:
        >>> f = torch.full((1, 10, 1, 1), 2.0)
        >>> n, l, v = (torch.tensor([a, b, c]).view(1, 3, 1, 1) for a, b, c in [(1., 2., 3.), (4., 5., 6.), (7., 8., 9.)])
        >>> condition_features(f, n, l, v, "multiply").flatten().tolist()
        [2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0, 2.0]
        >>> condition_features(f, n, l, v, "concat").shape
        torch.Size([1, 19, 1, 1])
    """
    check_shape(features, "B C H W", "features")
    for name, buf in (("normal", normal), ("light_dir", light_dir), ("view_dir", view_dir)):
        check_shape(buf, "B 3 H W", name)
    if mode == "multiply":
        if index is None:
            index = channel_map_index(DEFAULT_CHANNEL_MAP, features.shape[1])
        ones = torch.ones_like(normal[:, :1])
        multiplier = torch.cat([normal, light_dir, view_dir, ones], 1).index_select(1, index.to(features.device))
        return features * multiplier.to(features.dtype)
    if mode == "concat":
        dt = features.dtype
        return torch.cat([features, normal.to(dt), light_dir.to(dt), view_dir.to(dt)], 1)
    raise ConfigError(f"model.conditioning: unknown mode {mode!r} (known: multiply, concat)")


def conditioned_channels(mode: ConditioningMode, texture_channels: int) -> int:
    """Channels the renderer receives: ``C`` for multiply, ``C + 9`` for concat."""
    if mode == "multiply":
        return texture_channels
    if mode == "concat":
        return texture_channels + 3 * len(BUFFER_NAMES)
    raise ConfigError(f"model.conditioning: unknown mode {mode!r} (known: multiply, concat)")


class Conditioning(nn.Module):
    """Module form of :func:`condition_features`; holds the channel map's gather index as a
    (non-persistent) buffer so it moves with the model.

    Examples:
        >>> cond = Conditioning("multiply", 16)
        >>> b = torch.ones(2, 3, 4, 4)
        >>> cond(torch.ones(2, 16, 4, 4), b, b, b).shape, cond.out_channels
        (torch.Size([2, 16, 4, 4]), 16)
    """

    def __init__(self, mode: ConditioningMode, texture_channels: int,
                 channel_map: Sequence[Sequence] = DEFAULT_CHANNEL_MAP) -> None:
        super().__init__()
        self.mode = mode
        self.out_channels = conditioned_channels(mode, texture_channels)
        self.channel_map = tuple(tuple(e) for e in channel_map)
        index = channel_map_index(channel_map, texture_channels) if mode == "multiply" else torch.zeros(0, dtype=torch.long)
        self.register_buffer("index", index, persistent=False)

    def forward(self, features: torch.Tensor, normal: torch.Tensor, light_dir: torch.Tensor,
                view_dir: torch.Tensor) -> torch.Tensor:
        return condition_features(features, normal, light_dir, view_dir, self.mode, self.index)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, out_channels={self.out_channels}" + (
            f", channel_map={self.channel_map}" if self.mode == "multiply" else "")
