"""Input checks shared by every tensor function (after kornia's ``KORNIA_CHECK_SHAPE``)."""

from __future__ import annotations

from typing import Any

from neutex.errors import DataError


def check_shape(x: Any, pattern: str, name: str) -> None:
    """Raise :class:`DataError` unless ``x.shape`` matches ``pattern``.

    Args:
        x: any object with a ``shape`` (torch tensor or numpy array).
        pattern: space-separated dims; a letter matches any size, an integer must match,
            ``*`` as the first token matches any number of leading dims.
            Example: ``"B H W 2"``, ``"* 3"``, ``"B 3 H W"``.
        name: the argument's name, used in the message.

    Examples:
        >>> import numpy as np
        >>> check_shape(np.zeros((2, 4, 4, 2)), "B H W 2", "uv")
        >>> check_shape(np.zeros((4, 3)), "* 3", "dirs")
        >>> check_shape(np.zeros((2, 4, 4, 3)), "B H W 2", "uv")
        Traceback (most recent call last):
        ...
        neutex.errors.DataError: uv: expected shape (B H W 2), got (2, 4, 4, 3)
    """
    dims = pattern.split()
    shape = tuple(getattr(x, "shape", ()))
    ok = True
    if dims and dims[0] == "*":
        want = dims[1:]
        if len(shape) < len(want):
            ok = False
        else:
            shape_tail = shape[len(shape) - len(want):] if want else ()
            ok = all(not d.isdigit() or int(d) == s for d, s in zip(want, shape_tail))
    else:
        if len(shape) != len(dims):
            ok = False
        else:
            ok = all(not d.isdigit() or int(d) == s for d, s in zip(dims, shape))
    if not ok:
        raise DataError(f"{name}: expected shape ({pattern}), got {shape}")
