"""Speed benchmarks (``neutex bench``): matmul peaks, neutex's training step, renderer and
inference, the origin's step as a side-by-side reference (:mod:`neutex.bench.origin`), and the
synth, gbuffer and loader side benches. torch is imported by the submodules only."""

from __future__ import annotations

import importlib
from typing import Any

from neutex.bench.config import BenchConfig

_LAZY = {
    "BenchCommand": "neutex.bench.command",
    "run_bench": "neutex.bench.suite",
    "check_document": "neutex.bench.suite",
    "make_trainer": "neutex.bench.suite",
    "GOALS": "neutex.bench.suite",
    "measure_peaks": "neutex.bench.timing",
    "time_interleaved": "neutex.bench.timing",
    "bench_gbuffer": "neutex.bench.side",
    "bench_loader": "neutex.bench.side",
    "bench_shadow": "neutex.bench.side",
    "OriginStep": "neutex.bench.origin",
    "OriginModel": "neutex.bench.origin",
    "QUOTED_ORIGIN_MS": "neutex.bench.origin",
    "print_report": "neutex.bench.report",
}

__all__ = ["BenchConfig", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'neutex.bench' has no attribute {name!r}")
