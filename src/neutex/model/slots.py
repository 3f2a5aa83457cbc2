"""The conditioning plan, without torch: where each per-pixel input enters the renderer —
multiplied into texture channels ``start:stop`` or concatenated after the features
(:mod:`neutex.model.conditioning` does it with tensors). The model config plans its slots
here, so validating a config (and ``neutex --help``) never imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from neutex.errors import ConfigError
from neutex.model.inputs import get_input
from neutex.model.options import CONDITIONING_MODES, ConditioningMode

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


def conditioned_channels(slots: Sequence[Slot], texture_channels: int) -> int:
    """Channels the renderer receives: ``C`` plus every concatenated input's channels."""
    return texture_channels + sum(get_input(s.name).channels for s in slots if s.how == "concat")

def radiance_slots(slots: Sequence[Slot]) -> tuple[Slot, ...]:
    """The slots of radiance cues multiplied into exactly 3 texture channels: their products
    sum to the physically based base image (the residual's base, the photo fit's targets)."""
    return tuple(s for s in slots if s.how == "multiply" and get_input(s.name).radiance and s.stop - s.start == 3)
