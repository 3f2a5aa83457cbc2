"""Device and precision policy, in one place below training, evaluation and rendering."""

from __future__ import annotations

import contextlib

import torch

from neutex.errors import ConfigError


def pick_device(name: str) -> torch.device:
    """``auto`` (CUDA when available, else CPU), ``cpu`` or ``cuda`` -> a torch device.

    Raises:
        ConfigError: ``cuda`` asked for where there is none.

    Examples:
        >>> pick_device("cpu")
        device(type='cpu')
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: cuda requested but no CUDA device is available", hint="use --device cpu")
    if name not in ("cpu", "cuda"):
        raise ConfigError(f"device: {name!r} is not one of auto, cpu, cuda")
    return torch.device(name)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of a precision setting: bfloat16 for ``bf16`` (CPU, and GPUs that
    have it: Ampere and later), None for ``fp32``.

    Never float16: the trainer has no loss scaler, and fp16 gradients of the small residual
    corrections underflow without one; a GPU without bfloat16 is refused instead.

    Raises:
        ConfigError: an unknown precision, or ``bf16`` on a GPU without bfloat16.

    Examples:
        >>> autocast_dtype("bf16", torch.device("cpu")), autocast_dtype("fp32", torch.device("cpu"))
        (torch.bfloat16, None)
    """
    if precision == "fp32":
        return None
    if precision != "bf16":
        raise ConfigError(f"precision: {precision!r} is not one of fp32, bf16")
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f"precision: bf16 is not supported by {torch.cuda.get_device_name(device)}",
                          hint="use --precision fp32")
    return torch.bfloat16


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """``torch.autocast`` for ``dtype`` on ``device``'s type, or a no-op for full precision."""
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
