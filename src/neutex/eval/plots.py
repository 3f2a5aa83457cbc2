"""Plots of temporal metrics (one video) and of metrics against training epochs (matplotlib, Agg)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping, Sequence

#: temporal metrics drawn by :func:`plot_epoch_curves`, in this order, when present.
TEMPORAL_KEYS = ("tde_rel", "jump_index", "peak_ratio", "patch_peak_p99")


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no display)."""
    # heavy optional dependency: imported only when a figure is drawn, after choosing Agg
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _arr(values) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def save_figure(fig, out_png, dpi: int = 110, bbox_inches: str | None = None) -> Path:
    """Write a matplotlib figure to ``out_png`` atomically (temp file + rename) and close it."""
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.png")
    fig.savefig(tmp, dpi=dpi, bbox_inches=bbox_inches)
    pyplot().close(fig)
    os.replace(tmp, out)
    return out


def _finish(fig, out_png, title: str) -> Path:
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, out_png)


def plot_temporal(result: Mapping, out_png, title: str = "") -> Path:
    """Plot one video's temporal metrics (a :func:`~neutex.eval.temporal.temporal_metrics` dict).

    Panels, against frame index (top axis: seconds): (1) log-luminance ``m_t`` of prediction and
    ground truth; (2) ``|Δm_t|`` and the detrended jump signal ``|e_t|`` with the flagging
    threshold (dashed) and the flagged frames (red lines, markers); (3) when ground truth is
    there, the per-frame tDE with its worst frame.

    Args:
        result: the dict returned by ``temporal_metrics`` (or read back from eval.json).
        out_png: output path (parent folders are created; written atomically).
        title: figure title.

    Returns:
        the written path.
    """
    plt = pyplot()
    c = result["curves"]
    fps = float(c.get("fps") or 1.0)
    m = _arr(c["m_t"])
    frames = list(range(len(m)))
    has_gt = c.get("m_t_gt") is not None
    has_tde = c.get("tde_t") is not None
    n_rows = 3 if has_tde else 2
    fig, axes = plt.subplots(n_rows, 1, figsize=(10, 2.6 * n_rows + 0.6), sharex=True, squeeze=False)
    axes = axes[:, 0]
    flagged = [f["frame"] for f in result.get("flagged_frames") or []]
    flagged_gt = [f["frame"] for f in result.get("flagged_frames_gt") or []]

    ax = axes[0]
    ax.plot(frames, m, color="C0", lw=1.3, label="prediction")
    if has_gt:
        ax.plot(frames, _arr(c["m_t_gt"]), color="k", lw=1.0, ls="--", label="ground truth")
    for k in flagged:
        ax.axvline(k, color="C3", lw=0.8, alpha=0.6)
    ax.set_ylabel("m_t = log mean luminance")
    ji = result.get("jump_index")
    jig = result.get("jump_index_gt")
    txt = f"J = {ji:.3g}" + (f"  (GT {jig:.3g})" if jig is not None else "")
    txt += f"   peak ratio = {result.get('peak_ratio', math.nan):.3g}"
    if result.get("patch_peak_p99") is not None:
        txt += f"   patch p99 = {result['patch_peak_p99']:.3g}"
    at = c.get("patch_peak_at")
    if at:
        txt += f"\nworst tile: x={at['x']} y={at['y']}, frame {at['frame']} ({at['time_s']:.2f} s), jump {c.get('patch_peak_max', math.nan):.3g}"
    ax.text(0.01, 0.95, txt, transform=ax.transAxes, va="top", fontsize=8,
            bbox=dict(boxstyle="round", fc="white", ec="0.8", alpha=0.9))
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)

    ax = axes[1]
    dm = [abs(v) for v in _arr(c["dm_t"])]
    relative = c.get("jump_t_rel") is not None  # with ground truth, the flags are relative to it
    e = [abs(v) for v in _arr(c["jump_t_rel" if relative else "jump_t"])]
    ax.plot(frames, dm, color="C0", lw=0.8, alpha=0.35, label="|Δm_t| prediction")
    if has_gt and c.get("dm_t_gt") is not None:
        ax.plot(frames, [abs(v) for v in _arr(c["dm_t_gt"])], color="k", lw=0.8, ls="--", alpha=0.35, label="|Δm_t| GT")
    ax.plot(frames, e, color="C1", lw=1.2,
            label="|e_t| jump signal relative to GT" if relative else "|e_t| jump signal (detrended)")
    thr = c.get("threshold_t_rel" if relative else "threshold_t")
    if thr is not None:
        ax.plot(frames, _arr(thr), color="C3", ls="--", lw=1.0, label="threshold on |e_t| (local)")
    for k in flagged:
        ax.axvline(k, color="C3", lw=0.8, alpha=0.6)
    if flagged:
        ax.plot(flagged, [e[k] for k in flagged], "v", color="C3", ms=7, label=f"flagged ({len(flagged)})")
    if flagged_gt:
        ax.plot(flagged_gt, [e[k] for k in flagged_gt], "o", mfc="none", color="k", ms=8, label=f"events in GT ({len(flagged_gt)})")
    missed = [f["frame"] for f in result.get("missed_events") or []]
    spurious = [f["frame"] for f in result.get("spurious_jumps") or []]
    if missed:
        ax.plot(missed, [e[k] for k in missed], "x", color="C4", ms=8, label=f"missed events ({len(missed)})")
    if spurious:
        ax.plot(spurious, [e[k] for k in spurious], "^", color="C5", ms=7, label=f"spurious jumps ({len(spurious)})")
    ax.set_ylabel("log-luminance step")
    ax.margins(y=0.15)
    ax.legend(loc="upper right", fontsize=7, ncol=2)
    ax.grid(alpha=0.3)

    if has_tde:
        ax = axes[2]
        tde = _arr(c["tde_t"])
        ax.plot(frames, tde, color="C2", lw=1.0, label="tDE_t")
        wf = result.get("worst_frame")
        if wf is not None:
            ax.plot([wf], [tde[wf]], "v", color="C3", ms=7, label=f"worst frame {wf} ({wf / fps:.2f} s)")
        ax.set_ylabel("tDE_t (linear)")
        ax.margins(y=0.15)
        rel = result.get("tde_rel")
        ax.text(0.01, 0.95, f"tDE = {result.get('tde', math.nan):.3g}   tDE_rel = {rel if rel is None else format(rel, '.3g')}",
                transform=ax.transAxes, va="top", fontsize=8, bbox=dict(boxstyle="round", fc="white", ec="0.8", alpha=0.9))
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)

    axes[-1].set_xlabel("frame (flagged frame = first frame after the jump)")
    sec = axes[0].secondary_xaxis("top", functions=(lambda f: f / fps, lambda s: s * fps))
    sec.set_xlabel("time (s)")
    return _finish(fig, out_png, title)


