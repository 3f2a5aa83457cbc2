"""``neutex eval RUN``: metrics per bucket beside baselines, temporal metrics, eval.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import tyro


@dataclass
class EvalCommand:
    """Evaluate a run: masked MAE/MSE/PSNR/SSIM per bucket (train sample, novel_light,
    novel_view, novel_both) beside the nearest-light baseline, and temporal metrics (tDE,
    jump index, flagged frames) on every ground-truth light sweep. Writes RUN/eval.json and
    RUN/plots/temporal_*.png."""

    run: tyro.conf.Positional[Path]
    """Run folder written by ``neutex train``."""
    checkpoint: str = "best"
    """best, last, an epoch number, or a checkpoint file."""
    select: Literal["psnr", "temporal", "combined"] | None = None
    """Choose the checkpoint from the per-epoch validation instead: psnr (held-out PSNR),
    temporal (lowest tDE_rel / jump index), combined (best PSNR among temporally clean epochs)."""
    max_images: int | None = 200
    """Images per bucket (a fixed sample); None: all."""
    max_frames: int | None = None
    """Frames per sequence at most (subsampled at one stride, so time stays uniform); None: all."""
    data: Path | None = None
    """Prepared dataset, if it moved since training."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to run the model."""
    envmap_samples: int = 64
    """Directional lights per environment map when the dataset has environment-map ground truth."""

    def main(self) -> None:

        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        # heavy (torch and what it drives): imported only when the command runs
        from neutex.eval.evaluate import evaluate_run

        res = evaluate_run(self.run, self.checkpoint, self.select, self.max_images, self.max_frames,
                           self.device, self.data, envmap_samples=self.envmap_samples)
        con = Console()
        if res["selection"]:
            con.print(f"selected epoch {res['selection']['epoch']}: {res['selection']['reason']}")
        t = Table(title=f"{escape(str(self.run))} — {escape(str(res['checkpoint']))} (epoch {res['epoch']}); "
                        "NL = nearest-light baseline")
        cols = [("psnr", "PSNR", ".2f"), ("psnr_tonemapped", "PSNR tm", ".2f"), ("ssim", "SSIM", ".4f")]
        t.add_column("bucket", no_wrap=True, min_width=11)
        for col in ("n", *(c for _, name, _ in cols for c in (name, "NL")), "MAE"):
            t.add_column(col, justify="right")
        base = res["baselines"]["nearest_light"]
        for b, m in res["buckets"].items():
            bm = base.get(b, {})
            cells = []
            for key, _, fmt in cols:
                cells += ["—" if m.get(key) is None else format(m[key], fmt),
                          "—" if bm.get(key) is None else format(bm[key], fmt)]
            t.add_row(b, str(m["n"]), *cells, "—" if m.get("mae") is None else f"{m['mae']:.4g}")
        con.print(t)
        for name, tm in res["temporal"].items():
            flagged = [f["frame"] for f in tm["flagged_frames"]]
            line = (f"{name}: tDE_rel {tm['tde_rel'] if tm['tde_rel'] is None else round(tm['tde_rel'], 4)}, "
                    f"J {tm['jump_index']:.4g} (GT {tm['jump_index_gt'] if tm['jump_index_gt'] is None else round(tm['jump_index_gt'], 4)}), "
                    f"flagged frames {flagged}")
            if tm.get("n_spurious") is not None:
                line += (f", spurious jumps {[f['frame'] for f in tm['spurious_jumps']]}, "
                         f"missed events {[f['frame'] for f in tm['missed_events']]}")
            con.print(line, markup=False)
        for name, e in (res.get("environments") or {}).items():
            m, b = e["model"], e["baseline"]
            con.print(f"environment {name} ({len(e['views'])} views, {e['lights']} lights): PSNR tm "
                      f"{m['psnr_tonemapped']:.2f} dB, SSIM {m['ssim']:.4f}; weighted captures PSNR tm "
                      f"{b['psnr_tonemapped']:.2f} dB, SSIM {b['ssim']:.4f}", markup=False)
        con.print(f"wrote {escape(str(self.run / 'eval.json'))}")
