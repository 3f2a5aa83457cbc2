"""Evaluate a trained run: per-bucket image metrics beside baselines, temporal metrics on
every ground-truth sequence, and checkpoint selection. Writes ``RUN/eval.json``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from neutex.data.splits import BUCKETS
from neutex.errors import CheckpointError
from neutex.eval.baseline import NearestLightBaseline
from neutex.eval.environment import evaluate_environments
from neutex.eval.plots import plot_run_curves, plot_temporal
from neutex.jsonio import write_json_atomic
from neutex.run.evaluate import held_out_psnr, measure_pairs, measure_sweep, sample_pairs, sweep_jobs
from neutex.run.load import LoadedRun, load_run, read_metrics

Select = Literal["psnr", "temporal", "combined"]


def select_checkpoint(rows: list[dict[str, Any]], select: Select, tolerance: float = 0.5,
                      threshold: float = 0.5) -> tuple[int, str]:
    """Choose an epoch from per-epoch validation rows of ``metrics.jsonl``.

    - ``psnr``: the highest mean held-out PSNR.
    - ``temporal``: the lowest tDE_rel (with ground truth) or jump index J (without).
    - ``combined``: the highest PSNR among epochs whose jump index stays within
      ``(1 + tolerance) × J_gt`` (with ground truth) or below ``threshold`` (without); when no
      epoch qualifies, the temporally best one.

    Returns:
        ``(epoch, reason)``.
    """
    val = [r for r in rows if r.get("kind") == "val"]
    if not val:
        raise CheckpointError("metrics.jsonl: no validation rows; train for at least one epoch first")
    by_epoch = {int(r["epoch"]): r for r in val}

    def temporal(r: dict) -> dict | None:
        t = r.get("temporal") or {}
        return next(iter(t.values()), None)

    def tscore(r: dict) -> float:
        t = temporal(r)
        if not t:
            return math.inf
        return t["tde_rel"] if t.get("tde_rel") is not None else t["jump_index"]

    psnr = {e: held_out_psnr(r["buckets"]) for e, r in by_epoch.items()}
    if select == "psnr":
        e = max(psnr, key=psnr.get)
        return e, f"highest mean held-out PSNR ({psnr[e]:.2f} dB)"
    if select == "temporal":
        e = min(by_epoch, key=lambda k: tscore(by_epoch[k]))
        return e, f"lowest temporal error ({tscore(by_epoch[e]):.4g}: tDE_rel, or J without ground truth)"
    ok = []
    for e, r in by_epoch.items():
        t = temporal(r)
        if not t:
            continue
        j, jgt = t["jump_index"], t.get("jump_index_gt")
        limit = (1 + tolerance) * jgt if jgt is not None else threshold
        if j <= limit:
            ok.append(e)
    if ok:
        e = max(ok, key=psnr.get)
        return e, (f"highest held-out PSNR ({psnr[e]:.2f} dB) among {len(ok)}/{len(by_epoch)} epochs whose jump "
                   f"index stays within {'(1+%g)x ground truth' % tolerance if temporal(by_epoch[e]).get('jump_index_gt') is not None else 'threshold %g' % threshold}")
    e = min(by_epoch, key=lambda k: tscore(by_epoch[k]))
    return e, "no epoch within the temporal tolerance; took the temporally best"


# ---------------------------------------------------------------- image metrics


@torch.no_grad()
def evaluate_buckets(loaded: LoadedRun, max_images: int | None = 200, batch_size: int = 8, seed: int = 0,
                     progress=None, pairs: Mapping[str, np.ndarray] | None = None) -> tuple[dict, dict]:
    """Masked image metrics per bucket for the model and for the nearest-light baseline, on a
    fixed sample of at most ``max_images`` pairs per bucket (:func:`~neutex.run.evaluate.measure_pairs`).

    Args:
        pairs: ``{bucket: (N, 2) (view, light) pairs}`` to measure instead of the sample (e.g.
            the trainer's validation pairs, to compare the two); buckets it leaves out are skipped.

    Returns:
        ``(buckets, baselines)``: ``{bucket: {n, mae, mse, psnr, ssim, psnr_tonemapped, ...}}``
        and ``{"nearest_light": {bucket: {...}}}`` (see :class:`~neutex.eval.baseline.NearestLightBaseline`).
    """
    data = loaded.data
    base = NearestLightBaseline(data)
    renderer = loaded.renderer(batch_size)
    buckets, baselines = {}, {}
    for bucket in BUCKETS:
        chosen = sample_pairs(data.pairs(bucket), max_images, seed) if pairs is None else pairs.get(bucket, ())
        if len(chosen) == 0:
            continue
        m, bm = measure_pairs(renderer, data, chosen, loaded.white, base if bucket != "train" else None, progress)
        buckets[bucket] = m
        if bm is not None:
            baselines[bucket] = bm
    return buckets, {"nearest_light": baselines}


# ---------------------------------------------------------------- temporal


@torch.no_grad()
def evaluate_sequences(loaded: LoadedRun, out_dir: Path | None = None, max_frames: int | None = None,
                       batch_size: int = 8) -> dict[str, dict]:
    """Temporal metrics of the model on every ground-truth sequence (and their plots); without
    any sequence, a 120-frame circle sweep at the first seen view is measured without ground
    truth (:func:`~neutex.run.evaluate.sweep_jobs`, :func:`~neutex.run.evaluate.measure_sweep`)."""
    renderer = loaded.renderer(batch_size)
    out = {}
    for job in sweep_jobs(loaded.data, max_frames):
        r = measure_sweep(renderer, loaded.data, job)["temporal"]
        if out_dir is not None:
            plot_temporal(r, out_dir / f"temporal_{job.name}.png", title=f"{job.name} ({r['view']})")
        out[job.name] = r
    return out


def evaluate_run(run: str | Path, checkpoint: str | int = "best", select: Select | None = None,
                 max_images: int | None = 200, max_frames: int | None = None, device: str = "auto",
                 data_path: str | Path | None = None, write: bool = True, progress=None,
                 envmap_samples: int = 64) -> dict[str, Any]:
    """Evaluate one checkpoint of a run (or the one ``select`` chooses) and write eval.json.

    With environment-map ground truth in the dataset, ``environments`` scores relighting under
    each map with ``envmap_samples`` lights (:mod:`neutex.eval.environment`)."""
    selection = None
    if select is not None:
        epoch, reason = select_checkpoint(read_metrics(run), select)
        checkpoint = epoch
        selection = {"by": select, "epoch": epoch, "reason": reason}
    loaded = load_run(run, checkpoint, device, data_path)
    buckets, baselines = evaluate_buckets(loaded, max_images, progress=progress)
    temporal = evaluate_sequences(loaded, Path(run) / "plots" if write else None, max_frames)
    environments = evaluate_environments(loaded, envmap_samples) if loaded.data.environments else None
    if write:
        plot_run_curves(read_metrics(run), run)
    result = {
        "checkpoint": str(loaded.checkpoint.relative_to(loaded.run) if loaded.checkpoint.is_relative_to(loaded.run) else loaded.checkpoint),
        "epoch": loaded.epoch,
        "white_level": loaded.white,
        "selection": selection,
        "buckets": buckets,
        "baselines": baselines,
        "temporal": {k: {kk: vv for kk, vv in v.items() if kk != "curves"} for k, v in temporal.items()},
        "temporal_curves": {k: v["curves"] for k, v in temporal.items()},
    }
    if environments is not None:
        result["environments"] = environments
    if write:
        write_json_atomic(Path(run) / "eval.json", result)
    return result

