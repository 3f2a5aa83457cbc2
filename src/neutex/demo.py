"""``neutex demo``: the whole pipeline on the small synthetic egg, ending in a report.

Synthesise the demo scene (8 views x 96 lights at 64², with two ground-truth light sweeps),
prepare it (7/8 of the views and lights seen), train the default model and the origin's exp1
(multiply) and exp2 (concat) briefly (the ``demo`` suite at scale ``small``), evaluate them
beside the nearest-light baseline, render the report and print where it is. Under 10 minutes
on two CPU cores (docs/experiments.md has the measured times).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from neutex.experiment.command import print_results
from neutex.experiment.suite import ScaleName, suites


@dataclass
class DemoCommand:
    """Run the whole pipeline on the embedded default scene: synth (demo preset) -> prepare ->
    train the default model and the origin's exp1 / exp2 briefly -> evaluate -> render ->
    report. Under 10 minutes on a 2-core CPU; re-running skips what is done."""

    out: Path = Path("demo_out")
    """Folder for the capture, prepared data, runs, summary.json and report.html."""
    scale: ScaleName = "small"
    """tiny: a one-minute smoke run; small: the demo (under 10 minutes on 2 CPU cores)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to train and evaluate."""

    def main(self) -> None:
        from rich.console import Console

        # heavy (torch and what it drives): imported only when the command runs
        from neutex.experiment.runner import run_suite

        t0 = time.perf_counter()
        err = Console(stderr=True)
        err.print(f"[bold]neutex demo[/]: synthesise -> prepare -> train the default, exp1 & exp2 -> evaluate -> report "
                  f"into {self.out} (scale {self.scale})")
        res = run_suite(suites["demo"], self.out, None, self.scale, None, self.device, err, source="built-in:demo",
                        command=f"neutex demo --out {self.out}" + (f" --scale {self.scale}" if self.scale != "small" else ""))
        if res.interrupted:
            err.print("[yellow]demo stopped; run it again to resume[/]")
            raise SystemExit(130)
        out = Console()
        print_results(res.summary, out)
        dt = time.perf_counter() - t0
        out.print(f"demo finished in {dt / 60:.1f} min")
        out.print(f"report: {Path(res.report).resolve()}  (open it in a browser; it works offline)")
