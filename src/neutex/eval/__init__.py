"""Evaluation: ``neutex eval`` (eval.json), masked image metrics, temporal metrics of light
sweeps, the nearest-light baseline, checkpoint selection, and the plots that show them. The
measuring itself (which images, which sweeps) is :mod:`neutex.run.evaluate`'s.

Every name is imported on first use (:func:`neutex.lazy.lazy_exports`), so
``import neutex.eval`` stays light.
"""

from __future__ import annotations

from neutex.lazy import lazy_exports

_LAZY = {
    "lambert_shading": "neutex.eval.baseline",
    "nearest_light_index": "neutex.eval.baseline",
    "nearest_light_prediction": "neutex.eval.baseline",
    "nearest_light_predictions": "neutex.eval.baseline",
    "aggregate": "neutex.eval.metrics",
    "image_metrics": "neutex.eval.metrics",
    "masked_mean": "neutex.eval.metrics",
    "ssim": "neutex.eval.metrics",
    "ssim_map": "neutex.eval.metrics",
    "stripe_energy": "neutex.eval.metrics",
    "jump_index": "neutex.eval.temporal",
    "light_curvature": "neutex.eval.temporal",
    "peak_ratio": "neutex.eval.temporal",
    "temporal_difference_error": "neutex.eval.temporal",
    "temporal_metrics": "neutex.eval.temporal",
    "NearestLightBaseline": "neutex.eval.baseline",
    "reproject": "neutex.eval.baseline",
    "evaluate_run": "neutex.eval.evaluate",
    "select_checkpoint": "neutex.eval.evaluate",
    "EvalCommand": "neutex.eval.command",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
