"""Evaluate a trained run: per-bucket image metrics beside baselines, temporal metrics on
every ground-truth sequence, and checkpoint selection. Writes ``RUN/eval.json``."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from neutex.errors import CheckpointError

Select = Literal["psnr", "temporal", "combined"]
HELD_OUT = ("novel_light", "novel_view", "novel_both")


@dataclass
class LoadedRun:
    """A run rebuilt from its folder alone: config, data, model with a checkpoint's weights."""

    run: Path
    cfg: Any
    extra: dict[str, Any]
    data: Any
    model: torch.nn.Module
    checkpoint: Path
    epoch: int
    white: float
    device: torch.device
    amp: torch.dtype | None = None

    @property
    def encoding(self) -> str:
        return self.cfg.data.encoding


def load_run(run: str | Path, checkpoint: str | int = "best", device: str = "auto", data_path: str | Path | None = None) -> LoadedRun:
    """Rebuild a run from ``RUN/config.json`` and one of its checkpoints.

    The EMA weights are used when the run trained with ``remedies.ema`` (they are what
    validation saw). ``data_path`` overrides the prepared dataset's location.
    """
    from neutex.config import load_config
    from neutex.data import PreparedData
    from neutex.train.checkpoint import load_checkpoint, resolve_checkpoint
    from neutex.train.config import TrainConfig
    from neutex.train.trainer import autocast_dtype, pick_device

    run = Path(run)
    cfg_path = run / "config.json"
    if not cfg_path.is_file():
        raise CheckpointError(f"{cfg_path}: not a run folder (no config.json)")
    cfg = load_config(TrainConfig, cfg_path)
    extra = json.loads(cfg_path.read_text())
    path = Path(data_path) if data_path else Path(extra.get("data", {}).get("path", cfg.data.path))
    if not path.exists():
        path = Path(cfg.data.path)
    data = PreparedData.open(path)
    dev = pick_device(device)
    ck_path = resolve_checkpoint(run, checkpoint)
    st = load_checkpoint(ck_path)
    model = cfg.model.setup(cfg.data.encoding)
    weights = st["ema"] if st.get("ema") else st["model"]
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise CheckpointError(f"{ck_path}: weights do not match the run's config ({str(exc).splitlines()[0]})") from None
    model = model.to(dev).eval()
    white = float(st.get("white", extra.get("resolved", {}).get("white_level", data.white_level)))
    return LoadedRun(run, cfg, extra, data, model, ck_path, int(st["epoch"]), white, dev,
                     autocast_dtype(cfg.precision, dev))


# ---------------------------------------------------------------- checkpoint selection


