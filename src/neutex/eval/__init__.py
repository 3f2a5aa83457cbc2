"""Evaluation: masked image metrics, temporal metrics of light sweeps, baselines, checkpoint
selection, and the plots that show them."""

from neutex.eval.baseline import lambert_shading, nearest_light_index, nearest_light_prediction, nearest_light_predictions
from neutex.eval.metrics import aggregate, image_metrics, masked_mean, ssim, ssim_map, stripe_energy
from neutex.eval.temporal import jump_index, light_curvature, peak_ratio, temporal_difference_error, temporal_metrics

__all__ = [
    "aggregate", "image_metrics", "jump_index", "lambert_shading", "light_curvature", "masked_mean",
    "nearest_light_index", "nearest_light_prediction", "nearest_light_predictions", "peak_ratio", "ssim", "ssim_map",
    "stripe_energy", "temporal_difference_error", "temporal_metrics",
]
