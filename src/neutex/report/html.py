"""The experiment report: one static HTML page (``DIR/report.html``) beside its media
(``DIR/report_files/``), written from summary.json's content. No scripts, no external CSS or
fonts: it opens offline from the file system."""

from __future__ import annotations

import datetime
import html
import json
from pathlib import Path
from typing import Any

from neutex.data.splits import BUCKETS, HELD_OUT_BUCKETS
from neutex.report.environment import environment_html, fmt_number as _fmt
from neutex.report.figures import BUCKET_TITLES

METRICS = (("psnr", "PSNR (dB)", True, "{:.2f}"), ("psnr_tonemapped", "PSNR tone-mapped (dB)", True, "{:.2f}"),
           ("ssim", "SSIM", True, "{:.4f}"), ("mae", "MAE", False, "{:.4g}"), ("mse", "MSE", False, "{:.3g}"))

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1180px;
       padding: 16px 24px 60px; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.1em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { margin-bottom: 0.3em; } .meta { color: #666; font-size: 0.9em; }
.summary { background: #f3f7ff; border: 1px solid #c9d8f5; border-radius: 8px; padding: 8px 18px; }
.summary li { margin: 3px 0; }
table { border-collapse: collapse; margin: 6px 0 14px; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 3px 9px; text-align: right; } th { background: #f5f5f5; }
td.name, th.name { text-align: left; } tr.baseline td { color: #555; font-style: italic; background: #fafafa; }
td.best { font-weight: bold; background: #e4f5e4; } .star { color: #1a7f1a; }
img.plot { max-width: 100%; border: 1px solid #eee; } img.grid { max-width: 100%; image-rendering: pixelated; }
.pair { display: flex; flex-wrap: wrap; gap: 10px; } .pair figure { margin: 0; flex: 1 1 47%; min-width: 380px; }
.pair img { width: 100%; border: 1px solid #eee; } figcaption { font-size: 0.85em; color: #555; }
pre { background: #f7f7f7; padding: 8px; overflow-x: auto; font-size: 0.82em; white-space: pre-wrap; word-break: break-all; }
video { max-width: 100%; background: #000; image-rendering: pixelated; }
details summary { cursor: pointer; color: #2456a6; } .good { color: #1a7f1a; } .bad { color: #b3261e; }
code { background: #f3f3f3; padding: 0 3px; border-radius: 3px; }
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)



def _baseline(v: dict, bucket: str) -> dict | None:
    return ((v.get("baselines") or {}).get("nearest_light") or {}).get(bucket)


def _buckets(summary: dict) -> list[str]:
    out: list[str] = []
    for b in BUCKETS:
        if any(b in v.get("buckets", {}) for v in summary["variants"]):
            out.append(b)
    return out


def _splits(summary: dict) -> list[str]:
    return list(dict.fromkeys(v["split"] for v in summary["variants"]))


def _split_label(summary: dict, split: str) -> str:
    return (summary.get("data", {}).get("splits", {}).get(split) or {}).get("label", split)


def bucket_rows(summary: dict, bucket: str) -> list[dict]:
    """Rows of one bucket's table: every variant with that bucket, and the nearest-light
    baseline of each split (held-out buckets only), grouped by split."""
    rows = []
    for s in _splits(summary):
        vs = [v for v in summary["variants"] if v["split"] == s and bucket in v.get("buckets", {})]
        for v in vs:
            rows.append({"name": v["name"], "split": s, "metrics": v["buckets"][bucket], "baseline": False})
        base = next((_baseline(v, bucket) for v in vs if _baseline(v, bucket)), None)
        if base:
            rows.append({"name": "nearest-light baseline", "split": s, "metrics": base, "baseline": True})
    return rows


def _metrics_table(summary: dict, bucket: str) -> str:
    rows = bucket_rows(summary, bucket)
    multi = len(_splits(summary)) > 1
    best: dict[tuple[str, str], float] = {}
    for key, _, higher, _f in METRICS:
        for s in _splits(summary):
            vals = [r["metrics"].get(key) for r in rows if r["split"] == s and r["metrics"].get(key) is not None]
            if vals:
                best[(s, key)] = max(vals) if higher else min(vals)
    head = "<tr><th class='name'>variant</th>" + ("<th class='name'>split</th>" if multi else "") + "<th>n</th>"
    head += "".join(f"<th>{_e(label)} {'↑' if higher else '↓'}</th>" for _, label, higher, _f in METRICS) + "</tr>"
    body = []
    for r in rows:
        cells = [f"<td class='name'>{_e(r['name'])}</td>"]
        if multi:
            cells.append(f"<td class='name'>{_e(_split_label(summary, r['split']))}</td>")
        cells.append(f"<td>{_e(r['metrics'].get('n', '—'))}</td>")
        for key, _, _h, fmt in METRICS:
            v = r["metrics"].get(key)
            is_best = v is not None and best.get((r["split"], key)) == v and len([x for x in rows if x["split"] == r["split"]]) > 1
            cells.append(f"<td class='{'best' if is_best else ''}'>{_fmt(v, fmt)}{' <span class=star>★</span>' if is_best else ''}</td>")
        body.append(f"<tr class='{'baseline' if r['baseline'] else 'variant'}'>{''.join(cells)}</tr>")
    return (f"<table class='metrics' data-bucket='{_e(bucket)}' data-rows='{len(rows)}'>"
            f"<thead>{head}</thead><tbody>{''.join(body)}</tbody></table>")


#: the metrics on which a learned model must beat the nearest photograph.
VERDICT_METRICS = (("psnr", "PSNR"), ("psnr_tonemapped", "tone-mapped PSNR"), ("ssim", "SSIM"))


def verdict_lines(summary: dict) -> list[str]:
    """One line per variant: does it beat the nearest-light baseline in every held-out bucket
    on linear PSNR, tone-mapped PSNR and SSIM (the bar a relighting model has to clear)?"""
    out = []
    for v in summary["variants"]:
        losses, n = [], 0
        for b in HELD_OUT_BUCKETS:
            m, base = (v.get("buckets") or {}).get(b), _baseline(v, b)
            if not m or not base:
                continue
            n += 1
            for key, label in VERDICT_METRICS:
                if m.get(key) is not None and base.get(key) is not None and not m[key] > base[key]:
                    losses.append(f"{label} on {BUCKET_TITLES.get(b, b).lower()} ({m[key]:.3g} vs {base[key]:.3g})")
        if not n:
            continue
        if losses:
            out.append(f"<b>{_e(v['name'])}</b>: <span class='bad'>does not beat the nearest photograph</span> on "
                       f"{_e('; '.join(losses))}.")
        else:
            out.append(f"<b>{_e(v['name'])}</b>: <span class='good'>beats the nearest-light baseline in every held-out "
                       f"bucket on PSNR, tone-mapped PSNR and SSIM</span> ✓")
    return out


def summary_lines(summary: dict) -> list[str]:
    """The report's top box, one HTML line per finding: who won what."""
    w = summary.get("winners") or {}
    lines = []
    n = len(summary["variants"])
    judge = w.get("judge", ["psnr"])
    t_lines = []
    for seq, t in (w.get("temporal") or {}).items():
        others = []
        for v in summary["variants"]:
            tv = (v.get("temporal") or {}).get(seq) or {}
            sc = tv.get(t["by"])
            if v["name"] != t["variant"] and sc is not None:
                others.append(f"{_e(v['name'])} {sc:.3g}")
        view = next(((v.get("temporal") or {}).get(seq, {}).get("view") for v in summary["variants"]), "")
        gt = f"; J {t['jump_index']:.3g} vs ground truth {t['jump_index_gt']:.3g}" if t.get("jump_index") is not None and t.get("jump_index_gt") is not None else ""
        t_lines.append(f"Steadiest light sweep <code>{_e(seq)}</code> (view {_e(view)}): <b>{_e(t['variant'])}</b> "
                       f"({_e(t['by'])} {t['score']:.3g}{', vs ' + ', '.join(others) if others else ''}{gt}).")
    p_lines = []
    h = w.get("held_out_psnr")
    if h and n > 1:
        others = ", ".join(f"{_e(k)} {v:.2f}" for k, v in h["all"].items() if k != h["variant"])
        p_lines.append(f"Best on held-out data (mean PSNR over novel light / view / both): <b>{_e(h['variant'])}</b> "
                       f"{h['value']:.2f} dB ({others}).")
    for b, entry in (w.get("buckets") or {}).items():
        e = entry.get("psnr")
        if not e:
            continue
        if e.get("baseline") is not None:
            d = e["value"] - e["baseline"]
            cmp = (f"<span class='good'>beats the nearest-light baseline ({e['baseline']:.2f} dB) by {d:.2f} dB</span>"
                   if d > 0 else f"<span class='bad'>below the nearest-light baseline ({e['baseline']:.2f} dB) by {-d:.2f} dB</span>")
        else:
            cmp = "seen views and lights: no baseline"
        who = f"<b>{_e(e['variant'])}</b> " if n > 1 else ""
        tm = entry.get("psnr_tonemapped")
        tm_txt = ""
        if tm and tm.get("baseline") is not None:
            ok = tm["beats_baseline"]
            tm_txt = (f"; tone-mapped best {_e(tm['variant']) + ' ' if n > 1 else ''}{tm['value']:.2f} dB vs baseline "
                      f"{tm['baseline']:.2f} <span class='{'good' if ok else 'bad'}'>{'✓' if ok else '✗'}</span>")
        p_lines.append(f"{_e(BUCKET_TITLES.get(b, b))}: {who}{e['value']:.2f} dB; {cmp}{tm_txt}.")
    lines += (t_lines + p_lines) if judge and judge[0] == "temporal" else (p_lines + t_lines)
    lines += verdict_lines(summary)
    st = summary.get("stripes") or {}
    if any(s.get("gan") for s in st.values()):
        parts = ", ".join(f"{_e(k)}{' (GAN)' if s.get('gan') else ''} {s['mean']:.3f}" for k, s in st.items()
                          if s.get("mean") is not None)
        lines.append(f"Stripe energy of the residual on the fixed frames (lower = fewer horizontal stripes): {parts}.")
    return lines


def _winners_table(summary: dict) -> str:
    """Best variant per bucket and metric; ✓ / ✗: whether it beats the nearest-light baseline."""
    w = (summary.get("winners") or {}).get("buckets") or {}
    if not w:
        return ""
    head = "<tr><th class='name'>best variant</th>" + "".join(f"<th>{_e(label)}</th>" for _, label, _h, _f in METRICS) + "</tr>"
    rows = []
    for b, entry in w.items():
        cells = [f"<td class='name'>{_e(BUCKET_TITLES.get(b, b))}</td>"]
        for key, _, _h, fmt in METRICS:
            e = entry.get(key)
            if not e:
                cells.append("<td>—</td>")
                continue
            mark = "" if e.get("beats_baseline") is None else (
                " <span class='good' title='beats the nearest-light baseline'>✓</span>" if e["beats_baseline"]
                else " <span class='bad' title='does not beat the nearest-light baseline'>✗</span>")
            cells.append(f"<td>{_e(e['variant'])} {_fmt(e['value'], fmt)}{mark}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<table class='winners' data-rows='{len(rows)}'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
            "<p class='meta'>✓ / ✗: beats / does not beat the nearest-light baseline of its split.</p>")


def _img(src: str, alt: str, cls: str = "plot") -> str:
    return f"<img class='{cls}' src='{_e(src)}' alt='{_e(alt)}'>"


def _figure(src: str, caption: str) -> str:
    return f"<figure>{_img(src, caption)}<figcaption>{_e(caption)}</figcaption></figure>"


def render_html(summary: dict) -> str:
    """The whole page as a string."""
    files = (summary.get("report") or {}).get("files") or {}
    plots = files.get("plots") or {}
    suite = summary["suite"]
    out: list[str] = []
    a = out.append
    a("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>")
    a(f"<title>neutex experiment: {_e(suite['name'])}</title><style>{CSS}</style></head><body>")
    a(f"<h1>Experiment <code>{_e(suite['name'])}</code></h1>")
    if suite.get("description"):
        a(f"<p>{_e(suite['description'])}</p>")
    d = summary.get("data", {})
    splits = _splits(summary)
    a("<p class='meta'>"
      f"scale <b>{_e(summary['scale'])}</b> ({_e(summary.get('scale_description', ''))}); "
      f"data: {_e(d.get('given_prepared') or d.get('capture'))}{' (synthesised)' if d.get('synthesised') else ''}; "
      f"split{'s' if len(splits) > 1 else ''}: {_e(', '.join(_split_label(summary, s) for s in splits))}; "
      f"evaluated checkpoint: <b>{_e(summary.get('checkpoint'))}</b>; "
      f"written {_e(datetime.datetime.now().isoformat(timespec='minutes'))}.</p>")

    a("<h2 id='summary'>Summary</h2><div class='summary'><ul>")
    for line in summary_lines(summary):
        a(f"<li>{line}</li>")
    a("</ul>")
    a(_winners_table(summary))
    a("</div>")
    a("<p class='meta'>Variants: " + "; ".join(
        f"<b>{_e(v['name'])}</b> — {_e(v.get('description') or '')} "
        f"({_e(v.get('resolved', {}).get('epochs', '?'))} epochs × {_e(v.get('resolved', {}).get('iterations_per_epoch', '?'))} "
        f"iterations, perceptual {_e(v.get('resolved', {}).get('perceptual', '?'))})"
        for v in summary["variants"]) + "</p>")

    a("<h2 id='metrics'>Metrics per bucket</h2>")
    a("<p class='meta'>Masked metrics on linear HDR values (PSNR, SSIM, MAE, MSE) and on tone-mapped values, "
      "averaged over the evaluated images of each bucket. ★ marks the best value of each column "
      f"{'within a split ' if len(splits) > 1 else ''}(baseline included). The nearest-light baseline relights the "
      "same view's nearest seen light (for held-out views: reprojected from the nearest seen view). Linear PSNR "
      "uses one white level, so specular highlights dominate it; tone-mapped PSNR and SSIM weigh the whole "
      "object more evenly.</p>")
    for b in _buckets(summary):
        a(f"<h3>{_e(BUCKET_TITLES.get(b, b))}</h3>")
        a(_metrics_table(summary, b))
    if plots.get("bars_psnr"):
        a(_img(plots["bars_psnr"], "final PSNR per bucket"))

    grids = files.get("grids") or {}
    if grids:
        a("<h2 id='images'>Images</h2>")
        a("<p class='meta'>Fixed frames (the same (view, light) pairs for every variant of a split): ground truth, "
          "the nearest-light baseline, each variant, then the absolute error of each (magma; one scale per row, "
          "its maximum printed under the first map). The number under each render is that frame's PSNR.</p>")
        for s, per in grids.items():
            if len(grids) > 1:
                a(f"<h3>split {_e(_split_label(summary, s))}</h3>")
            for b, src in per.items():
                a(f"<h4>{_e(BUCKET_TITLES.get(b, b))}</h4>")
                a(_img(src, f"{s} {b} grid", "grid"))

    vids = files.get("videos") or []
    if vids:
        a("<h2 id='videos'>Light sweeps</h2>")
        for vd in vids:
            held = vd.get("held_out_view_for") or []
            note = (f"view {vd['view']} is held out for {', '.join(held)}" if held else f"view {vd['view']} is seen in training")
            a(f"<h3><code>{_e(vd['name'])}</code></h3>")
            poster = f" poster='{_e(vd['poster'])}'" if vd.get("poster") else ""
            a(f"<video controls loop muted playsinline preload='metadata'{poster} src='{_e(vd['file'])}'></video>")
            a(f"<p class='meta'>{_e(' | '.join(vd.get('columns', [])))} — {vd['frames']} frames; {_e(note)}.</p>")

    a("<h2 id='training'>Training</h2><div class='pair'>")
    if plots.get("loss"):
        a(_figure(plots["loss"], "training loss against iteration (running mean; raw values faint)"))
    if plots.get("val_psnr"):
        a(_figure(plots["val_psnr"], "validation PSNR per bucket against epoch (the trainer's small fixed sample: "
                                     "the trend; the tables above have the final evaluation)"))
    a("</div>")

    a("<h2 id='temporal'>Temporal stability</h2>")
    a("<p class='meta'>With ground truth, <b>flagged frames</b> are jumps of the prediction relative to the ground "
      "truth (its own events cancel); <b>spurious jumps</b> are jumps the prediction has and the ground truth does "
      "not (within ±1 frame), <b>missed events</b> the ground truth's jumps (a cast shadow's edge, a glint) the "
      "prediction smooths away (docs/metrics.md).</p>")
    a("<p class='meta'>tDE_rel: the temporal-difference error of the sweep relative to the ground truth's own "
      "frame-to-frame change; J: jump index of the log-luminance (brightness jumps; the ground truth's J is the "
      "floor). Flagged frames are frames after a jump above the threshold. See docs/metrics.md.</p>")
    a(_temporal_table(summary))
    if plots.get("temporal_epochs"):
        a(_img(plots["temporal_epochs"], "temporal metrics against epoch"))
    figs = []
    for v in summary["variants"]:
        if (plots.get("epoch_curves") or {}).get(v["name"]):
            figs.append(_figure(plots["epoch_curves"][v["name"]], f"{v['name']}: held-out PSNR and the per-epoch "
                                                                  "sweep's temporal metrics against epoch"))
        for seq, src in ((plots.get("temporal") or {}).get(v["name"]) or {}).items():
            figs.append(_figure(src, f"{v['name']}: {seq} after training — luminance, jump signal and flagged frames"))
    if figs and len(summary["variants"]) <= 2:
        a("<div class='pair'>" + "".join(figs) + "</div>")
    elif figs:
        a(f"<details><summary>per-variant temporal plots ({len(figs)} figures: PSNR and temporal metrics per epoch; "
          "luminance, jump signal and flagged frames of each sweep)</summary><div class='pair'>" + "".join(figs)
          + "</div></details>")

    a(environment_html(summary))
    st = summary.get("stripes") or {}
    if any(s.get("gan") for s in st.values()):
        a("<h2 id='stripes'>Stripes (GAN vs no GAN)</h2>")
        a("<p class='meta'>The origin saw horizontal stripes in videos without the GAN. Stripe energy = the share "
          "of the residual row profile's energy at periods of 4 px or less (tone-mapped, on the fixed frames; "
          "0 none, 1 pure stripes, about 0.5 for white noise).</p>")
        a("<table class='stripes'><thead><tr><th class='name'>variant</th><th>GAN</th><th>stripe energy (mean)</th>"
          "</tr></thead><tbody>")
        for k, s in st.items():
            a(f"<tr><td class='name'>{_e(k)}</td><td>{'yes' if s.get('gan') else 'no'}</td>"
              f"<td>{_fmt(s.get('mean'), '{:.3f}')}</td></tr>")
        a("</tbody></table>")
        if plots.get("stripes"):
            a(_img(plots["stripes"], "stripe energy per bucket"))

    a("<h2 id='configs'>Configs and commands</h2>")
    a(f"<p>This report: <code>{_e(summary.get('command', ''))}</code></p>")
    cmds = []
    if d.get("synth_command"):
        cmds.append(d["synth_command"])
    for s, info in (d.get("splits") or {}).items():
        cmds.append(info.get("command", ""))
    if cmds:
        a("<p class='meta'>Data:</p><pre>" + _e("\n".join(cmds)) + "</pre>")
    for v in summary["variants"]:
        c = v.get("commands", {})
        desc = f"{_e(v['description'])}; " if v.get("description") else ""
        a(f"<h3>{_e(v['name'])}</h3><p class='meta'>{desc}run folder "
          f"<code>{_e(v['run'])}</code>; overrides: <code>{_e(json.dumps(v.get('overrides', {})))}</code></p>")
        a("<pre>" + _e("\n".join(x for x in (c.get("train"), c.get("eval")) if x)) + "</pre>")
        a(f"<details><summary>resolved config of {_e(v['name'])}</summary><pre>"
          f"{_e(json.dumps({'config': v.get('config'), 'resolved': v.get('resolved'), 'data': v.get('data')}, indent=1))}"
          "</pre></details>")
    a("<details><summary>the suite definition</summary><pre>" + _e(json.dumps(suite.get("definition"), indent=1))
      + "</pre></details>")

    a("<h2 id='times'>Wall times</h2>")
    a(_times_table(summary))
    a("</body></html>")
    return "\n".join(out)


def _temporal_table(summary: dict) -> str:
    seqs: list[str] = []
    for v in summary["variants"]:
        seqs += [s for s in (v.get("temporal") or {}) if s not in seqs]
    if not seqs:
        return "<p class='meta'>No light sweep was evaluated.</p>"
    head = ("<tr><th class='name'>sweep</th><th class='name'>variant</th><th>tDE</th><th>tDE_rel ↓</th><th>J ↓</th>"
            "<th>J of GT</th><th>peak ratio</th><th class='name'>flagged frames</th>"
            "<th class='name'>spurious jumps ↓</th><th class='name'>missed events ↓</th></tr>")
    rows = []
    for s in seqs:
        cands = [(v["name"], (v.get("temporal") or {}).get(s)) for v in summary["variants"] if (v.get("temporal") or {}).get(s)]
        best_rel = min((t.get("tde_rel") for _, t in cands if t.get("tde_rel") is not None), default=None)
        best_j = min((t.get("jump_index") for _, t in cands if t.get("jump_index") is not None), default=None)
        for name, t in cands:
            flagged = [f.get("frame") for f in t.get("flagged_frames") or []]
            br = len(cands) > 1 and t.get("tde_rel") is not None and t.get("tde_rel") == best_rel
            bj = len(cands) > 1 and t.get("jump_index") is not None and t.get("jump_index") == best_j
            view = f"{s} ({t.get('view', '')}{', held out' if t.get('held_out_view') else ''})"
            rows.append(
                f"<tr><td class='name'>{_e(view)}</td><td class='name'>{_e(name)}</td>"
                f"<td>{_fmt(t.get('tde'), '{:.4g}')}</td>"
                f"<td class='{'best' if br else ''}'>{_fmt(t.get('tde_rel'), '{:.3f}')}{' ★' if br else ''}</td>"
                f"<td class='{'best' if bj else ''}'>{_fmt(t.get('jump_index'), '{:.3f}')}{' ★' if bj else ''}</td>"
                f"<td>{_fmt(t.get('jump_index_gt'), '{:.3f}')}</td><td>{_fmt(t.get('peak_ratio'), '{:.3g}')}</td>"
                f"<td class='name'>{_e(', '.join(map(str, flagged)) or 'none')}</td>"
                f"<td class='name'>{_events(t.get('spurious_jumps'))}</td>"
                f"<td class='name'>{_events(t.get('missed_events'))}</td></tr>")
    return (f"<table class='temporal' data-rows='{len(rows)}'><thead>{head}</thead><tbody>{''.join(rows)}"
            "</tbody></table>")


def _events(events: list | None) -> str:
    """``n: frames`` of a spurious-jump / missed-event list; ``—`` without ground truth."""
    if events is None:
        return "—"
    frames = [str(e.get("frame")) for e in events]
    return _e(f"{len(frames)}: {', '.join(frames)}" if frames else "0")


def _times_table(summary: dict) -> str:
    w = summary.get("wall_s") or {}
    rows = []
    if w.get("synth"):
        rows.append(("synthesise the capture", w["synth"]))
    for s, t in (w.get("prepare") or {}).items():
        rows.append((f"prepare {s}", t))
    for name, t in (w.get("variants") or {}).items():
        if t.get("train_s") is not None:
            rows.append((f"train {name}", t["train_s"]))
        if t.get("eval_s") is not None:
            rows.append((f"evaluate {name}", t["eval_s"]))
    if w.get("report"):
        rows.append(("report media", w["report"]))
    body = "".join(f"<tr><td class='name'>{_e(k)}</td><td>{v:.0f} s</td></tr>" for k, v in rows)
    tail = f"<p class='meta'>This invocation took {w['this_run']:.0f} s (finished variants are skipped on re-runs).</p>" \
        if w.get("this_run") is not None else ""
    return f"<table class='times'><tbody>{body}</tbody></table>{tail}"


def write_report_html(out: str | Path, summary: dict) -> Path:
    """Write ``DIR/report.html`` (atomically) from a summary whose media are in ``DIR/report_files``."""
    out = Path(out)
    path = out / "report.html"
    tmp = out / "report.html.tmp"
    tmp.write_text(render_html(summary), encoding="utf-8")
    tmp.replace(path)
    return path
