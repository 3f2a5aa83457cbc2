"""Time to quality: held-out tone-mapped PSNR against training time, per model preset.

Trains each preset on one prepared dataset with short epochs (a checkpoint every
``--pairs-per-epoch`` steps), then evaluates every epoch checkpoint on a fixed sample of each
held-out bucket beside the nearest-light baseline, and plots tone-mapped PSNR and SSIM against
the run's ``train_seconds`` (optimisation time: loading, steps and the photo fit; validation
and videos excluded). The runs are trained one after another so that each has the machine to
itself; the timings are wall-clock seconds on this machine with ``--threads`` torch threads.

    python benchmarks/time_to_quality.py PREPARED OUT [--presets neutex exp1 exp2] [--epochs 16]

Writes OUT/<preset>/ (the runs), OUT/time_to_quality.json and OUT/time_to_quality.png.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from neutex.data.splits import HELD_OUT_BUCKETS
from neutex.eval.plots import pyplot, save_figure
from neutex.eval.baseline import NearestLightBaseline
from neutex.jsonio import write_json_atomic
from neutex.run.evaluate import measure_pairs, sample_pairs
from neutex.run.load import load_run, read_metrics

def train(prepared: Path, out: Path, preset: str, epochs: int, pairs: int, threads: int, precision: str,
          device: str) -> None:
    if (out / "checkpoints" / f"epoch-{epochs:04d}.pt").is_file():
        return
    # A run stopped part-way (a closed session) continues where it stopped, bit-exact.
    resume = ["--resume"] if (out / "checkpoints" / "last.pt").is_file() else []
    cmd = [sys.executable, "-m", "neutex", "train", "--data", str(prepared), "--out", str(out),
           "--model.preset", preset, "--epochs", str(epochs), "--schedule.pairs-per-epoch", str(pairs),
           "--optim.milestones", str(max(1, int(epochs * 2 / 3))), "--threads", str(threads),
           "--precision", precision, "--device", device, "--schedule.val-images", "2", "--schedule.sweep-frames", "8",
           *resume]
    subprocess.run(cmd, check=True)

def curve(run: Path, images: int, device: str) -> list[dict]:
    seconds = {r["epoch"]: r["train_seconds"] for r in read_metrics(run) if r.get("kind") == "val"}
    rows = []
    for epoch in sorted(seconds):
        loaded = load_run(run, epoch, device)
        data = loaded.data
        row = {"epoch": epoch, "train_seconds": seconds[epoch]}
        for b in HELD_OUT_BUCKETS:
            pairs = sample_pairs(data.pairs(b), images, 0)
            if len(pairs):
                m, base = measure_pairs(loaded.renderer(8), data, pairs, loaded.white,
                                        NearestLightBaseline(data) if epoch == min(seconds) else None)
                row[b] = m
                if base is not None:
                    row[f"baseline_{b}"] = base
        rows.append(row)
    return rows

def plot(results: dict, baseline: dict, out_png: Path, where: str) -> Path:
    plt = pyplot()
    buckets = [b for b in ("novel_light", "novel_view") if b in baseline]
    fig, axes = plt.subplots(2, len(buckets), figsize=(5.5 * len(buckets), 7), squeeze=False)
    for j, b in enumerate(buckets):
        for i, (key, label) in enumerate((("psnr_tonemapped", "tone-mapped PSNR (dB)"), ("ssim", "SSIM"))):
            ax = axes[i, j]
            for k, (preset, rows) in enumerate(results.items()):
                t = [r["train_seconds"] / 60 for r in rows if b in r]
                y = [r[b][key] for r in rows if b in r]
                ax.plot(t, y, "o-", ms=3, color=f"C{k}", label=preset)
            ax.axhline(baseline[b][key], color="k", ls="--", lw=1, label="nearest-light baseline")
            ax.set_xlabel(f"training time (minutes, {where})")
            ax.set_ylabel(label)
            ax.set_title(b)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.suptitle("time to quality: held-out images against training time")
    fig.tight_layout()
    return save_figure(fig, out_png)

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("prepared", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--presets", nargs="+", default=["neutex", "exp1", "exp2"])
    ap.add_argument("--epochs", type=int, default=16)
    ap.add_argument("--pairs-per-epoch", type=int, default=150)
    ap.add_argument("--images", type=int, default=60, help="held-out images per bucket per checkpoint")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--precision", default="bf16")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    a = ap.parse_args()
    results, baseline = {}, {}
    for preset in a.presets:
        train(a.prepared, a.out / preset, preset, a.epochs, a.pairs_per_epoch, a.threads, a.precision, a.device)
    for preset in a.presets:
        rows = curve(a.out / preset, a.images, a.device)
        for r in rows:
            baseline.update({k[len("baseline_"):]: r.pop(k) for k in list(r) if k.startswith("baseline_")})
        results[preset] = rows
    passes = {}
    for preset, rows in results.items():
        passes[preset] = {}
        for b in baseline:
            beat = [r["train_seconds"] for r in rows if b in r and all(
                r[b][k] > baseline[b][k] for k in ("psnr", "psnr_tonemapped", "ssim"))]
            passes[preset][b] = min(beat) if beat else None
    doc = {"prepared": str(a.prepared), "presets": a.presets, "images_per_bucket": a.images, "threads": a.threads, "device": a.device,
           "precision": a.precision, "baseline": baseline,
           "curves": results, "first_seconds_beating_baseline_on_all_three": passes}
    write_json_atomic(a.out / "time_to_quality.json", doc)
    where = "GPU" if a.device == "cuda" else f"{a.threads} thread{'s' if a.threads > 1 else ''}"
    print(plot(results, baseline, a.out / "time_to_quality.png", where))
    print(json.dumps(passes, indent=1))

if __name__ == "__main__":
    main()
