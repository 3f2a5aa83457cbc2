"""Lazy re-exports for subpackages whose modules import torch or matplotlib: the names are
listed up front (``__all__``) and imported on first use, so ``neutex --help`` stays instant."""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_exports(package: str, names: dict[str, str]) -> tuple[list[str], Callable[[str], Any]]:
    """``(__all__, __getattr__)`` for ``package`` re-exporting ``{name: module}`` on first use.

    Examples:
        >>> __all__, __getattr__ = lazy_exports("pkg", {"sqrt": "math"})
        >>> __all__, __getattr__("sqrt")(4.0)
        (['sqrt'], 2.0)
    """

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return sorted(names), __getattr__
