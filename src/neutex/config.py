"""Typed dataclass configs <-> plain JSON. Loading rejects unknown keys (a misspelt key must
never be dropped silently) and rebuilds nested dataclasses, Literals and tuples. Nested config
dicts are also seen as flat dotted keys (``model.conditioning``): to override and to compare them."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any, TypeVar

from neutex.errors import ConfigError
from neutex.jsonio import read_json_object, write_json_atomic

T = TypeVar("T")


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A (nested) dataclass -> JSON-ready dict (Paths become strings, tuples lists)."""

    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {str(k): conv(x) for k, x in v.items()}
        return v

    return conv(cfg)


def _build(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return config_from_dict(tp, value, where)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _build(a, value, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            return tuple(_build(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        inner = args[0] if args else Any
        seq = [_build(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(seq) if origin is tuple else seq
    if origin is dict:
        return dict(value)
    if tp is Path:
        return Path(value)
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp in (int, str, bool) and not isinstance(value, tp):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def config_from_dict(cls: type[T], d: dict[str, Any], where: str = "config") -> T:
    """Rebuild a dataclass from a dict; unknown keys are an error naming the key."""
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected an object, got {type(d).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key (known: {', '.join(sorted(names))})")
    kwargs = {k: _build(hints[k], v, f"{where}.{k}") for k, v in d.items()}
    return cls(**kwargs)


def flatten_overrides(d: dict[str, Any] | None, where: str, prefix: str = "") -> dict[str, Any]:
    """Nested and dotted override mappings -> one flat ``{"a.b.c": value}`` dict.

    Examples:
        >>> flatten_overrides({"model": {"conditioning": "concat"}, "schedule.epochs": 2}, "base")
        {'model.conditioning': 'concat', 'schedule.epochs': 2}
    """
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a mapping of config keys, got {type(d).__name__}")
    out: dict[str, Any] = {}
    for k, v in d.items():
        if not isinstance(k, str) or not k:
            raise ConfigError(f"{where}: keys must be non-empty strings, got {k!r}")
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten_overrides(v, where, key + "."))
        else:
            out[key] = v
    return out


def config_difference(a: dict[str, Any], b: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[str]:
    """Dotted keys whose values differ between two nested config dicts, as ``key: a -> b``
    (``ignore``: dotted keys left out; an int-valued float equals the int, a tuple the list)."""
    fa, fb = flatten_overrides(a, "a"), flatten_overrides(b, "b")
    out = []
    for k in sorted(set(fa) | set(fb)):
        if k in ignore:
            continue
        va, vb = fa.get(k), fb.get(k)
        if _norm(va) != _norm(vb):
            out.append(f"{k}: {va!r} -> {vb!r}")
    return out


def _norm(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return [_norm(x) for x in v]
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def save_config(cfg: Any, path: str | Path, extra: dict[str, Any] | None = None) -> None:
    """Write the resolved config as JSON (atomically), with optional extra top-level keys."""
    write_json_atomic(path, {"config": config_to_dict(cfg), **(extra or {})}, indent=2)


def load_config(cls: type[T], path: str | Path) -> T:
    """Read a config written by :func:`save_config`."""
    d = read_json_object(path, ConfigError)
    return config_from_dict(cls, d.get("config", d), where=Path(path).name)
