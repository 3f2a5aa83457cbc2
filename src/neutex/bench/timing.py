"""Timing primitives of the bench: interleaved timing of several callables, and matmul peaks.

On a shared, noisy machine two things measured one after the other can see different loads.
:func:`time_interleaved` therefore runs the callables that are compared with each other in
rounds (A, B, C, A, B, C, ...), so a burst of load from elsewhere hits all of them alike, and
reports the median (and the best) per callable.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch

from neutex.errors import ConfigError


def time_interleaved(fns: Mapping[str, Callable[[], Any]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Call every function ``warmup`` times, then ``repeats`` rounds of each in turn.

    Args:
        fns: name -> zero-argument callable (one step, one forward, ...).
        repeats: timed rounds (>= 1).
        warmup: untimed rounds first (kernel selection, allocator, oneDNN primitive caches).

    Returns:
        name -> the ``repeats`` wall times in seconds, in round order.

    Examples:
        >>> t = time_interleaved({"a": lambda: None, "b": lambda: sum(range(100))}, repeats=3)
        >>> sorted(t), len(t["a"])
        (['a', 'b'], 3)
    """
    if repeats < 1:
        raise ConfigError(f"bench.repeats: must be >= 1, got {repeats}")
    for _ in range(max(0, warmup)):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def summarize(seconds: list[float]) -> dict[str, float]:
    """``{"ms": median, "ms_best": minimum, "n": count}`` of a list of wall times in seconds.

    Examples:
        >>> summarize([0.003, 0.001, 0.002])
        {'ms': 2.0, 'ms_best': 1.0, 'n': 3}
    """
    return {"ms": statistics.median(seconds) * 1e3, "ms_best": min(seconds) * 1e3, "n": len(seconds)}


def synchronizer(device: torch.device | str = "cpu") -> Callable[[], None]:
    """A function that waits for ``device``'s queued work (CUDA runs asynchronously: a timer
    read without it measures the launch, not the work); a no-op on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def matmul_gflops(dtype: torch.dtype, size: int = 2048, repeats: int = 10, device: torch.device | str = "cpu") -> float:
    """Best achieved GFLOP/s of a square ``size × size`` matmul in ``dtype`` on ``device`` over
    ``repeats`` calls (after one untimed call), with torch's current thread count on the CPU. A
    ``size³`` matmul is ``2·size³`` FLOP. The best, not the median: the peak is what the
    hardware can do when the machine is quiet.

    Examples:
        >>> matmul_gflops(torch.float32, size=64, repeats=2) > 0
        True
    """
    if size < 1 or repeats < 1:
        raise ConfigError(f"bench peak: size and repeats must be >= 1, got {size}, {repeats}")
    sync = synchronizer(device)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=g).to(device=device, dtype=dtype)
    b = torch.randn(size, size, generator=g).to(device=device, dtype=dtype)
    out = torch.empty(size, size, dtype=dtype, device=device)
    torch.mm(a, b, out=out)
    sync()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b, out=out)
        sync()
        best = min(best, time.perf_counter() - t0)
    return 2.0 * size**3 / best / 1e9


def measure_peaks(sizes: tuple[int, ...] = (1024, 2048), repeats: int = 20,
                  device: torch.device | str = "cpu") -> dict[str, float]:
    """fp32 and bf16 matmul peaks: the best GFLOP/s over ``sizes`` (square matmuls large enough
    to saturate the cores; on a GPU use 8192) and ``repeats``.

    Returns:
        ``{"matmul_fp32_gflops": ..., "matmul_bf16_gflops": ...}``.
    """
    return {
        "matmul_fp32_gflops": max(matmul_gflops(torch.float32, s, repeats, device) for s in sizes),
        "matmul_bf16_gflops": max(matmul_gflops(torch.bfloat16, s, repeats, device) for s in sizes),
    }


__all__ = ["matmul_gflops", "measure_peaks", "summarize", "synchronizer", "time_interleaved"]
