"""Prepared datasets: ``neutex prepare``, the on-disk layout (docs/prepared.md), splits, and
fast torch batches for training and rendering.

Names that need torch (:func:`geometry_batch`, :class:`PairLoader`, ...) are imported on first
use, so ``import neutex.data`` (and ``neutex --help``) stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from neutex.data.splits import BUCKETS, HELD_OUT_BUCKETS, Split, load_split_file, make_split, split_ids

_LAZY = {
    "PrepareConfig": "neutex.data.prepare",
    "prepare_capture": "neutex.data.prepare",
    "given_gbuffers": "neutex.data.prepare",
    "PrepareCommand": "neutex.data.command",
    "FORMAT": "neutex.data.prepared",
    "PreparedData": "neutex.data.prepared",
    "PreparedSequence": "neutex.data.prepared",
    "PreparedWriter": "neutex.data.prepared",
    "GBufferTensors": "neutex.data.loader",
    "PairLoader": "neutex.data.loader",
    "geometry_batch": "neutex.data.loader",
    "set_light": "neutex.data.loader",
    "write_synthetic_prepared": "neutex.data.synthetic",
}

__all__ = ["BUCKETS", "HELD_OUT_BUCKETS", "Split", "load_split_file", "make_split", "split_ids", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'neutex.data' has no attribute {name!r}")