def read_metrics(run: str | Path) -> list[dict[str, Any]]:
    """The lines of ``RUN/metrics.jsonl`` (a torn last line, from an interruption, is skipped)."""
    path = Path(run) / "metrics.jsonl"
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def epoch_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-epoch validation rows of metrics.jsonl flattened for plotting:
    ``{"epoch", "psnr_<bucket>", "tde_rel", "jump_index", "jump_index_gt", ...}`` (the first
    temporal sequence)."""
    out = []
    for r in rows:
        if r.get("kind") != "val":
            continue
        flat: dict[str, Any] = {"epoch": r["epoch"]}
        for b, m in r.get("buckets", {}).items():
            flat[f"psnr_{b}"] = m.get("psnr")
        t = next(iter((r.get("temporal") or {}).values()), None)
        if t:
            flat.update({k: v for k, v in t.items() if isinstance(v, (int, float)) or v is None})
        out.append(flat)
    return out


def plot_run_curves(run: str | Path) -> Path | None:
    """``RUN/plots/epoch_curves.png``: held-out PSNR and temporal metrics against epoch."""
    from neutex.eval.plots import plot_epoch_curves

    rows = epoch_rows(read_metrics(run))
    if not rows:
        return None
    return plot_epoch_curves(rows, Path(run) / "plots" / "epoch_curves.png", title=Path(run).name)


def held_out_psnr(buckets: dict[str, dict[str, float]]) -> float:
    """Mean PSNR over the held-out buckets present (``train`` when none is)."""
    vals = [buckets[b]["psnr"] for b in HELD_OUT if b in buckets and buckets[b].get("psnr") is not None]
    if not vals and "train" in buckets:
        vals = [buckets["train"]["psnr"]]
    return float(np.mean(vals)) if vals else -math.inf


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


def _sample_pairs(pairs: np.ndarray, k: int | None, seed: int) -> np.ndarray:
    if k is None or len(pairs) <= k:
        return pairs
    rng = np.random.default_rng(seed)
    return pairs[np.sort(rng.choice(len(pairs), size=k, replace=False))]


@torch.no_grad()
def evaluate_buckets(lr: LoadedRun, max_images: int | None = 200, batch_size: int = 8, seed: int = 0,
                     progress=None) -> tuple[dict, dict]:
    """Masked image metrics per bucket for the model and for the baselines.

    Returns:
        ``(buckets, baselines)``: ``{bucket: {n, mae, mse, psnr, ssim, psnr_tonemapped, ...}}``
        and ``{"nearest_light": {bucket: {...}}}`` (see :mod:`neutex.eval.reference`).
    """
    from neutex.data import PairLoader
    from neutex.data.splits import BUCKETS
    from neutex.eval.metrics import aggregate, image_metrics
    from neutex.eval.reference import Baseline
    from neutex.render.frames import predict_linear

    data = lr.data
    base = Baseline(data)
    buckets, baselines = {}, {}
    for bucket in BUCKETS:
        pairs = _sample_pairs(data.pairs(bucket), max_images, seed)
        if len(pairs) == 0:
            continue
        rows, brows = [], []
        for batch in PairLoader(data, pairs, batch_size=batch_size, shuffle=False, seed=0, device=lr.device):
            gt = batch["target"] * batch["mask"]
            pred = predict_linear(lr.model, batch, lr.encoding, lr.amp)
            m = image_metrics(pred, gt, batch["mask"], white=lr.white)
            rows += [{k: float(v[i]) for k, v in m.items()} for i in range(pred.shape[0])]
            if bucket != "train":
                v_idx, l_idx = batch["view"].cpu().numpy(), batch["light"].cpu().numpy()
                bpred = torch.stack([base.predict(int(v), int(l)) for v, l in zip(v_idx, l_idx)]).to(gt.device)
                bm = image_metrics(bpred * batch["mask"], gt, batch["mask"], white=lr.white)
                brows += [{k: float(v[i]) for k, v in bm.items()} for i in range(pred.shape[0])]
            if progress:
                progress(pred.shape[0])
        buckets[bucket] = aggregate(rows)
        if brows:
            baselines[bucket] = aggregate(brows)
    return buckets, {"nearest_light": baselines}


# ---------------------------------------------------------------- temporal


@torch.no_grad()
def evaluate_sequences(lr: LoadedRun, out_dir: Path | None = None, max_frames: int | None = None,
                       batch_size: int = 8) -> dict[str, dict]:
    """Temporal metrics of the model on every ground-truth sequence (and plots).

    Without any sequence, a 120-frame circle sweep at the first seen view is measured
    without ground truth (jump index, peak ratio, flagged frames).
    """
    from neutex.eval.plots import plot_temporal
    from neutex.eval.temporal import closes_loop, frame_subsample, temporal_metrics
    from neutex.render.frames import render_view
    from neutex.render.lights import sweep_sources

    data = lr.data
    jobs = []
    for s in data.sequences:
        idx = frame_subsample(len(s.sources), max_frames)
        jobs.append((s.name, s.view, s.sources[idx], s.frames, idx, s.fps * len(idx) / len(s.sources)))
    if not jobs:
        view = int(data.seen_views[0]) if len(data.seen_views) else 0
        src = sweep_sources(data, 120)
        jobs.append(("circle", view, src, None, None, 24.0))
    out = {}
    for name, view, src, frames, idx, fps in jobs:
        mask = torch.from_numpy(np.array(data.mask[view], bool))
        pred = render_view(lr.model, data, view, src, lr.encoding, lr.device, batch_size, lr.amp)
        gt = None
        if frames is not None:
            gt = torch.from_numpy(np.asarray(frames[idx], np.float32)).permute(0, 3, 1, 2) * mask
        r = temporal_metrics(pred, gt, mask, fps=fps, periodic=closes_loop(src))
        r["view"] = data.view_ids[view]
        r["held_out_view"] = bool(view in set(data.held_out_views.tolist()))
        r["frames"] = int(len(src))
        if out_dir is not None:
            plot_temporal(r, out_dir / f"temporal_{name}.png", title=f"{name} ({r['view']})")
        out[name] = r
    return out


def evaluate_run(run: str | Path, checkpoint: str | int = "best", select: Select | None = None,
                 max_images: int | None = 200, max_frames: int | None = None, device: str = "auto",
                 data_path: str | Path | None = None, write: bool = True, progress=None) -> dict[str, Any]:
    """Evaluate one checkpoint of a run (or the one ``select`` chooses) and write eval.json."""
    selection = None
    if select is not None:
        epoch, reason = select_checkpoint(read_metrics(run), select)
        checkpoint = epoch
        selection = {"by": select, "epoch": epoch, "reason": reason}
    lr = load_run(run, checkpoint, device, data_path)
    buckets, baselines = evaluate_buckets(lr, max_images, progress=progress)
    temporal = evaluate_sequences(lr, Path(run) / "plots" if write else None, max_frames)
    if write:
        plot_run_curves(run)
    result = {
        "checkpoint": str(lr.checkpoint.relative_to(lr.run) if lr.checkpoint.is_relative_to(lr.run) else lr.checkpoint),
        "epoch": lr.epoch,
        "white_level": lr.white,
        "selection": selection,
        "buckets": buckets,
        "baselines": baselines,
        "temporal": {k: {kk: vv for kk, vv in v.items() if kk != "curves"} for k, v in temporal.items()},
        "temporal_curves": {k: v["curves"] for k, v in temporal.items()},
    }
    if write:
        from neutex.jsonio import write_json_atomic

        write_json_atomic(Path(run) / "eval.json", _finite(result))
    return result


def _finite(x: Any) -> Any:
    """Strict JSON: non-finite floats become null."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x

