"""The report's comparison plots (matplotlib, Agg): training loss, validation PSNR per bucket
and temporal metrics against epoch for every variant, per-bucket bars beside the baseline,
stripe energy. Each function takes plain values (lists and dicts from metrics.jsonl,
eval.json or summary.json) and writes one PNG."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

from neutex.data.splits import BUCKETS
from neutex.eval.plots import pyplot, save_figure

SHORT = {"train": "train", "novel_light": "novel light", "novel_view": "novel view", "novel_both": "novel both"}
BUCKET_TITLES = {"train": "train (seen view, seen light)", "novel_light": "novel light (seen view)",
                 "novel_view": "novel view (seen light)", "novel_both": "novel view + novel light"}


def _save(fig, out_png) -> Path:
    return save_figure(fig, out_png, dpi=100, bbox_inches="tight")


def _int_epochs(ax) -> None:
    from matplotlib.ticker import MaxNLocator  # heavy optional dependency: only when plotting

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _num(v) -> float:
    return math.nan if v is None else float(v)


def _smooth(y: list[float], k: int) -> list[float]:
    if k <= 1 or len(y) < 3:
        return y
    out = []
    for i in range(len(y)):
        w = [v for v in y[max(0, i - k + 1):i + 1] if math.isfinite(v)]
        out.append(sum(w) / len(w) if w else math.nan)
    return out


def plot_training_loss(curves: Mapping[str, Sequence[tuple[int, float]]], out_png, title: str = "training loss") -> Path:
    """Training loss against iteration, one line per variant (raw, faint; running mean, solid).

    Args:
        curves: ``{variant: [(iteration, loss), ...]}``.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for i, (name, pts) in enumerate(curves.items()):
        if not pts:
            continue
        it = [p[0] for p in pts]
        y = [_num(p[1]) for p in pts]
        ax.plot(it, y, color=f"C{i}", lw=0.6, alpha=0.3)
        ax.plot(it, _smooth(y, max(1, len(y) // 20)), color=f"C{i}", lw=1.6, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (L1 + perceptual [+ GAN])")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, out_png)


def plot_val_psnr(per_epoch: Mapping[str, Sequence[Mapping]], out_png,
                  buckets: Sequence[str] = BUCKETS) -> Path:
    """Validation PSNR per bucket against epoch: one panel per bucket, one line per variant.

    These are the trainer's per-epoch values on its fixed validation sample (a few images per
    bucket), so they show the trend; the final numbers are the evaluation's.

    Args:
        per_epoch: ``{variant: [{"epoch": e, "buckets": {bucket: {"psnr": ...}}}, ...]}``.
    """
    plt = pyplot()
    present = [b for b in buckets if any(b in r.get("buckets", {}) for rows in per_epoch.values() for r in rows)]
    n = max(1, len(present))
    cols = 2 if n > 1 else 1
    rows_n = math.ceil(n / cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(5.2 * cols, 3.0 * rows_n), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax, b in zip(axes.flat, present):
        for i, (name, rows) in enumerate(per_epoch.items()):
            ep = [r["epoch"] for r in rows if b in r.get("buckets", {})]
            y = [_num(r["buckets"][b].get("psnr")) for r in rows if b in r.get("buckets", {})]
            if ep:
                ax.plot(ep, y, "o-", ms=3, color=f"C{i}", label=name)
        ax.set_title(BUCKET_TITLES.get(b, b), fontsize=10)
        _int_epochs(ax)
        ax.set_xlabel("epoch")
        ax.set_ylabel("PSNR (dB)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("validation PSNR per bucket (the trainer's fixed sample, each epoch)")
    fig.tight_layout()
    return _save(fig, out_png)


def plot_bucket_bars(variants: Sequence[Mapping], out_png, metric: str = "psnr") -> Path:
    """Final ``metric`` per bucket: grouped bars per variant, the baseline as a black tick on
    each bar (the baseline of that variant's split).

    Args:
        variants: summary.json variant entries (``name``, ``buckets``, ``baselines``).
    """
    plt = pyplot()
    buckets = []
    for v in variants:
        buckets += [b for b in v.get("buckets", {}) if b not in buckets]
    nv = max(1, len(variants))
    fig, ax = plt.subplots(figsize=(max(6.5, 1.5 * len(buckets) * (0.6 + 0.2 * nv)), 3.6))
    width = 0.8 / nv
    for i, v in enumerate(variants):
        xs, ys, bs = [], [], []
        for j, b in enumerate(buckets):
            val = (v.get("buckets", {}).get(b) or {}).get(metric)
            if val is None:
                continue
            x = j - 0.4 + width * (i + 0.5)
            xs.append(x)
            ys.append(val)
            bs.append(((v.get("baselines", {}).get("nearest_light", {}) or {}).get(b) or {}).get(metric))
        ax.bar(xs, ys, width * 0.92, color=f"C{i}", label=v["name"])
        bx = [x for x, bv in zip(xs, bs) if bv is not None]
        by = [bv for bv in bs if bv is not None]
        ax.plot(bx, by, "_", color="k", ms=max(8, 60 * width), mew=2.5,
                label="nearest-light baseline" if i == 0 and bx else None)
    ax.set_xticks(range(len(buckets)))
    ax.set_xticklabels([SHORT.get(b, b) for b in buckets], fontsize=9)
    ax.set_ylabel(metric.replace("_", " ") + (" (dB)" if "psnr" in metric else ""))
    allv = [(v.get("buckets", {}).get(b) or {}).get(metric) for v in variants for b in buckets]
    allv += [((v.get("baselines", {}).get("nearest_light", {}) or {}).get(b) or {}).get(metric)
             for v in variants for b in buckets]
    allv = [a for a in allv if a is not None]
    if allv and "psnr" in metric:
        ax.set_ylim(max(0.0, min(allv) - 3), max(allv) + 1.5)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, ncol=1, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set_title(f"final {metric.replace('_', ' ')} per bucket (higher is better)")
    fig.tight_layout()
    return _save(fig, out_png)


def plot_temporal_epochs(per_epoch: Mapping[str, Sequence[Mapping]], out_png) -> Path:
    """The per-epoch sweep's temporal metrics for every variant: tDE_rel (when the sweep has
    ground truth) and the jump index J against epoch; J of the ground truth dashed.

    Args:
        per_epoch: ``{variant: [{"epoch": e, "temporal": {sequence: {...}}}, ...]}``.
    """
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
    gt_drawn = False
    for i, (name, rows) in enumerate(per_epoch.items()):
        ep, tde, j, jgt = [], [], [], None
        for r in rows:
            t = next(iter((r.get("temporal") or {}).values()), None)
            if not t:
                continue
            ep.append(r["epoch"])
            tde.append(_num(t.get("tde_rel")))
            j.append(_num(t.get("jump_index")))
            jgt = t.get("jump_index_gt", jgt)
        if not ep:
            continue
        if any(math.isfinite(v) for v in tde):
            ax1.plot(ep, tde, "o-", ms=3, color=f"C{i}", label=name)
        ax2.plot(ep, j, "s-", ms=3, color=f"C{i}", label=name)
        if jgt is not None and not gt_drawn:
            ax2.axhline(jgt, color="k", ls="--", lw=1, label="J of ground truth")
            gt_drawn = True
    if any(line.get_ydata().size for line in ax1.lines):
        ax1.set_yscale("log")
    ax1.set_title("tDE_rel of the per-epoch sweep (lower = steadier)", fontsize=9)
    ax2.set_title("jump index J (lower = fewer brightness jumps)", fontsize=9)
    for ax in (ax1, ax2):
        _int_epochs(ax)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, out_png)


def plot_stripes(stripes: Mapping[str, Mapping], out_png) -> Path:
    """Stripe energy of the residual (tone-mapped) on the fixed frames: one bar per variant per
    bucket, with the per-frame values as dots.

    Args:
        stripes: ``{variant: {"per_bucket": {bucket: [values...]}, "gan": bool}}``.
    """
    plt = pyplot()
    buckets = []
    for s in stripes.values():
        buckets += [b for b in s.get("per_bucket", {}) if b not in buckets]
    nv = max(1, len(stripes))
    width = 0.8 / nv
    fig, ax = plt.subplots(figsize=(max(6.0, 1.5 * len(buckets) * (0.6 + 0.25 * nv)), 3.4))
    for i, (name, s) in enumerate(stripes.items()):
        for j, b in enumerate(buckets):
            vals = [v for v in s.get("per_bucket", {}).get(b, []) if v is not None]
            if not vals:
                continue
            x = j - 0.4 + width * (i + 0.5)
            ax.bar(x, sum(vals) / len(vals), width * 0.9, color=f"C{i}",
                   label=f"{name}{' (GAN)' if s.get('gan') else ''}" if j == 0 else None)
            ax.plot([x] * len(vals), vals, "o", color="k", ms=3)
    ax.set_xticks(range(len(buckets)))
    ax.set_xticklabels([SHORT.get(b, b) for b in buckets], fontsize=9)
    ax.set_ylabel("stripe energy (0 = none, 1 = pure stripes)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7)
    ax.set_title("horizontal stripes in the residual (high vertical frequencies of its row profile)", fontsize=9)
    fig.tight_layout()
    return _save(fig, out_png)
