"""The report's media: image grids of fixed frames (GT | baseline | each variant | error heat
maps), the side-by-side light-sweep videos, stripe energy on the fixed frames, and the plots.

Every variant is rebuilt from its run folder (:func:`neutex.run.load_run`) with the
checkpoint the suite evaluates. The fixed frames are the same (view, light) pairs for every
variant of a split (chosen evenly through each bucket's sorted pairs).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from neutex.capture.imageio import write_png_codes
from neutex.color import tonemap
from neutex.data.splits import BUCKETS
from neutex.errors import CheckpointError
from neutex.eval.baseline import NearestLightBaseline
from neutex.eval.metrics import image_metrics, stripe_energy
from neutex.eval.plots import plot_epoch_curves, plot_temporal
from neutex.jsonio import read_json_object
from neutex.render.video import caption, error_heatmap, hstack, to_uint8, write_video
from neutex.report.figures import (
    plot_bucket_bars,
    plot_stripes,
    plot_temporal_epochs,
    plot_training_loss,
    plot_val_psnr,
)
from neutex.run.evaluate import measure_sweep, sweep_jobs
from neutex.run.load import load_run, read_metrics

FILES = "report_files"
#: frames per sweep video at most: the same frames as ``neutex render RUN --kind sequence
#: --frames SWEEP_MAX_FRAMES`` (one stride, :func:`~neutex.run.evaluate.sweep_jobs`).
SWEEP_MAX_FRAMES = 96
#: upscale small renders to at least this many pixels per side in grids and videos.
MIN_PANEL = 128


def choose_fixed_pairs(pairs: np.ndarray, brightness: np.ndarray | None = None, k: int = 2) -> np.ndarray:
    """``k`` pairs spread evenly through ``pairs`` (deterministic; the same for every variant).

    With ``brightness`` (one value per pair, e.g. the ground truth's mean over the object), the
    darker half is left out first, so the grids show lit frames rather than back-lit ones.

    Examples:
        >>> choose_fixed_pairs(np.arange(20).reshape(10, 2), k=2).tolist()
        [[4, 5], [14, 15]]
        >>> choose_fixed_pairs(np.arange(20).reshape(10, 2), np.arange(10.0), k=2).tolist()
        [[12, 13], [16, 17]]
    """
    n = len(pairs)
    if n <= k:
        return pairs
    if brightness is not None and n >= 2 * k:
        keep = np.sort(np.argsort(-np.asarray(brightness), kind="stable")[: max(k, n // 2)])
        pairs = pairs[keep]
        n = len(pairs)
    idx = ((np.arange(k) + 0.5) * n / k).astype(int)  # the middle of k equal parts: distinct for n >= k
    return pairs[idx]


def _candidate_brightness(data, pairs: np.ndarray, limit: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``limit`` evenly spread candidate pairs and their ground-truth mean over the object."""
    if len(pairs) > limit:
        pairs = pairs[np.unique(np.round(np.linspace(0, len(pairs) - 1, limit)).astype(int))]
    vals = []
    for v, l in pairs:
        m = np.asarray(data.mask[v], bool)
        img = np.asarray(data.images[v, l], np.float32)
        vals.append(float(img[m].mean()) if m.any() else 0.0)
    return pairs, np.asarray(vals)


def _upscale(img: np.ndarray, factor: int) -> np.ndarray:
    return img if factor <= 1 else np.repeat(np.repeat(img, factor, 0), factor, 1)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def labelled_grid(cells: Sequence[Sequence[np.ndarray | None]], col_labels: Sequence[str],
                  row_labels: Sequence[str], sub_labels: Sequence[Sequence[str]] | None = None,
                  gap: int = 3) -> np.ndarray:
    """A uint8 image grid with column labels on top, row labels on the left and an optional
    small label under each cell (e.g. its PSNR). ``None`` cells stay dark grey.

    Args:
        cells: rows of ``(h, w, 3)`` uint8 panels of one size.
    """
    from PIL import Image, ImageDraw

    first = next(c for row in cells for c in row if c is not None)
    h, w = first.shape[:2]
    fs = max(11, min(16, w // 9))
    font = _font(fs)
    head = fs + 10
    sub = fs + 6 if sub_labels else 0
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    left = max(probe.textbbox((0, 0), t, font=font)[2] for t in row_labels) + 10 if row_labels else 0
    ncol = max(len(r) for r in cells)
    W = left + ncol * (w + gap)
    H = head + len(cells) * (h + sub + gap)
    im = Image.new("RGB", (W, H), (255, 255, 255))
    draw = ImageDraw.Draw(im)
    for j, lab in enumerate(col_labels):
        x0 = left + j * (w + gap)
        tw = draw.textbbox((0, 0), lab, font=font)[2]
        if tw > w:  # shrink long labels to fit the column
            while len(lab) > 3 and draw.textbbox((0, 0), lab + "…", font=font)[2] > w:
                lab = lab[:-1]
            lab += "…"
            tw = draw.textbbox((0, 0), lab, font=font)[2]
        draw.text((x0 + (w - tw) // 2, 3), lab, fill=(0, 0, 0), font=font)
    for i, row in enumerate(cells):
        y0 = head + i * (h + sub + gap)
        if row_labels:
            lines = row_labels[i].split("\n")
            for k, line in enumerate(lines):
                draw.text((4, y0 + h // 2 - (len(lines) * (fs + 2)) // 2 + k * (fs + 2)), line, fill=(0, 0, 0), font=font)
        for j, c in enumerate(row):
            x0 = left + j * (w + gap)
            if c is None:
                draw.rectangle((x0, y0, x0 + w - 1, y0 + h - 1), fill=(60, 60, 60))
            else:
                im.paste(Image.fromarray(np.ascontiguousarray(c)), (x0, y0))
            if sub_labels and sub_labels[i][j]:
                t = sub_labels[i][j]
                tw = draw.textbbox((0, 0), t, font=font)[2]
                draw.text((x0 + (w - tw) // 2, y0 + h + 2), t, fill=(40, 40, 40), font=font)
    return np.asarray(im)


def _load_variants(summary: dict, variants, device: str, log) -> dict[str, Any]:
    loaded = {}
    for rv in variants:
        loaded[rv.name] = load_run(rv.config.out, summary["checkpoint"], device)
    return loaded


def _predict_pairs(run, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pred, gt, mask) for ``pairs`` of a loaded run: ``(N, H, W, 3)`` float32 linear, ``(N, H, W)`` bool."""
    preds, gts, masks = [], [], []
    for batch, p in run.renderer(8).pairs(run.data, pairs):
        preds.append(p.permute(0, 2, 3, 1).cpu().numpy())
        gts.append((batch["target"] * batch["mask"]).permute(0, 2, 3, 1).cpu().numpy())
        masks.append(batch["mask"][:, 0].cpu().numpy() > 0)
    return np.concatenate(preds), np.concatenate(gts), np.concatenate(masks)


def _frame_metrics(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, white: float) -> tuple[float, float]:
    """(PSNR, stripe energy on tone-mapped values) of one frame."""
    p = torch.from_numpy(pred).permute(2, 0, 1)[None].float()
    g = torch.from_numpy(gt).permute(2, 0, 1)[None].float()
    m = torch.from_numpy(mask)[None, None]
    psnr = float(image_metrics(p, g, m, white=white)["psnr"][0])
    stripes = float(stripe_energy(tonemap(p, white), tonemap(g, white), m)[0])
    return psnr, stripes


def _grids(summary: dict, loaded: dict, files: Path, k: int, log) -> None:
    """Image grids per split and bucket; fills summary['fixed_frames'], ['stripes'] and the grid files."""
    groups: dict[str, list[str]] = {}
    for v in summary["variants"]:
        groups.setdefault(v["split"], []).append(v["name"])
    gans = {v["name"]: bool(v["config"].get("loss", {}).get("gan")) for v in summary["variants"]}
    fixed: dict[str, dict[str, list]] = {}
    stripes: dict[str, dict] = {name: {"per_bucket": {}, "gan": gans[name]} for name in loaded}
    grid_files: dict[str, dict[str, str]] = {}
    for split, names in groups.items():
        ref = loaded[names[0]]
        data, white = ref.data, ref.white
        base = NearestLightBaseline(data)
        fixed[split] = {}
        grid_files[split] = {}
        for bucket in BUCKETS:
            pairs = choose_fixed_pairs(*_candidate_brightness(data, data.pairs(bucket)), k=k) \
                if len(data.pairs(bucket)) else data.pairs(bucket)
            if len(pairs) == 0:
                continue
            fixed[split][bucket] = [{"view": data.view_ids[v], "light": data.light_ids[l]} for v, l in pairs]
            preds = {n: _predict_pairs(loaded[n], pairs) for n in names}
            _, gt, mask = preds[names[0]]
            h = gt.shape[1]
            f = max(1, math.ceil(MIN_PANEL / h))
            with_base = bucket != "train"
            cols = ["ground truth"] + (["nearest light"] if with_base else []) + names
            cols += [f"|err| {c}" for c in ((["nearest light"] if with_base else []) + names)]
            cells, subs, rows = [], [], []
            for i, (v, l) in enumerate(pairs):
                g, m = gt[i], mask[i]
                outs = []
                if with_base:
                    outs.append(("nearest light", base.predict(int(v), int(l)).permute(1, 2, 0).numpy() * m[..., None]))
                outs += [(n, preds[n][0][i]) for n in names]
                errs = np.concatenate([np.abs(o - g).mean(-1)[m] for _, o in outs]) if m.any() else np.zeros(1)
                vmax = float(np.percentile(errs, 99)) or 1e-6
                row = [_upscale(to_uint8(g, white), f)]
                sub = [""]
                for name, o in outs:
                    psnr, se = _frame_metrics(o, g, m, white)
                    row.append(_upscale(to_uint8(o, white), f))
                    sub.append(f"{psnr:.1f} dB")
                    if name in stripes:
                        stripes[name]["per_bucket"].setdefault(bucket, []).append(se)
                for name, o in outs:
                    row.append(_upscale(error_heatmap(o, g, m, vmax=vmax), f))
                    sub.append(f"max {vmax:.2g}" if name == outs[0][0] else "")
                cells.append(row)
                subs.append(sub)
                rows.append(f"{data.view_ids[v]}\n{data.light_ids[l]}")
            img = labelled_grid(cells, cols, rows, subs)
            rel = f"{FILES}/grid_{split}_{bucket}.png"
            write_png_codes(files / Path(rel).name, img)
            grid_files[split][bucket] = rel
        log(f"  grids for split {split}: {', '.join(grid_files[split])}")
    for name, s in stripes.items():
        vals = [x for vs in s["per_bucket"].values() for x in vs]
        s["mean"] = float(np.mean(vals)) if vals else None
    summary["fixed_frames"] = fixed
    summary["stripes"] = stripes
    summary["report"]["files"]["grids"] = grid_files


def sweep_videos(summary: dict, loaded: dict, files: Path, log, max_sequences: int = 2,
                 max_frames: int = SWEEP_MAX_FRAMES) -> None:
    """One side-by-side video per ground-truth sequence (at most ``max_sequences``): GT | each
    variant, into ``files``, recorded in ``summary["report"]["files"]["videos"]`` with each
    variant's temporal metrics. The sweeps are the ones ``neutex render --kind sequence
    --frames max_frames`` measures (:func:`~neutex.run.evaluate.sweep_jobs`: one stride, the
    same frames, the same metrics; a test pins it).

    Args:
        summary: needs ``variants`` (their ``name``) and ``report.files``.
        loaded: ``{variant name: LoadedRun}``.
    """
    names = [v["name"] for v in summary["variants"]]
    ref = loaded[names[0]]
    out = []
    for job in sweep_jobs(ref.data, max_frames, circle_frames=60)[:max_sequences]:
        mask = np.array(ref.data.mask[job.view], bool)
        h = mask.shape[0]
        f = max(1, math.ceil(MIN_PANEL / h))
        panels, held, metrics = [], [], {}
        for n in names:
            run = loaded[n]
            m = measure_sweep(run.renderer(8), run.data, job)
            if not panels and m["gt"] is not None:
                panels.append(("ground truth", to_uint8(m["gt"], ref.white)))
            panels.append((n, to_uint8(m["pred"], ref.white)))
            metrics[n] = {k: v for k, v in m["temporal"].items() if k != "curves"}
            if m["held_out_view"]:
                held.append(n)
        frames = [hstack([caption(_upscale(p[t], f), lab) for lab, p in panels]) for t in range(len(job.sources))]
        rel = f"{FILES}/sweep_{job.name}.mp4"
        write_video(frames, files / Path(rel).name, fps=min(float(job.fps), 12.0))
        poster = f"{FILES}/sweep_{job.name}_poster.png"
        write_png_codes(files / Path(poster).name, frames[len(frames) // 3])
        out.append({"name": job.name, "file": rel, "poster": poster, "view": ref.data.view_ids[job.view],
                    "frames": len(job.sources), "sequence_frames": None if job.gt_index is None else
                    [int(i) for i in job.gt_index], "ground_truth": job.sequence is not None,
                    "held_out_view_for": held, "columns": [p[0] for p in panels], "temporal": metrics})
        log(f"  sweep video {rel} ({len(job.sources)} frames, {len(panels)} panels)")
    summary["report"]["files"]["videos"] = out


def _rel(path: Path) -> str:
    """A written file's path relative to DIR (it lands in report_files/ once the folder is swapped in)."""
    return f"{FILES}/{Path(path).name}"


def _plots(summary: dict, out: Path, files: Path) -> None:
    P = summary["report"]["files"]["plots"] = {}
    loss, per_epoch = {}, {}
    for v in summary["variants"]:
        rows = read_metrics(out / v["run"])
        loss[v["name"]] = [(r["iteration"], r.get("loss")) for r in rows if r.get("kind") == "train"]
        per_epoch[v["name"]] = v["val_per_epoch"]
    P["bars_psnr"] = _rel(plot_bucket_bars(summary["variants"], files / "bars_psnr.png"))
    P["loss"] = _rel(plot_training_loss(loss, files / "training_loss.png"))
    P["val_psnr"] = _rel(plot_val_psnr(per_epoch, files / "val_psnr.png"))
    if any(r.get("temporal") for rows in per_epoch.values() for r in rows):
        P["temporal_epochs"] = _rel(plot_temporal_epochs(per_epoch, files / "temporal_epochs.png"))
    P["epoch_curves"] = {}
    P["temporal"] = {}
    for v in summary["variants"]:
        rows = []
        for r in v["val_per_epoch"]:
            row = {"epoch": r["epoch"]}
            for b, m in r["buckets"].items():
                row[f"psnr_{b}"] = m.get("psnr")
            t = next(iter(r.get("temporal", {}).values()), None) or {}
            for k in ("tde_rel", "jump_index", "peak_ratio", "patch_peak_p99", "jump_index_gt"):
                if t.get(k) is not None:
                    row[k] = t[k]
            rows.append(row)
        if rows:
            P["epoch_curves"][v["name"]] = _rel(plot_epoch_curves(
                rows, files / f"epochs_{v['name']}.png", title=f"{v['name']}: PSNR and sweep temporal metrics per epoch"
            ))
        ev = read_json_object(out / v["run"] / "eval.json", CheckpointError, default={})
        P["temporal"][v["name"]] = {}
        for seq, t in (ev.get("temporal") or {}).items():
            curves = (ev.get("temporal_curves") or {}).get(seq)
            if not curves:
                continue
            P["temporal"][v["name"]][seq] = _rel(plot_temporal(
                {**t, "curves": curves}, files / f"temporal_{v['name']}_{seq}.png",
                title=f"{v['name']}: {seq} ({t.get('view', '')}{', held-out view' if t.get('held_out_view') else ''})"
            ))
    if summary.get("stripes"):
        P["stripes"] = _rel(plot_stripes(summary["stripes"], files / "stripes.png"))


def render_report_media(out: str | Path, summary: dict, variants, device: str = "auto",
                        log: Callable[[str], Any] = print) -> dict:
    """Render everything the report shows into ``DIR/report_files/`` and record it in ``summary``
    (``fixed_frames``, ``stripes``, ``report.files``). Returns ``summary``."""
    out = Path(out)
    files = out / FILES
    tmp = out / (FILES + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    summary["report"] = {"html": "report.html", "files": {}}
    loaded = _load_variants(summary, variants, device, log)
    k = int(summary.get("suite", {}).get("definition", {}).get("frames_per_bucket", 2))
    # render into the temp folder under the final relative names, then swap it in
    _grids(summary, loaded, tmp, k, log)
    sweep_videos(summary, loaded, tmp, log)
    _plots(summary, out, tmp)
    if files.exists():
        shutil.rmtree(files)
    tmp.rename(files)
    return summary
