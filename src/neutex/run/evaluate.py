"""The one evaluator: image metrics of a model on a set of (view, light) pairs, and the one
way to measure a light sweep. The trainer's per-epoch validation, ``neutex eval``, ``neutex
render --kind sequence`` and the report call these and nothing else, so they agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neutex.data.splits import HELD_OUT_BUCKETS
from neutex.eval.metrics import aggregate, image_metrics
from neutex.eval.temporal import closes_loop, frame_subsample, temporal_metrics
from neutex.render.lights import sweep_sources
from neutex.run.predict import FrameRenderer


def measure_pairs(renderer: FrameRenderer, data, pairs: np.ndarray, white: float, baseline=None,
                  progress: Callable[[int], Any] | None = None) -> tuple[dict[str, float], dict[str, float] | None]:
    """Masked image metrics (:func:`~neutex.eval.metrics.image_metrics`, aggregated) of the
    model behind ``renderer`` on ``pairs``, and of ``baseline`` (an object with
    ``predict(view, light) -> (3, H, W)`` linear, e.g. :class:`~neutex.eval.baseline.NearestLightBaseline`)
    on the same images.

    Args:
        renderer: the model's :class:`~neutex.run.predict.FrameRenderer`.
        data: the :class:`~neutex.data.PreparedData`.
        pairs: ``(N, 2)`` (view, light) indices.
        white: the white level every image is measured at.
        baseline: optional non-learned predictor.
        progress: called with the number of images done after each batch.

    Returns:
        ``(model_metrics, baseline_metrics or None)``: ``{"n", "mae", "mse", "psnr", "ssim",
        "psnr_tonemapped", "ssim_tonemapped"}`` means over the images.
    """
    rows, brows = [], []
    for batch, pred in renderer.pairs(data, pairs):
        gt = batch["target"] * batch["mask"]
        rows.append(image_metrics(pred, gt, batch["mask"], white=white))
        if baseline is not None:
            views, lights = batch["view"].cpu().tolist(), batch["light"].cpu().tolist()
            bpred = torch.stack([baseline.predict(int(v), int(l)) for v, l in zip(views, lights)]).to(gt.device)
            brows.append(image_metrics(bpred * batch["mask"], gt, batch["mask"], white=white))
        if progress:
            progress(pred.shape[0])
    return aggregate(rows), (aggregate(brows) if baseline is not None else None)


def held_out_psnr(buckets: dict[str, dict[str, Any]]) -> float:
    """Mean PSNR over the held-out buckets present (``train`` when none is); what ``best.pt``
    and ``--select psnr`` maximise.

    Examples:
        >>> held_out_psnr({"train": {"psnr": 30.0}, "novel_light": {"psnr": 20.0}, "novel_view": {"psnr": 22.0}})
        21.0
    """
    vals = [buckets[b]["psnr"] for b in HELD_OUT_BUCKETS
            if b in buckets and buckets[b].get("psnr") is not None and math.isfinite(buckets[b]["psnr"])]
    if not vals and "train" in buckets and buckets["train"].get("psnr") is not None:
        vals = [buckets["train"]["psnr"]]
    return float(np.mean(vals)) if vals else -math.inf


def sample_pairs(pairs: np.ndarray, k: int | None, seed: int) -> np.ndarray:
    """A fixed, sorted random subset of ``k`` pairs (all when ``k`` is None or not smaller)."""
    if k is None or len(pairs) <= k:
        return pairs
    rng = np.random.default_rng(seed)
    return pairs[np.sort(rng.choice(len(pairs), size=k, replace=False))]


# ============================================================================ light sweeps


@dataclass
class SweepJob:
    """One light sweep to render and measure.

    Attributes:
        name: the sequence's name, or ``circle`` for a synthetic sweep without ground truth.
        view: view index.
        sources: ``(T, 4)`` homogeneous light sources (after subsampling).
        intensities: ``(T, 3)`` or None (the dataset's default intensity).
        gt_index: ``(T,)`` frame indices into the sequence, or None.
        sequence: the :class:`~neutex.data.PreparedSequence`, or None.
        fps: frame rate of the (subsampled) video.
    """

    name: str
    view: int
    sources: np.ndarray
    intensities: np.ndarray | None
    gt_index: np.ndarray | None
    sequence: Any
    fps: float

    @property
    def periodic(self) -> bool:
        """Whether the sweep closes on itself (temporal metrics continue across the wrap)."""
        return closes_loop(self.sources)

    def ground_truth(self, mask: torch.Tensor) -> torch.Tensor | None:
        """``(T, 3, H, W)`` float32 linear ground-truth frames, masked; None without a sequence."""
        if self.sequence is None:
            return None
        gt = torch.from_numpy(np.asarray(self.sequence.frames[self.gt_index], np.float32)).permute(0, 3, 1, 2)
        return gt * mask


def sequence_job(seq, max_frames: int | None = None) -> SweepJob:
    """The :class:`SweepJob` of one ground-truth sequence, subsampled at one stride to at most
    ``max_frames`` frames (:func:`~neutex.eval.temporal.frame_subsample`), its fps scaled alike."""
    idx = frame_subsample(len(seq.sources), max_frames)
    return SweepJob(seq.name, int(seq.view), seq.sources[idx], seq.intensities[idx], idx, seq,
                    seq.fps * len(idx) / len(seq.sources))


def sweep_jobs(data, max_frames: int | None = None, seen_first: bool = False, circle_frames: int = 120) -> list[SweepJob]:
    """The sweeps to measure: every ground-truth sequence, subsampled at one stride to at most
    ``max_frames`` (:func:`~neutex.eval.temporal.frame_subsample`); without any, one circle of
    ``circle_frames`` lights about the up axis at the first seen view (no ground truth).

    Args:
        seen_first: order sequences at seen views first (the trainer's per-epoch sweep is the first job).
    """
    seqs = list(data.sequences)
    seen = set(int(v) for v in data.seen_views)
    if seen_first:
        seqs.sort(key=lambda s: s.view not in seen)
    jobs = [sequence_job(s, max_frames) for s in seqs]
    if not jobs:
        view = int(min(seen)) if seen else 0
        n = min(circle_frames, max_frames or circle_frames)
        jobs.append(SweepJob("circle", view, sweep_sources(data, n), None, None, None, 24.0))
    return jobs


@torch.no_grad()
def measure_sweep(renderer: FrameRenderer, data, job: SweepJob) -> dict[str, Any]:
    """Render a sweep and measure it (:func:`measure_frames`).

    Returns:
        ``{"pred": (T, 3, H, W) float32 linear on the CPU, "gt": same or None, "mask": (H, W)
        bool, "temporal": temporal_metrics(...) dict (with "curves"), "view": id,
        "held_out_view": bool, "frames": T}``.
    """
    pred = torch.cat([f.cpu() for f in renderer.sweep(data, job.view, job.sources, job.intensities)])
    return measure_frames(data, job, pred)


def measure_frames(data, job: SweepJob, pred: torch.Tensor) -> dict[str, Any]:
    """Temporal metrics (:func:`~neutex.eval.temporal.temporal_metrics`) of a sweep's frames,
    rendered already (``neutex render`` streams them to the video encoder as they come),
    against the job's ground truth when it has one.

    Args:
        pred: ``(T, 3, H, W)`` linear frames of ``job`` on the CPU, 0 off the mask.

    Returns:
        what :func:`measure_sweep` returns.
    """
    mask = torch.from_numpy(np.array(data.mask[job.view], bool))
    gt = job.ground_truth(mask)
    tm = temporal_metrics(pred, gt, mask, fps=job.fps, periodic=job.periodic)
    tm["view"] = data.view_ids[job.view]
    tm["held_out_view"] = bool(job.view in set(data.held_out_views.tolist()))
    tm["frames"] = int(len(job.sources))
    return {"pred": pred, "gt": gt, "mask": mask, "temporal": tm, "view": tm["view"],
            "held_out_view": tm["held_out_view"], "frames": tm["frames"]}
