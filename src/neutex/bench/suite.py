"""The measurements of ``neutex bench``: matmul peaks, neutex's training step, renderer and
inference, the origin's step and inference (the side-by-side reference), and the side benches
(synth, gbuffer, loader). :func:`run_bench` runs them all in one process and returns the JSON
document described in docs/bench.md.

Everything compared with something else is timed interleaved (:func:`time_interleaved`):
fp32 and bf16 of one configuration and the origin's equivalent step take turns, so a burst of
load from another process hits all of them alike.
"""

from __future__ import annotations

import itertools
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from neutex.bench.common import bench_model, first_batches, make_trainer, result_row
from neutex.bench.config import BenchConfig
from neutex.bench.ddp import bench_ddp
from neutex.bench.origin import QUOTED_ORIGIN_MS, OriginStep
from neutex.bench.side import bench_gbuffer, bench_loader
from neutex.bench.timing import measure_peaks, summarize, synchronizer, time_interleaved
from neutex.config import config_to_dict
from neutex.data.loader import PairLoader, set_light
from neutex.data.prepared import PreparedData
from neutex.data.synthetic import write_synthetic_prepared
from neutex.device import autocast, autocast_dtype, pick_device
from neutex.errors import DependencyError, NeutexError
from neutex.gbuffer import create_context
from neutex.model.flops import count_flops
from neutex.model.pixel_geometry import compute_inputs
from neutex.render.lights import circle_light_sources
from neutex.run.load import open_shadows
from neutex.run.predict import FrameRenderer
from neutex.synth.render import bench_synth

Log = Callable[[str], None]

#: the goals the bench reports on (docs/bench.md), all stated at ``GOAL_RES``².
GOAL_RES = 256
GOALS = {"renderer_fraction_of_bf16_peak": 0.5, "inference_fps": 20.0, "train_step_speedup_vs_origin": 4.0,
         "loader_samples_per_s": 300.0, "inputs_fraction_of_step_at_most": 0.10,
         "sweep_360_frames_seconds_at_most": 60.0}


def _amp(precision: str, device: str = "cpu"):
    return autocast(torch.device(device), autocast_dtype(precision, torch.device(device)))


