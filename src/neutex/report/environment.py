"""The report's environment-map section: relighting under each environment map of the capture
(eval.json's ``environments``), every variant beside the weighted-captures baseline. Written
only when the capture has environment-map ground truth."""

from __future__ import annotations

import html
import math
from typing import Any


def fmt_number(v: Any, fmt: str) -> str:
    """``fmt.format(v)``, or "—" for a missing or non-finite value (every table of the report)."""
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else fmt.format(v)


def environment_html(summary: dict) -> str:
    """``<h2>`` + one table per environment map, or ``""`` when no variant has any."""
    variants = [v for v in summary.get("variants", []) if v.get("environments")]
    if not variants:
        return ""
    names: list[str] = []
    for v in variants:
        names += [n for n in v["environments"] if n not in names]
    e = html.escape
    out = ["<h2 id='environments'>Environment maps</h2>",
           "<p class='meta'>Each variant relit under the capture's HDR environment maps (the map cut into K "
           "directional lights, each rendered at the stage's reference irradiance and weighted by its energy) "
           "against Mitsuba's envmap render of the same views; the baseline sums the captured one-light images "
           "of the view under the seen lights, weighted by the map's energy around each light "
           "(docs/render.md, docs/metrics.md).</p>"]
    for n in names:
        first = next(v["environments"][n] for v in variants if n in v["environments"])
        views = ", ".join(first.get("views", []))
        held = ", ".join(first.get("held_out_views", [])) or "none"
        out.append(f"<h3>{e(n)}</h3><p class='meta'>views {e(views)} (held out: {e(held)}); "
                   f"{e(str(first.get('lights')))} {e(str(first.get('sampling')))} lights; "
                   f"white level {fmt_number(first.get('white_level'), '{:.3g}')}</p>")
        out.append("<table class='environment'><thead><tr><th class='name'>variant</th><th>PSNR tone-mapped (dB)</th>"
                   "<th>PSNR (dB)</th><th>SSIM</th></tr></thead><tbody>")
        best = max((v["environments"][n]["model"].get("psnr_tonemapped") or -1e9 for v in variants
                    if n in v["environments"]), default=None)
        for v in variants:
            r = v["environments"].get(n)
            if not r:
                continue
            m = r["model"]
            cls = " class='best'" if m.get("psnr_tonemapped") == best else ""
            out.append(f"<tr><td class='name'>{e(v['name'])}</td><td{cls}>{fmt_number(m.get('psnr_tonemapped'), '{:.2f}')}</td>"
                       f"<td>{fmt_number(m.get('psnr'), '{:.2f}')}</td><td>{fmt_number(m.get('ssim'), '{:.4f}')}</td></tr>")
        b = first.get("baseline") or {}
        out.append(f"<tr class='baseline'><td class='name'>weighted captures (no learning)</td>"
                   f"<td>{fmt_number(b.get('psnr_tonemapped'), '{:.2f}')}</td><td>{fmt_number(b.get('psnr'), '{:.2f}')}</td>"
                   f"<td>{fmt_number(b.get('ssim'), '{:.4f}')}</td></tr></tbody></table>")
    return "".join(out)
