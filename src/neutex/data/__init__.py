"""Prepared datasets: ``neutex prepare``, the on-disk layout (docs/prepared.md), splits, and
fast torch batches for training and rendering.

Every name is imported on first use (:func:`neutex.lazy.lazy_exports`), so
``import neutex.data`` stays light.
"""

from __future__ import annotations

from neutex.lazy import lazy_exports

_LAZY = {
    "BUCKETS": "neutex.data.splits",
    "HELD_OUT_BUCKETS": "neutex.data.splits",
    "load_split_file": "neutex.data.splits",
    "make_split": "neutex.data.splits",
    "Split": "neutex.data.splits",
    "split_ids": "neutex.data.splits",
    "given_gbuffers": "neutex.data.prepare",
    "prepare_capture": "neutex.data.prepare",
    "PrepareConfig": "neutex.data.prepare",
    "PrepareCommand": "neutex.data.command",
    "FORMAT": "neutex.data.prepared",
    "PreparedData": "neutex.data.prepared",
    "PreparedSequence": "neutex.data.prepared",
    "PreparedWriter": "neutex.data.prepared",
    "GBufferTensors": "neutex.data.loader",
    "geometry_batch": "neutex.data.loader",
    "PairLoader": "neutex.data.loader",
    "set_light": "neutex.data.loader",
    "write_synthetic_prepared": "neutex.data.synthetic",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
