"""Speed benchmarks (``neutex bench``): matmul peaks, neutex's training step, renderer and
inference, the origin's step as a side-by-side reference (:mod:`neutex.bench.origin`), and the
side benches (:mod:`neutex.bench.side`; the synth one is :func:`neutex.synth.bench_synth`).

Every name is imported on first use (:func:`neutex.lazy.lazy_exports`), so
``import neutex.bench`` stays light.
"""

from __future__ import annotations

from neutex.lazy import lazy_exports

_LAZY = {
    "BenchConfig": "neutex.bench.config",
    "BenchCommand": "neutex.bench.command",
    "check_document": "neutex.bench.suite",
    "GOALS": "neutex.bench.suite",
    "make_trainer": "neutex.bench.common",
    "bench_model": "neutex.bench.common",
    "run_bench": "neutex.bench.suite",
    "measure_peaks": "neutex.bench.timing",
    "time_interleaved": "neutex.bench.timing",
    "bench_gbuffer": "neutex.bench.side",
    "bench_loader": "neutex.bench.side",
    "OriginModel": "neutex.bench.origin",
    "OriginStep": "neutex.bench.origin",
    "QUOTED_ORIGIN_MS": "neutex.bench.origin",
    "print_report": "neutex.bench.report",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
