"""The GPU table (docs/bench.md): the default model's training step in fp32 and bf16 autocast
and its rendering rate, at 256² and 512², beside the device's matmul peaks measured in the same
run. Written for a GPU (`--device cuda`); `--device cpu` runs the same code here as a dry run.

    python benchmarks/gpu_bench.py --device cuda --res 256 512 --json OUT.json

Rows: ``train_step`` (``Trainer.train_step``: texture + inputs + UNet + L1 + VGG with random
weights, batch 1 and ``--batch``), ``render`` (``FrameRenderer.sweep`` of one view under
``--frames`` new lights, ``--render-batch`` frames per pass: inputs, UNet, decode; the issue's
goal is >= 300 frames/s at 512²). The data is the analytic sphere of
``write_synthetic_prepared`` (no mesh: attached shadows only, so no OpenGL is needed), which
costs the renderer what any capture of that size costs. Every timing waits for the device
(``torch.cuda.synchronize``) before it reads the clock; fp32 and bf16 take turns.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from pathlib import Path

import torch

from neutex.bench.common import bench_model, first_batches, make_trainer, result_row
from neutex.bench.timing import measure_peaks, summarize, synchronizer, time_interleaved
from neutex.data.prepared import PreparedData
from neutex.data.synthetic import write_synthetic_prepared
from neutex.device import autocast_dtype, pick_device
from neutex.jsonio import write_json_atomic
from neutex.model.flops import count_flops
from neutex.render.lights import circle_light_sources
from neutex.run.predict import FrameRenderer


def train_rows(prepared: Path, work: Path, res: int, batch: int, device: torch.device, a) -> list[dict]:
    sync = synchronizer(device)
    trainers = {p: make_trainer(prepared, work / f"run-{res}-{batch}-{p}", "neutex", p, False, a.threads, batch,
                                device.type) for p in a.precisions}
    batches = first_batches(next(iter(trainers.values())).loader)
    fns = {}
    for p, tr in trainers.items():
        it = itertools.cycle(batches)
        fns[p] = (lambda tr=tr, it=it: (tr.train_step(next(it)), sync()))
    gflop = {p: count_flops(fn) / 1e9 for p, fn in fns.items()}
    times = time_interleaved(fns, repeats=a.repeats, warmup=a.warmup)
    return [result_row("train_step", summarize(times[p]), gflop[p], per=batch, res=res, mode="neutex",
                       precision=p, batch=batch, device=device.type) for p in a.precisions]


def render_rows(prepared: Path, res: int, device: torch.device, a) -> list[dict]:
    sync = synchronizer(device)
    data = PreparedData.open(prepared)

    model_cfg = bench_model("neutex")
    model = model_cfg.setup("log").to(device).eval()
    if device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)
    src = circle_light_sources(a.frames, 3.0, 30.0, data.up)
    fns = {}
    for p in a.precisions:
        r = FrameRenderer(model, "log", device, autocast_dtype(p, device), a.render_batch, None)

        def sweep(r=r) -> None:
            with torch.inference_mode():
                for _ in r.sweep(data, 0, src):
                    pass
            sync()
        fns[p] = sweep
    times = time_interleaved(fns, repeats=max(1, a.repeats // 2), warmup=1)
    return [result_row("render", summarize(times[p]), per=a.frames, res=res, mode="neutex", precision=p,
                       frames=a.frames, batch=a.render_batch, device=device.type) for p in a.precisions]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu", "auto"])
    ap.add_argument("--res", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8], help="training batch sizes")
    ap.add_argument("--frames", type=int, default=256, help="frames per render measurement")
    ap.add_argument("--render-batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--peak-size", type=int, default=8192, help="matmul size of the peak (8192 on a GPU)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    device = pick_device(a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    machine = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               "torch": torch.__version__}
    peaks = measure_peaks((a.peak_size,), repeats=10, device=device)
    print(json.dumps({"machine": machine, "peaks": peaks}), flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="neutex-gpu-bench-") as tmp:
        for res in a.res:
            prepared = write_synthetic_prepared(Path(tmp) / f"p{res}", views=4, lights=16, res=res)
            for batch in a.batch:
                rows += train_rows(prepared, Path(tmp), res, batch, device, a)
                print(json.dumps(rows[-len(a.precisions):]), flush=True)
            rows += render_rows(prepared, res, device, a)
            print(json.dumps(rows[-len(a.precisions):]), flush=True)
    for r in rows:
        if "gflop_per_s" in r:
            peak = peaks["matmul_bf16_gflops" if r["precision"] == "bf16" else "matmul_fp32_gflops"]
            r["fraction_of_peak"] = r["gflop_per_s"] / peak
    doc = {"machine": machine, "peaks": peaks, "rows": rows, "config": vars(a) | {"json": str(a.json)}}
    if a.json:
        write_json_atomic(a.json, doc)
    for r in rows:
        extra = f"{r['fraction_of_peak'] * 100:5.1f} % of peak" if "fraction_of_peak" in r else ""
        print(f"{r['name']:>10} {r['res']:>4}² {r['precision']:>4} batch {r['batch']:>2}: {r['ms']:8.2f} ms "
              f"{r['per_s']:9.1f} /s {extra}")


if __name__ == "__main__":
    main()
