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

    def main(self) -> None:

        from rich.console import Console
        from rich.table import Table

        # heavy (torch and what it drives): imported only when the command runs
        from neutex.eval.evaluate import evaluate_run

        res = evaluate_run(self.run, self.checkpoint, self.select, self.max_images, self.max_frames,
                           self.device, self.data)
        con = Console()
        if res["selection"]:
            con.print(f"selected epoch {res['selection']['epoch']}: {res['selection']['reason']}")
        t = Table(title=f"{self.run} — {res['checkpoint']} (epoch {res['epoch']})")
        for col in ("bucket", "n", "PSNR", "PSNR tm", "SSIM", "MAE", "baseline PSNR"):
            t.add_column(col, justify="right")
        base = res["baselines"]["nearest_light"]
        for b, m in res["buckets"].items():
            bp = base.get(b, {}).get("psnr")
            t.add_row(b, str(m["n"]), f"{m['psnr']:.2f}", f"{m['psnr_tonemapped']:.2f}", f"{m['ssim']:.4f}",
                      f"{m['mae']:.4g}", "—" if bp is None else f"{bp:.2f}")
        con.print(t)
        for name, tm in res["temporal"].items():
            flagged = [f["frame"] for f in tm["flagged_frames"]]
            con.print(f"{name}: tDE_rel {tm['tde_rel'] if tm['tde_rel'] is None else round(tm['tde_rel'], 4)}, "
                      f"J {tm['jump_index']:.4g} (GT {tm['jump_index_gt'] if tm['jump_index_gt'] is None else round(tm['jump_index_gt'], 4)}), "
                      f"flagged frames {flagged}")
        con.print(f"wrote {self.run / 'eval.json'}")