def plot_epoch_curves(rows: Sequence[Mapping], out_png, title: str = "") -> Path:
    """PSNR and temporal metrics against epoch on one figure (two stacked panels).

    Top: every key containing ``psnr`` (one line per bucket, e.g. ``psnr_novel_light``), dB.
    Bottom (log scale): the :data:`TEMPORAL_KEYS` present; a ``<key>_gt`` value (constant over
    epochs, e.g. ``jump_index_gt``) is drawn as a dashed reference line in the same colour.
    ``None`` values are gaps.

    Args:
        rows: one dict per epoch with ``epoch`` and the metric values.
        out_png: output path.
        title: figure title.

    Returns:
        the written path.
    """
    plt = pyplot()
    rows = sorted(rows, key=lambda r: r["epoch"])
    epochs = [r["epoch"] for r in rows]
    keys = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    psnr_keys = [k for k in keys if "psnr" in k]
    temp_keys = [k for k in TEMPORAL_KEYS if k in keys]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    for i, k in enumerate(psnr_keys):
        ax1.plot(epochs, _arr(r.get(k) for r in rows), "o-", color=f"C{i}", ms=3, label=k)
    ax1.set_ylabel("PSNR (dB)")
    ax1.grid(alpha=0.3)
    if psnr_keys:
        ax1.legend(fontsize=8, loc="lower right")
    for i, k in enumerate(temp_keys):
        vals = _arr(r.get(k) for r in rows)
        positive = [v if v > 0 else math.nan for v in vals]
        ax2.plot(epochs, positive, "s-", color=f"C{i + 4}", ms=3, label=k)
        ref = [r.get(f"{k}_gt") for r in rows if r.get(f"{k}_gt") is not None]
        if ref and float(ref[-1]) > 0:
            ax2.axhline(float(ref[-1]), color=f"C{i + 4}", ls="--", lw=0.9, label=f"{k} (GT)")
    ax2.set_yscale("log")
    ax2.set_ylabel("temporal metrics (lower = steadier)")
    ax2.set_xlabel("epoch")
    ax2.grid(alpha=0.3, which="both")
    if temp_keys:
        ax2.legend(fontsize=8, loc="best", ncol=2)
    return _finish(fig, out_png, title)


def epoch_rows(rows: list[dict]) -> list[dict]:
    """Per-epoch validation rows of metrics.jsonl flattened for plotting:
    ``{"epoch", "psnr_<bucket>", "tde_rel", "jump_index", "jump_index_gt", ...}`` (the first
    temporal sequence)."""
    out = []
    for r in rows:
        if r.get("kind") != "val":
            continue
        flat: dict = {"epoch": r["epoch"]}
        for b, m in r.get("buckets", {}).items():
            flat[f"psnr_{b}"] = m.get("psnr")
        t = next(iter((r.get("temporal") or {}).values()), None)
        if t:
            flat.update({k: v for k, v in t.items() if isinstance(v, (int, float)) or v is None})
        out.append(flat)
    return out


def plot_run_curves(rows: list[dict], run) -> Path | None:
    """``RUN/plots/epoch_curves.png``: held-out PSNR and temporal metrics against epoch, from
    the run's ``metrics.jsonl`` rows (:func:`neutex.run.read_metrics`); None without a validation row."""
    flat = epoch_rows(rows)
    if not flat:
        return None
    return plot_epoch_curves(flat, Path(run) / "plots" / "epoch_curves.png", title=Path(run).name)
