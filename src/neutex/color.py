"""Colour transforms, in one place: sRGB <-> linear, target encodings, tone mapping.

All functions work on numpy arrays and torch tensors alike (elementwise ops only).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Encoding = Literal["linear", "log", "srgb"]

#: Rec. 709 / sRGB luminance of linear RGB: ``Y = 0.2126 R + 0.7152 G + 0.0722 B``.
LUMA_WEIGHTS = (0.2126, 0.7152, 0.0722)

#: epsilon and scale of the ``log`` target encoding: enc = log(eps + x) * scale + shift maps
#: linear [0, ~4] roughly onto [0, 1] while keeping dark regions resolved.
LOG_EPS = 1e-3
_LOG_SHIFT = -np.log(LOG_EPS)
_LOG_SCALE = 1.0 / (np.log(4.0 + LOG_EPS) - np.log(LOG_EPS))


def _lib(x):
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return np
    import torch  # x is a tensor, so torch is loaded already; colour stays importable without it

    return torch


def srgb_to_linear(x):
    """sRGB-encoded values in [0, 1] -> linear values (IEC 61966-2-1 curve)."""
    lib = _lib(x)
    return lib.where(x <= 0.04045, x / 12.92, ((lib.clip(x, 0.04045, None) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x):
    """Linear values in [0, 1] -> sRGB-encoded values in [0, 1] (input clipped to >= 0)."""
    lib = _lib(x)
    x = lib.clip(x, 0.0, None)
    return lib.where(x <= 0.0031308, 12.92 * x, 1.055 * lib.clip(x, 0.0031308, None) ** (1 / 2.4) - 0.055)


def encode_target(x, encoding: Encoding):
    """Linear HDR -> the encoding the renderer is trained to output.

    Args:
        x: linear radiance, any shape, >= 0.
        encoding: ``linear`` (identity), ``log`` (``log(eps+x)`` rescaled to about [0, 1]),
            ``srgb`` (clip to [0, 1] then the sRGB curve).

    Examples:
        >>> import numpy as np
        >>> x = np.array([0.0, 0.5, 2.0])
        >>> bool(np.allclose(decode_target(encode_target(x, "log"), "log"), x, atol=1e-6))
        True
    """
    lib = _lib(x)
    if encoding == "linear":
        return x
    if encoding == "log":
        return (lib.log(lib.clip(x, 0.0, None) + LOG_EPS) + _LOG_SHIFT) * _LOG_SCALE
    if encoding == "srgb":
        return linear_to_srgb(lib.clip(x, 0.0, 1.0))
    raise ValueError(f"unknown encoding {encoding!r}")


def decode_target(y, encoding: Encoding):
    """Inverse of :func:`encode_target`: encoded values -> linear HDR."""
    lib = _lib(y)
    if encoding == "linear":
        return y
    if encoding == "log":
        return lib.clip(lib.exp(y / _LOG_SCALE - _LOG_SHIFT) - LOG_EPS, 0.0, None)
    if encoding == "srgb":
        return srgb_to_linear(lib.clip(y, 0.0, 1.0))
    raise ValueError(f"unknown encoding {encoding!r}")


def tonemap(x, white: float = 1.0):
    """Linear HDR -> display values in [0, 1]: divide by the white level, clip, sRGB curve.

    Args:
        x: linear radiance, any shape.
        white: the linear value shown as white (e.g. a high percentile of the ground truth).
    """
    lib = _lib(x)
    return linear_to_srgb(lib.clip(x / white, 0.0, 1.0))
