"""``neutex experiment SUITE --out DIR``: run a suite's variants, evaluate them, write
DIR/summary.json and DIR/report.html."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Optional

import tyro

from neutex.data.splits import BUCKETS
from neutex.errors import ConfigError
from neutex.experiment.suite import ScaleName, load_suite


def parse_sets(items: tuple[str, ...] | list[str]) -> dict:
    """``["model.unet_width=16", "loss.gan=true"]`` -> ``{"model.unet_width": 16, "loss.gan": True}``
    (values are parsed as YAML scalars/lists)."""
    import yaml

    out = {}
    for s in items:
        key, eq, value = s.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--set {s!r}: expected KEY=VALUE (e.g. --set schedule.epochs=4)")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"--set {s!r}: cannot parse the value") from None
    return out


def print_results(summary: dict, console) -> None:
    """A compact table of PSNR per bucket: each variant beside the nearest-light baseline."""
    from rich.table import Table

    variants = summary["variants"]
    splits = list(dict.fromkeys(v["split"] for v in variants))
    t = Table(title=f"{summary['suite']['name']} ({summary['scale']}): PSNR dB / SSIM per bucket "
                    f"({summary.get('checkpoint')} checkpoint)")
    t.add_column("bucket")
    for v in variants:
        t.add_column(v["name"], justify="right")
    for s in splits:
        t.add_column("nearest light" + (f" {s}" if len(splits) > 1 else ""), justify="right")
    buckets = [b for b in BUCKETS if any(b in v["buckets"] for v in variants)]
    for b in buckets:
        row = [b]
        best = max((v["buckets"].get(b, {}).get("psnr") or -1e9) for v in variants)
        for v in variants:
            m = v["buckets"].get(b)
            if not m or m.get("psnr") is None:
                row.append("—")
                continue
            cell = f"{m['psnr']:.2f} / {m.get('ssim') or float('nan'):.3f}"
            row.append(f"[bold]{cell}[/]" if m["psnr"] == best and len(variants) > 1 else cell)
        for s in splits:
            base = next((((v.get("baselines") or {}).get("nearest_light") or {}).get(b) for v in variants
                         if v["split"] == s), None)
            row.append("—" if not base else f"{base['psnr']:.2f} / {base.get('ssim') or float('nan'):.3f}")
        t.add_row(*row)
    console.print(t)


@dataclass
class ExperimentCommand:
    """Run an experiment suite: every variant trained one after another on one capture (one
    prepared dataset per distinct split), each evaluated; then DIR/summary.json and a static
    DIR/report.html (tables per bucket beside the nearest-light baseline, image grids, a
    side-by-side sweep video, training and temporal curves, configs and commands).

    Built-in suites: demo (the default model vs the origin's exp1 and exp2, brief), cues (from the
    origin's models to the default one change at a time: diffuse cue, specular cues, shadows,
    photo texture, residual), origin (exp1 multiply vs exp2 concat at 7/8 views x 1/8 lights, GAN
    vs no GAN, 7/8 x 7/8), generalisation (view/light fractions), remedies (EMA, light smoothness). Re-running skips finished variants and resumes an
    interrupted one. Without --data the suite's default scene (the demo preset) is synthesised
    into DIR/capture."""

    suite: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="SUITE")]
    """A built-in suite (demo, cues, origin, generalisation, remedies) or a suite YAML file (docs/experiments.md)."""
    out: Path
    """Experiment folder: capture/, prepared/<split>/, runs/<variant>/, summary.json, report.html."""
    data: Optional[Path] = None
    """A capture (folder or capture.json) or a prepared dataset; default: synthesise the suite's scene."""
    scale: Optional[ScaleName] = None
    """Sizes and durations: tiny (smoke test), small (a few CPU minutes per variant), full (project
    defaults). Default: the suite's (small for the built-ins)."""
    set: Annotated[tuple[str, ...], tyro.conf.arg(metavar="KEY=VALUE")] = ()
    """TrainConfig overrides for every variant, applied last (e.g. --set schedule.epochs=4 loss.gan=true)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to train and evaluate."""
    report: bool = True
    """Write report.html (with its frames, videos and plots) at the end."""
    progress: bool = True
    """Progress bars for synthesis and preparation."""

    def main(self) -> None:
        from rich.console import Console
        from rich.markup import escape

        # heavy (torch and what it drives): imported only when the command runs
        from neutex.experiment.runner import run_suite

        suite, source = load_suite(self.suite)
        console = Console(stderr=True)
        res = run_suite(suite, self.out, self.data, self.scale, parse_sets(self.set), self.device, console,
                        progress=self.progress, source=source, report=self.report,
                        command=" ".join(shlex.quote(a) for a in ["neutex", "experiment", *sys.argv[2:]])
                        if len(sys.argv) > 2 and sys.argv[1] == "experiment" else None)
        if res.interrupted:
            console.print(f"[yellow]stopped in variant {res.interrupted}; run the same command again to resume[/]")
            raise SystemExit(130)
        out = Console()
        print_results(res.summary, out)
        out.print(f"summary: {escape(str(res.out / 'summary.json'))}")
        if res.report:
            out.print(f"report:  {escape(str(res.report))}")