def _warm_and_count(fns: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Run each function once under the FLOP counter (this is the first warm-up run); GFLOP per call."""
    return {k: count_flops(fn) / 1e9 for k, fn in fns.items()}


def _timed(fns: dict[str, Callable[[], Any]], cfg: BenchConfig) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    sync = synchronizer(cfg.device)
    fns = {k: (lambda fn=fn: (fn(), sync())) for k, fn in fns.items()}  # a GPU's work, not its launch
    gflop = _warm_and_count(fns)
    times = time_interleaved(fns, repeats=cfg.repeats, warmup=cfg.warmup - 1)
    return {k: summarize(v) for k, v in times.items()}, gflop


# ----------------------------------------------------------------------------- machine


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``; else :func:`platform.processor`)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The bench-relevant ISA flags of the CPU (AVX-512, its BF16 extension, AMX)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in have]
    except OSError:
        pass
    return []


def machine_info() -> dict[str, Any]:
    return {
        "cpu": cpu_name(),
        "cpu_flags": cpu_flags(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        # OpenMP's wait policy matters a lot on a shared CPU (docs/bench.md)
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MKL_NUM_THREADS")
                if k in os.environ},
    }


# ----------------------------------------------------------------------------- neutex + origin


def bench_train_steps(res: int, data_root: Path, work: Path, cfg: BenchConfig, log: Log) -> list[dict[str, Any]]:
    """neutex's ``Trainer.train_step`` (per mode, precision, with/without GAN) and the origin's
    step, interleaved per (mode, GAN) group. Each origin row is the reference of the neutex
    rows of the same group (``speedup_vs_origin``)."""
    rows = []
    for mode, gan in itertools.product(cfg.modes, (False, True) if cfg.gan_steps else (False,)):
        log(f"train_step {res}² {mode}{' +GAN' if gan else ''}: {', '.join(cfg.precisions)}"
            + (" + origin" if cfg.origin else ""))
        trainers = {p: make_trainer(data_root, work / f"run-{res}-{mode}-{gan}-{p}", mode, p, gan, cfg.threads,
                                    device=cfg.device) for p in cfg.precisions}
        batches = first_batches(next(iter(trainers.values())).loader)
        fns: dict[str, Callable[[], Any]] = {}
        for p, tr in trainers.items():
            it = itertools.cycle(batches)
            fns[p] = (lambda tr=tr, it=it: tr.train_step(next(it)))
        origin = None
        if cfg.origin:  # the default model is compared with the origin's exp1 (multiply)
            origin = OriginStep(res, "concat" if mode == "concat" else "multiply", gan)
            fns["origin"] = (lambda o=origin, it=itertools.cycle(batches): o(next(it)))
        t, gflop = _timed(fns, cfg)
        common = {"res": res, "mode": mode}
        for p in cfg.precisions:
            row = result_row("train_step", t[p], gflop[p], **common, precision=p, perceptual="vgg", gan=gan,
                         vgg_weights="random", vgg_resolution=trainers[p].cfg.loss.vgg_resolution,
                         vgg_bf16=trainers[p].cfg.loss.vgg_bf16, feature_matching=gan or None, batch=1)
            if origin is not None:
                row["speedup_vs_origin"] = t["origin"]["ms"] / t[p]["ms"]
            rows.append(row)
        if origin is not None:
            rows.append(result_row("origin_step", t["origin"], gflop["origin"], **common, precision="fp32",
                               perceptual="vgg", gan=gan, vgg_weights="random", vgg_resolution=res,
                               feature_matching=gan or None, batch=1))
        del trainers, origin, fns
    return rows


def bench_renderer(res: int, cfg: BenchConfig, log: Log) -> list[dict[str, Any]]:
    """The UNet alone, forward + backward (input gradients too, as in training), batch 1,
    channels_last, per mode and precision (fp32/bf16 interleaved on one module)."""

    rows = []
    for mode in cfg.modes:
        log(f"renderer {res}² {mode}: {', '.join(cfg.precisions)}")
        unet = bench_model(mode).setup("log").renderer
        unet = unet.to(cfg.device, memory_format=torch.channels_last).train()
        c_in = unet.head[0].in_channels
        x = torch.randn(1, c_in, res, res, generator=torch.Generator().manual_seed(0))
        x = x.to(cfg.device).contiguous(memory_format=torch.channels_last).requires_grad_(True)

        def step(p: str) -> None:
            unet.zero_grad(set_to_none=True)
            x.grad = None
            with _amp(p, cfg.device):
                y = unet(x)
            y.mean().backward()

        t, gflop = _timed({p: (lambda p=p: step(p)) for p in cfg.precisions}, cfg)
        for p in cfg.precisions:
            rows.append(result_row("renderer", t[p], gflop[p], res=res, mode=mode, precision=p, batch=1,
                               channels_last=True))
    return rows


def bench_inference(res: int, data_root: Path, cfg: BenchConfig, log: Log) -> list[dict[str, Any]]:
    """Frames per second of the whole model (texture sampling + conditioning + UNet), forward
    only under ``inference_mode``, ``inference_batch`` frames per call, channels_last; the
    origin's model (fp32, eval mode) on the same batch, interleaved."""
    data = PreparedData.open(data_root)
    pairs = data.pairs("train")
    b = cfg.inference_batch
    loader = PairLoader(data, pairs[[k % len(pairs) for k in range(b)]], batch_size=b, shuffle=False,
                        device=cfg.device)
    batch = next(iter(loader))
    fns: dict[str, Callable[[], Any]] = {}
    for mode in cfg.modes:
        model = bench_model(mode).setup("log").to(cfg.device, memory_format=torch.channels_last).eval()
        for p in cfg.precisions:
            def fwd(model=model, p=p):
                with torch.inference_mode(), _amp(p, cfg.device):
                    return model(batch)
            fns[f"{mode}/{p}"] = fwd
    origin = None
    if cfg.origin:
        origin = OriginStep(res, "multiply", gan=False)
        fns["origin"] = lambda: origin.infer(batch)
    log(f"inference {res}² batch {b}: {', '.join(fns)}")
    t, gflop = _timed(fns, cfg)
    rows = []
    for mode in cfg.modes:
        for p in cfg.precisions:
            k = f"{mode}/{p}"
            row = result_row("inference", t[k], gflop[k], per=b, res=res, mode=mode, precision=p, batch=b,
                         channels_last=True)
            row["ms_per_frame"] = t[k]["ms"] / b
            if origin is not None:
                row["speedup_vs_origin"] = t["origin"]["ms"] / t[k]["ms"]
            rows.append(row)
    if origin is not None:
        row = result_row("origin_inference", t["origin"], gflop["origin"], per=b, res=res, mode="multiply",
                     precision="fp32", batch=b)
        row["ms_per_frame"] = t["origin"]["ms"] / b
        rows.append(row)
    return rows


def bench_inputs(res: int, data: PreparedData, shadows, cfg: BenchConfig, log: Log) -> list[dict[str, Any]]:
    """What the default model's per-pixel inputs cost per training image (B = 1): the cues
    (:func:`~neutex.model.pixel_geometry.compute_inputs`) and the cast-shadow visibility, with the
    light's shadow map cached (training: the stage's lights repeat every epoch) and with a new
    map per light (sweeps, novel lights). ``fraction_of_step``: of the default model's training
    step at the same size and precision (filled in by :func:`summarize_ratios`)."""
    names = [s.name for s in bench_model("neutex").slots()]
    batch = next(iter(PairLoader(data, data.pairs("train")[:1], batch_size=1, shuffle=False, device=cfg.device)))
    src = batch["light_source"]
    fresh = itertools.count()

    def new_light() -> torch.Tensor:  # a light no map was rendered for (a sweep's next frame)
        k = next(fresh)
        return src + torch.tensor([[1e-3 * (k % 997 + 1), 0.0, 0.0, 0.0]], device=src.device)

    def cues():
        return compute_inputs(batch, names)

    fns: dict[str, Callable[[], Any]] = {"cues": cues}
    if shadows is not None:
        shadows.visibility(batch["position"], batch["normal"], src, batch["mask"])  # the map, cached

        def cached():
            b = set_light(batch, src, None, shadows)
            return compute_inputs(b, names)

        def uncached():
            b = set_light(batch, new_light(), None, shadows)
            return compute_inputs(b, names)

        fns.update({"cues+visibility (cached map)": cached, "cues+visibility (new map)": uncached})
    log(f"inputs {res}²: {', '.join(fns)}")
    t, _ = _timed(fns, cfg)
    rows = []
    for k in fns:
        row = result_row("inputs", t[k], None, res=res, mode="neutex", what=k, batch=1,
                     shadow_map_res=shadows.resolution if shadows is not None else None)
        rows.append(row)
    return rows


def bench_sweep(res: int, data: PreparedData, shadows, cfg: BenchConfig, log: Log) -> list[dict[str, Any]]:
    """A light sweep of ``cfg.sweep_frames`` frames at one view with the default model in bf16,
    cast shadows on (a new shadow map per frame): what ``neutex render`` does, without the video
    encoder. Reports seconds for the whole sweep (``seconds``) and frames per second."""
    model = bench_model("neutex").setup("log").to(cfg.device, memory_format=torch.channels_last).eval()
    sync = synchronizer(cfg.device)
    n = cfg.sweep_frames
    src = circle_light_sources(n, 3.0, 30.0, data.up)
    rows = []
    for p in cfg.precisions:
        dev = torch.device(cfg.device)
        # 8 frames a pass on the CPU, as `neutex render` draws them; a GPU wants fuller batches
        batch = 8 if dev.type == "cpu" else cfg.inference_batch
        renderer = FrameRenderer(model, "log", dev, autocast_dtype(p, dev), batch, shadows)
        log(f"sweep {res}² x {n} frames, {p}")
        with torch.inference_mode():
            list(renderer.sweep(data, 0, src[:8]))  # warm-up
            t0 = time.perf_counter()
            frames = sum(f.shape[0] for f in renderer.sweep(data, 0, src))
            sync()
            dt = time.perf_counter() - t0
        rows.append({"name": "sweep", "res": res, "mode": "neutex", "precision": p, "frames": frames, "batch": batch,
                     "seconds": dt, "ms": dt / frames * 1e3, "per_s": frames / dt, "shadows": shadows is not None})
    return rows


# ----------------------------------------------------------------------------- side benches


def bench_side(cfg: BenchConfig, log: Log) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """synth (Mitsuba, the variant neutex picks), gbuffer (moderngl/EGL) and loader; a bench
    whose dependency is missing is skipped with its reason."""
    rows, skipped = [], []

    def run(name: str, fn: Callable[[], dict]) -> None:
        log(f"{name}")
        try:
            r = fn()
        except (NeutexError, ImportError, OSError) as exc:
            skipped.append({"name": name, "reason": f"{type(exc).__name__}: {exc}"})
            return
        r = dict(r)
        row = {"name": r.pop("name"), "res": r.pop("res"), "ms": r.pop("ms"), "per_s": r.pop("per_s"), **r}
        rows.append(row)

    def synth():
        return bench_synth(cfg.synth_res, cfg.synth_spp, cfg.synth_images, variant="auto")

    def gbuffer():
        os.environ.setdefault("EGL_PLATFORM", "surfaceless")
        return bench_gbuffer(cfg.side_res, cfg.gbuffer_frames)

    def loader():
        return bench_loader(cfg.side_res, batches=cfg.loader_batches)

    run("loader", loader)
    run("gbuffer", gbuffer)
    run("synth", synth)
    return rows, skipped


# ----------------------------------------------------------------------------- summary


def _find(rows: list[dict], **keys: Any) -> dict | None:
    for r in rows:
        if all(r.get(k) == v for k, v in keys.items()):
            return r
    return None


def summarize_ratios(rows: list[dict], peaks: dict[str, float]) -> tuple[dict, list[dict]]:
    """The headline ratios (speedups, bf16 gains, the origin reimplementation vs the quoted
    timings of the origin's own code) and the goals with their status."""
    ratios: dict[str, Any] = {"bf16_over_fp32_peak": peaks["matmul_bf16_gflops"] / peaks["matmul_fp32_gflops"]}
    for r in rows:
        if r["name"] == "train_step" and "speedup_vs_origin" in r:
            key = f"{r['res']}/{r['mode']}/{r['precision']}/{'gan' if r['gan'] else 'nogan'}"
            ratios.setdefault("train_step_speedup_vs_origin", {})[key] = r["speedup_vs_origin"]
            if r["res"] == GOAL_RES:
                quoted = QUOTED_ORIGIN_MS["full_gan_step" if r["gan"] else "generator_step"]
                ratios.setdefault("train_step_speedup_vs_quoted_origin", {})[key] = quoted / r["ms"]
        if r["name"] == "origin_step" and r["res"] == GOAL_RES:
            quoted = QUOTED_ORIGIN_MS["full_gan_step" if r["gan"] else "generator_step"]
            ratios.setdefault("origin_reimplementation_over_quoted", {})[
                f"{GOAL_RES}/{r['mode']}/{'full_gan_step' if r['gan'] else 'step_l1_vgg'}"] = r["ms"] / quoted
        if r["name"] == "origin_inference" and r["res"] == GOAL_RES:
            ratios.setdefault("origin_reimplementation_over_quoted", {})[f"{GOAL_RES}/inference_per_frame"] = (
                r["ms_per_frame"] / QUOTED_ORIGIN_MS["inference"])
        if r["name"] == "inference" and r["res"] == GOAL_RES:
            ratios.setdefault("inference_fps_vs_quoted_origin", {})[f"{r['mode']}/{r['precision']}"] = (
                r["per_s"] / (1e3 / QUOTED_ORIGIN_MS["inference"]))
    for r in rows:
        if r["name"] == "ddp_step" and r.get("processes", 1) > 1:
            ratios.setdefault("ddp_step", {})[f"{r['res']}/{r['mode']}/{r['processes']}_processes"] = {
                k: r[k] for k in ("speedup_vs_one_process", "comm_share", "exposed_comm_share")}
    for name in ("train_step", "renderer", "inference"):
        for r in rows:
            if r["name"] == name and r.get("precision") == "fp32":
                other = _find(rows, name=name, res=r["res"], mode=r["mode"], precision="bf16", gan=r.get("gan"))
                if other:
                    key = f"{r['res']}/{r['mode']}" + (f"/{'gan' if r['gan'] else 'nogan'}" if "gan" in r else "")
                    ratios.setdefault(f"{name}_bf16_speedup", {})[key] = r["ms"] / other["ms"]

    for r in rows:
        if r["name"] == "inputs":
            step = _find(rows, name="train_step", res=r["res"], mode="neutex", precision="bf16", gan=False) or \
                _find(rows, name="train_step", res=r["res"], mode="neutex", gan=False)
            if step:
                r["fraction_of_step"] = r["ms"] / step["ms"]
                ratios.setdefault("inputs_fraction_of_step", {})[f"{r['res']}/{r['what']}"] = r["fraction_of_step"]
    goals = []  # the goals are stated at 256²; rows at other resolutions are not judged
    for r in rows:
        if r.get("res") != GOAL_RES:
            continue
        if r["name"] == "renderer" and r["precision"] == "bf16":
            goals.append({"goal": "renderer_fraction_of_bf16_peak", "res": GOAL_RES, "mode": r["mode"],
                          "value": r["fraction_of_peak"], "target": GOALS["renderer_fraction_of_bf16_peak"]})
        if r["name"] == "inference":
            goals.append({"goal": "inference_fps", "res": GOAL_RES, "mode": r["mode"], "precision": r["precision"],
                          "value": r["per_s"], "target": GOALS["inference_fps"]})
        if r["name"] == "train_step" and not r["gan"] and "speedup_vs_origin" in r:
            goals.append({"goal": "train_step_speedup_vs_origin", "res": GOAL_RES, "mode": r["mode"],
                          "precision": r["precision"], "value": r["speedup_vs_origin"],
                          "target": GOALS["train_step_speedup_vs_origin"]})
        if r["name"] == "inputs" and "fraction_of_step" in r and "cached" in r["what"]:
            goals.append({"goal": "inputs_fraction_of_step_at_most", "res": GOAL_RES, "value": r["fraction_of_step"],
                          "target": GOALS["inputs_fraction_of_step_at_most"], "lower_is_better": True})
        if r["name"] == "sweep" and r["precision"] == "bf16":
            sec_360 = r["seconds"] * 360 / r["frames"]
            goals.append({"goal": "sweep_360_frames_seconds_at_most", "res": GOAL_RES, "value": sec_360,
                          "target": GOALS["sweep_360_frames_seconds_at_most"], "lower_is_better": True})
        if r["name"] == "loader":
            goals.append({"goal": "loader_samples_per_s", "res": GOAL_RES, "value": r["per_s"],
                          "target": GOALS["loader_samples_per_s"]})
    for g in goals:
        g["met"] = bool(g["value"] <= g["target"]) if g.pop("lower_is_better", False) else bool(g["value"] >= g["target"])
    return ratios, goals


def _fill_fraction_of_peak(rows: list[dict], peaks: dict[str, float]) -> None:
    for r in rows:
        if "gflop_per_s" in r and r.get("precision") in ("fp32", "bf16"):
            r["fraction_of_peak"] = r["gflop_per_s"] / peaks[f"matmul_{r['precision']}_gflops"]


def _order(row: dict) -> dict:
    """Schema keys first, in docs/bench.md's order, then the extras."""
    first = ("name", "res", "mode", "precision", "perceptual", "gan", "ms", "gflop", "fraction_of_peak", "per_s",
             "speedup_vs_origin")
    out = {k: row[k] for k in first if k in row}
    out.update({k: v for k, v in row.items() if k not in out})
    return out


def run_bench(cfg: BenchConfig, log: Log | None = None) -> dict[str, Any]:
    """Run every measurement of ``cfg`` (resolved) in this process and return the bench document:
    ``{"peaks", "results", "machine", "ratios", "goals", "skipped", "config", "wall_s"}``."""
    threads_before = torch.get_num_threads()
    try:
        return _run_bench(cfg.resolve(), log or (lambda s: None))
    finally:
        torch.set_num_threads(threads_before)  # --threads (and Trainer.setup) change a process-wide setting


def _run_bench(cfg: BenchConfig, log: Log) -> dict[str, Any]:
    t_start = time.perf_counter()
    pick_device(cfg.device)  # a clear error where --device cuda has no GPU
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    machine = machine_info()
    load, cores = machine["load_average_start"], machine["cores"] or 1
    if load and load[0] > 0.5 * cores:
        log(f"[yellow]warning:[/] load average {load[0]:.1f} on {cores} cores: other processes compete for the "
            f"CPU, so timings are inflated and noisy (ratios measured side by side suffer least)")
    log(f"peaks: fp32 and bf16 matmul {', '.join(map(str, cfg.peak_sizes))}")
    if cfg.device == "cuda":
        machine["device"] = torch.cuda.get_device_name(0)
    peak_runs = [measure_peaks(cfg.peak_sizes, device=cfg.device)]
    rows: list[dict[str, Any]] = []
    # Cast shadows need an OpenGL (EGL) context for the shadow maps. Without one (a GPU machine
    # without its GL loaders, say) the sphere is measured without a mesh: attached shadows only,
    # recorded in ``machine.shadows``, rather than no measurement at all.
    try:
        create_context().release()
        machine["shadows"] = "shadow maps (OpenGL)"
    except DependencyError as exc:
        machine["shadows"] = f"attached only, no OpenGL context: {exc}"
        log(f"[yellow]warning:[/] no OpenGL context ({exc}): the sphere has no mesh, so no shadow maps are measured")
    with_mesh = machine["shadows"].startswith("shadow maps")
    with tempfile.TemporaryDirectory(prefix="neutex-bench-") as tmp:
        work = Path(tmp)
        made: dict[int, Path] = {}

        def dataset(res: int) -> Path:
            if res not in made:
                made[res] = write_synthetic_prepared(work / f"prepared-{res}", views=4, lights=8, res=res,
                                                     mesh=with_mesh)
            return made[res]

        for res in cfg.res:
            rows += bench_train_steps(res, dataset(res), work, cfg, log)
            rows += bench_renderer(res, cfg, log)
        rows += bench_inference(cfg.inference_res, dataset(cfg.inference_res), cfg, log)
        if "neutex" in cfg.modes:
            prepared = PreparedData.open(dataset(cfg.inference_res))
            shadows = open_shadows(prepared, bench_model("neutex").needs_visibility)  # one GL context for both
            try:
                rows += bench_inputs(cfg.inference_res, prepared, shadows, cfg, log)
                rows += bench_sweep(cfg.inference_res, prepared, shadows, cfg, log)
            finally:
                if shadows is not None:
                    shadows.release()
        if cfg.ddp:
            res = min(cfg.res)
            rows += bench_ddp(res, dataset(res), work, cfg, log)
    skipped: list[dict[str, str]] = []
    if cfg.side:
        side_rows, skipped = bench_side(cfg, log)
        rows += side_rows
    log("peaks again (the best of both runs is kept)")
    peak_runs.append(measure_peaks(cfg.peak_sizes, device=cfg.device))
    peaks = {k: max(p[k] for p in peak_runs) for k in peak_runs[0]}
    _fill_fraction_of_peak(rows, peaks)
    rows = [_order(r) for r in rows]
    ratios, goals = summarize_ratios(rows, peaks)
    machine["peak_runs"] = peak_runs
    machine["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    machine["threads"] = torch.get_num_threads()
    wall = time.perf_counter() - t_start
    cfg_dict = config_to_dict(cfg)
    return {"peaks": peaks, "results": rows, "machine": machine, "ratios": ratios, "goals": goals,
            "skipped": skipped, "quoted_origin_ms": dict(QUOTED_ORIGIN_MS), "config": cfg_dict, "wall_s": wall}


def check_document(doc: dict[str, Any]) -> None:
    """Raise ``ValueError`` unless every number in the bench document is finite and every
    timing/FLOP/rate positive (used by the tests and before writing the JSON)."""

    def walk(v: Any, where: str) -> None:
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return
        if isinstance(v, (int, float)):
            if not math.isfinite(v):
                raise ValueError(f"{where}: not finite: {v}")
            return
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{where}.{k}")
        elif isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                walk(x, f"{where}[{i}]")

    walk(doc, "bench")
    for k, v in doc["peaks"].items():
        if not v > 0:
            raise ValueError(f"peaks.{k}: not positive: {v}")
    for i, r in enumerate(doc["results"]):
        for k in ("ms", "gflop", "fraction_of_peak", "per_s", "speedup_vs_origin"):
            if k in r and not r[k] > 0:
                raise ValueError(f"results[{i}] ({r['name']}).{k}: not positive: {r[k]}")


__all__ = ["GOALS", "bench_inference", "bench_inputs", "bench_renderer", "bench_side", "bench_sweep", "bench_train_steps",
           "check_document", "cpu_name", "machine_info", "run_bench", "summarize_ratios"]
