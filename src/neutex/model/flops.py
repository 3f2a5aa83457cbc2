"""FLOP counting (``torch.utils.flop_counter``), shared by docs measurements and the bench."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.utils.flop_counter import FlopCounterMode


def count_flops(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """Run ``fn(*args, **kwargs)`` once and return the floating-point operations it performed
    (a multiply-add counts 2), as counted by :class:`torch.utils.flop_counter.FlopCounterMode`:
    matmuls and convolutions (forward and, if ``fn`` calls ``backward``, backward);
    elementwise ops are not counted.

    Examples:
        >>> import torch
        >>> a, b = torch.ones(4, 8), torch.ones(8, 2)
        >>> count_flops(torch.mm, a, b)
        128
    """
    with FlopCounterMode(display=False) as counter:
        fn(*args, **kwargs)
    return int(counter.get_total_flops())
