"""Run a suite: one capture, one prepared dataset per distinct split, the variants one after
another (skipping finished ones, resuming an interrupted one), an evaluation of each, then
``DIR/summary.json`` and ``DIR/report.html``.

Layout of the experiment folder ``DIR``::

    DIR/capture/               the synthesised default scene (when no --data is given)
    DIR/prepared/<split>/      one prepared dataset per distinct split (e.g. v7of8-l1of8)
    DIR/runs/<variant>/        one run folder per variant (config.json, checkpoints/, eval.json, ...)
    DIR/suite.json             the suite as resolved for this folder
    DIR/timings.json           wall times of every stage (kept across re-runs)
    DIR/summary.json           everything the report shows, as data
    DIR/report.html, DIR/report_files/
"""

from __future__ import annotations

import dataclasses
import math
import shlex
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from rich.markup import escape

from neutex.config import config_difference, config_to_dict, flatten_overrides
from neutex.data.prepare import PrepareConfig, prepare_capture
from neutex.errors import CaptureError, CheckpointError, ConfigError, DataError
from neutex.eval.evaluate import evaluate_run
from neutex.experiment.suite import (
    SCALES,
    ResolvedVariant,
    SplitSpec,
    SuiteConfig,
    resolve_variants,
    suite_to_dict,
)
from neutex.jsonio import read_json_object, write_json_atomic
from neutex.report.html import write_report_html
from neutex.report.media import render_report_media
from neutex.run.evaluate import held_out_psnr
from neutex.run.checkpoint import latest_checkpoint
from neutex.run.load import read_metrics, settings_changed
from neutex.synth.config import PRESETS, preset_config
from neutex.synth.render import synthesize
from neutex.train.config import TrainConfig
from neutex.train.trainer import Trainer

METRIC_KEYS = ("psnr", "psnr_tonemapped", "ssim", "mae", "mse")
#: for each metric: True if higher is better.
HIGHER_IS_BETTER = {"psnr": True, "psnr_tonemapped": True, "ssim": True, "ssim_tonemapped": True, "mae": False,
                    "mse": False}


class _Log:
    """Stage messages with the elapsed time since the start of the experiment."""

    def __init__(self, console) -> None:
        self.console = console
        self.t0 = time.perf_counter()

    def __call__(self, msg: str, style: str = "") -> None:
        el = time.perf_counter() - self.t0
        stamp = f"[dim]{int(el // 60):02d}:{int(el % 60):02d}[/]"
        msg = escape(msg)  # paths and names are the user's: "[...]" in them is text, not markup
        self.console.print(f"{stamp} {f'[{style}]' if style else ''}{msg}{'[/]' if style else ''}", highlight=False)


# ----------------------------------------------------------------------------- commands


def _flag_value(v: Any) -> list[str]:
    if isinstance(v, (list, tuple)):
        out: list[str] = []
        for x in v:
            out += _flag_value(x)
        return out
    return ["None" if v is None else str(v)]


def train_flags(cfg) -> list[str]:
    """``neutex train`` flags for every field of a TrainConfig that differs from the default."""
    base = flatten_overrides(config_to_dict(TrainConfig()), "defaults")
    cur = flatten_overrides(config_to_dict(cfg), "config")
    args: list[str] = []
    for k, v in cur.items():
        if k in ("out", "data.path", "resume") or base.get(k) == v or (
                isinstance(v, list) and base.get(k) == list(v)):
            continue
        head, _, leaf = k.rpartition(".")
        leaf = leaf.replace("_", "-")
        flag = f"--{head + '.' if head else ''}{leaf}"
        if isinstance(v, bool):
            args.append(flag if v else f"--{head + '.' if head else ''}no-{leaf}")
        else:
            args += [flag, *_flag_value(v)]
    return args


def _cmd(args: list[Any]) -> str:
    return " ".join(shlex.quote(str(a)) for a in args)


def synth_command(cfg, preset: str) -> str:
    """The ``neutex synth`` line for a SynthConfig made from ``preset``; fields the command has
    no flag for are listed after it."""
    flags = {"views": "--views", "lights_per_face": "--lights-per-face", "res": "--res", "spp": "--spp",
             "sweep_frames": "--sweep-frames", "sweep_cameras": "--sweep-cameras",
             "sweep_elevation_deg": "--sweep-elevation-deg", "max_depth": "--max-depth", "seed": "--seed"}
    ref = PRESETS[preset]
    args: list[Any] = ["neutex", "synth", "--preset", preset, "--out", cfg.out]
    other = []
    for f in dataclasses.fields(cfg):
        if f.name in ("out", "name", "variant"):
            continue
        v, r = getattr(cfg, f.name), getattr(ref, f.name)
        if v == r:
            continue
        if f.name in flags:
            args += [flags[f.name], v]
        else:
            other.append(f"{f.name}={v}")
    return _cmd(args) + (f"  # and {', '.join(other)}" if other else "")


# ----------------------------------------------------------------------------- data


@dataclasses.dataclass
class DataPlan:
    """Where the capture is and which prepared dataset each split uses."""

    capture: Path | None
    """capture.json's folder (None: only a prepared dataset without its capture was given)."""
    given_prepared: Path | None
    """A prepared dataset given with --data."""
    synthesised: bool
    synth_config: Any = None
    prepared: dict[str, Path] = dataclasses.field(default_factory=dict)

    def path_for(self, split: SplitSpec, out: Path) -> Path:
        if self.given_prepared is not None:
            info = read_json_object(self.given_prepared / "splits.json", DataError, default={})
            if split.matches(info):
                return self.given_prepared
        return out / "prepared" / split.name


def plan_data(out: Path, data: Path | None, suite: SuiteConfig, scale: str) -> DataPlan:
    """Work out where the data comes from (nothing is written)."""
    if data is None:
        cfg = preset_config(suite.scene, **{**SCALES[scale].scene, **suite.scene_overrides}, out=out / "capture")
        return DataPlan(out / "capture", None, True, cfg)
    data = Path(data)
    if data.is_file() and data.name == "capture.json":
        return DataPlan(data.parent, None, False)
    if (data / "capture.json").is_file():
        return DataPlan(data, None, False)
    if (data / "prepared.json").is_file():
        meta = read_json_object(data / "prepared.json", DataError)
        src = (meta.get("source") or {}).get("capture")
        cap = Path(src).parent if src and Path(src).is_file() else None
        return DataPlan(cap, data, False)
    raise DataError(f"--data {data}: neither a capture (capture.json) nor a prepared dataset (prepared.json)",
                    hint="give a capture folder, a capture.json, or a folder written by `neutex prepare`")


def _ensure_capture(plan: DataPlan, log: _Log, progress: bool) -> float:
    """Synthesise the default scene into DIR/capture unless a matching one is there. Returns seconds spent."""
    cap_json = plan.capture / "capture.json"
    want = config_to_dict(plan.synth_config)
    if cap_json.is_file():
        have = (read_json_object(cap_json, CaptureError).get("generator") or {}).get("config") or {}
        diff = config_difference(have, want, ignore=("out", "variant"))
        if not diff:
            log(f"capture: reusing {plan.capture}")
            return 0.0
        raise ConfigError(f"{plan.capture}: rendered with other settings ({'; '.join(diff[:3])})",
                          hint="use another --out (or the --scale it was made with), or delete the folder")

    c = plan.synth_config
    log(f"capture: synthesising preset {c.name!r} ({c.views} views x {c.n_lights} lights at {c.res}², "
        f"{c.n_images} renders) into {plan.capture}", "bold")
    t = time.perf_counter()
    synthesize(c, plan.capture, progress=progress)
    dt = time.perf_counter() - t
    log(f"capture: done in {dt:.0f} s")
    return dt


def _ensure_prepared(plan: DataPlan, split: SplitSpec, out: Path, log: _Log, progress: bool) -> tuple[Path, float]:
    """The prepared dataset of ``split`` (made now if needed). Returns (path, seconds spent)."""
    path = plan.path_for(split, out)
    if plan.given_prepared is not None and path == plan.given_prepared:
        return path, 0.0
    info = read_json_object(path / "splits.json", DataError, default={})
    meta = read_json_object(path / "prepared.json", DataError, default={})
    if info and meta and split.matches(info) and plan.capture is not None:
        src = (meta.get("source") or {}).get("capture")
        if src and Path(src).resolve() == (plan.capture / "capture.json").resolve():
            log(f"prepare {split.name}: reusing {path}")
            return path, 0.0
    if plan.capture is None:
        raise ConfigError(f"split {split.name} ({split.label()}): the prepared dataset given with --data has another "
                          "split and its capture is not available to prepare this one",
                          hint="pass the capture with --data instead")

    log(f"prepare {split.name}: {split.label()} -> {path}", "bold")
    t = time.perf_counter()
    prepare_capture(PrepareConfig(plan.capture, path, view_fraction=split.view_fraction,
                                  light_fraction=split.light_fraction, seed=split.seed, progress=progress),
                    log=lambda s: log(f"  {s}"))
    dt = time.perf_counter() - t
    counts = read_json_object(path / "splits.json", DataError).get("counts", {})
    log(f"prepare {split.name}: done in {dt:.0f} s ({', '.join(f'{k} {v}' for k, v in counts.items())})")
    return path, dt


# ----------------------------------------------------------------------------- variants


def variant_state(rv: ResolvedVariant) -> str:
    """``done`` (eval.json), ``resume`` (a checkpoint: last.pt, or an epoch's when the process
    was killed while writing last.pt), ``stale`` (a folder without a checkpoint: restart), or
    ``new``."""


    run = Path(rv.config.out)
    if (run / "eval.json").is_file():
        return "done"
    if latest_checkpoint(run / "checkpoints") is not None:
        return "resume"
    if run.exists() and any(run.iterdir()):
        return "stale"
    return "new"


def _check_same_experiment(rv: ResolvedVariant) -> None:
    """A run folder trained with other settings is never reused silently."""
    if not (Path(rv.config.out) / "config.json").is_file():
        return
    diff = settings_changed(rv.config.out, rv.config)
    if diff:
        raise ConfigError(f"{rv.config.out}: trained with other settings ({'; '.join(diff[:3])})",
                          hint="use another --out, or delete that run folder to train it again")


def _train_variant(rv: ResolvedVariant, state: str, console, log: _Log) -> bool:
    """Train (or resume) one variant. Returns True when it reached its last epoch."""
    cfg = rv.config
    if state == "stale":
        log(f"{rv.name}: {cfg.out} holds no checkpoint (stopped before the first); starting it again", "yellow")
        shutil.rmtree(cfg.out)
    if state == "resume":
        cfg = dataclasses.replace(cfg, resume=True)
    trainer = Trainer(cfg, console=console)
    try:
        trainer.train()
    except KeyboardInterrupt:  # Ctrl-C: the trainer wrote its checkpoint; the suite stops here (exit 130)
        return False
    return trainer.epoch >= trainer.epochs


def _evaluate_variant(rv: ResolvedVariant, suite: SuiteConfig, scale: str, device: str, console) -> dict:
    bar = None
    if console.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(TextColumn(f"eval {rv.name}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       console=console, transient=True)
    try:
        if bar:
            bar.start()
            task = bar.add_task("eval", total=None)
        return evaluate_run(rv.config.out, checkpoint=suite.checkpoint, max_images=SCALES[scale].eval_max_images,
                            device=device, progress=(lambda n: bar.update(task, advance=n)) if bar else None)
    finally:
        if bar:
            bar.stop()


# ----------------------------------------------------------------------------- summary


def _epoch_rows(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """Per-epoch validation rows (last one per epoch) and training rows from metrics.jsonl."""
    val: dict[int, dict] = {}
    train = []
    for r in rows:
        if r.get("kind") == "val":
            val[int(r["epoch"])] = r
        elif r.get("kind") == "train":
            train.append(r)
    return [val[e] for e in sorted(val)], train


def collect_variant(rv: ResolvedVariant, out: Path, timings: dict, status: str, checkpoint: str = "last") -> dict[str, Any]:
    """One variant's entry of summary.json (from its config.json, metrics.jsonl and eval.json)."""
    run = Path(rv.config.out)
    ev = read_json_object(run / "eval.json", CheckpointError, default={})
    cj = read_json_object(run / "config.json", CheckpointError, default={})
    val, _ = _epoch_rows(read_metrics(run))
    per_epoch = []
    for r in val:
        per_epoch.append({"epoch": r["epoch"], "iteration": r.get("iteration"),
                          "buckets": {b: {k: m.get(k) for k in ("psnr", "psnr_tonemapped", "ssim", "mae", "mse")}
                                      for b, m in (r.get("buckets") or {}).items()},
                          "temporal": r.get("temporal") or {}})
    t = timings.get("variants", {}).get(rv.name, {})
    return {
        "name": rv.name,
        "description": rv.description,
        "status": status,
        "run": str(run.relative_to(out)) if run.is_relative_to(out) else str(run),
        "split": rv.split.name,
        "overrides": rv.overrides,
        "config": cj.get("config", config_to_dict(rv.config)),
        "resolved": cj.get("resolved", {}),
        "data": cj.get("data", {}),
        "commands": rv_commands(rv, checkpoint),
        "checkpoint": ev.get("checkpoint"),
        "epoch": ev.get("epoch"),
        "white_level": ev.get("white_level"),
        "buckets": ev.get("buckets", {}),
        "baselines": ev.get("baselines", {}),
        "temporal": ev.get("temporal", {}),
        "environments": ev.get("environments", {}),
        "val_per_epoch": per_epoch,
        "wall_s": {"train": t.get("train_s"), "eval": t.get("eval_s"),
                   "total": (t.get("train_s") or 0) + (t.get("eval_s") or 0) if t else None},
    }


def rv_commands(rv: ResolvedVariant, checkpoint: str) -> dict[str, str]:
    """The stand-alone commands that train and evaluate one variant."""
    cfg = rv.config
    return {
        "train": _cmd(["neutex", "train", "--data", cfg.data.path, "--out", cfg.out, *train_flags(cfg)]),
        "eval": _cmd(["neutex", "eval", cfg.out, "--checkpoint", checkpoint]),
    }


def winners(variants: list[dict], judge: tuple[str, ...] = ("psnr",)) -> dict[str, Any]:
    """Who won what: per bucket the best variant by each metric (and whether it beats the
    nearest-light baseline of its split), and per sweep the steadiest variant."""
    out: dict[str, Any] = {"buckets": {}, "temporal": {}}
    buckets = []
    for v in variants:
        buckets += [b for b in v["buckets"] if b not in buckets]
    for b in buckets:
        entry = {}
        for k in METRIC_KEYS:
            cands = [(v["name"], v["buckets"][b].get(k)) for v in variants if b in v["buckets"]
                     and v["buckets"][b].get(k) is not None]
            if not cands:
                continue
            best = (max if HIGHER_IS_BETTER[k] else min)(cands, key=lambda c: c[1])
            vb = next(v for v in variants if v["name"] == best[0])
            base = (vb.get("baselines", {}).get("nearest_light", {}).get(b) or {}).get(k)
            beats = None if base is None else (best[1] > base if HIGHER_IS_BETTER[k] else best[1] < base)
            entry[k] = {"variant": best[0], "value": best[1], "baseline": base, "beats_baseline": beats}
        out["buckets"][b] = entry
    seqs = []
    for v in variants:
        seqs += [s for s in v.get("temporal", {}) if s not in seqs]
    for s in seqs:
        cands = []
        for v in variants:
            t = v.get("temporal", {}).get(s)
            if not t:
                continue
            score = t.get("tde_rel") if t.get("tde_rel") is not None else t.get("jump_index")
            if score is not None:
                cands.append((v["name"], score, t.get("jump_index"), t.get("jump_index_gt")))
        if cands:
            best = min(cands, key=lambda c: c[1])
            out["temporal"][s] = {"variant": best[0], "score": best[1],
                                  "by": "tde_rel" if any(v.get("temporal", {}).get(s, {}).get("tde_rel") is not None
                                                         for v in variants) else "jump_index",
                                  "jump_index": best[2], "jump_index_gt": best[3]}
    held = []
    for v in variants:
        score = held_out_psnr(v["buckets"])  # the rule best.pt and --select psnr use
        if math.isfinite(score):
            held.append((v["name"], score))
    if held:
        best = max(held, key=lambda c: c[1])
        out["held_out_psnr"] = {"variant": best[0], "value": best[1], "all": dict(held)}
    out["judge"] = list(judge)
    return out


# ----------------------------------------------------------------------------- the suite


@dataclasses.dataclass
class SuiteResult:
    """What :func:`run_suite` did."""

    out: Path
    summary: dict[str, Any] | None
    """summary.json's content (None when the suite stopped early)."""
    interrupted: str | None = None
    """The variant that stopped before its last epoch (re-run the same command to resume it)."""
    report: Path | None = None


def run_suite(suite: SuiteConfig, out: str | Path, data: str | Path | None = None, scale: str | None = None,
              overrides: dict[str, Any] | None = None, device: str = "auto", console=None, progress: bool = True,
              source: str = "", command: str | None = None, report: bool = True,
              on_variant_done: Callable[[str], None] | None = None) -> SuiteResult:
    """Run every variant of ``suite`` into ``out`` and write summary.json and report.html.

    Args:
        suite: the suite (a built-in from :data:`~neutex.experiment.suite.suites` or
            :func:`~neutex.experiment.suite.load_suite`).
        out: the experiment folder DIR.
        data: a capture or a prepared dataset; None synthesises the suite's scene into DIR/capture.
        scale: tiny, small or full (None: the suite's default).
        overrides: TrainConfig overrides applied to every variant, last (dotted keys).
        device: auto, cpu or cuda (training and evaluation).
        console: a rich Console for progress (default: stderr).
        progress: progress bars for synthesis and preparation.
        source: where the suite came from (recorded).
        command: the command line that made this (recorded; default: rebuilt from the arguments).
        report: write report.html (and its media) after the summary.

    Returns:
        a :class:`SuiteResult`; ``interrupted`` names the variant that stopped early (Ctrl-C or
        ``schedule.stop_after``), in which case nothing after it ran and re-running resumes it.
    """
    from rich.console import Console

    console = console or Console(stderr=True)
    log = _Log(console)
    out = Path(out)
    scale = scale or suite.default_scale
    if scale not in SCALES:
        raise ConfigError(f"--scale: {scale!r} is not one of {', '.join(SCALES)}")
    if command is None:
        command = _cmd(["neutex", "experiment", source.removeprefix("built-in:") or suite.name, "--out", out,
                        *(["--data", data] if data else []), "--scale", scale])
    plan = plan_data(out, Path(data) if data else None, suite, scale)
    variants = resolve_variants(suite, out, scale, overrides, prepared_for=lambda s: plan.path_for(s, out))
    for rv in variants:
        if variant_state(rv) in ("done", "resume"):
            _check_same_experiment(rv)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "suite.json", {"suite": suite_to_dict(suite), "source": source, "scale": scale,
                                     "overrides": overrides or {}, "command": command})
    timings = read_json_object(out / "timings.json", hint="delete it (it holds wall times only)", default={})
    timings.setdefault("variants", {})
    timings.setdefault("prepare_s", {})
    t_start = time.perf_counter()
    splits = list(dict.fromkeys(rv.split for rv in variants))
    log(f"experiment {suite.name!r} at scale {scale}: {len(variants)} variants "
        f"({', '.join(rv.name for rv in variants)}), {len(splits)} split(s) -> {out}", "bold")

    # -- data: one capture, one prepared dataset per distinct split
    if plan.synthesised:
        dt = _ensure_capture(plan, log, progress)
        if dt:
            timings["synth_s"] = dt
    prepared_info = {}
    for s in splits:
        path, dt = _ensure_prepared(plan, s, out, log, progress)
        if dt:
            timings["prepare_s"][s.name] = dt
        info = read_json_object(path / "splits.json", DataError)
        prepared_info[s.name] = {"path": str(path), "label": s.label(), **dataclasses.asdict(s),
                                 "counts": info.get("counts", {}),
                                 "command": _cmd(["neutex", "prepare", plan.capture or "CAPTURE", "--out", path,
                                                  "--view-fraction", s.view_fraction,
                                                  "--light-fraction", s.light_fraction, "--seed", s.seed])
                                 if path != plan.given_prepared else "(given with --data)"}
        write_json_atomic(out / "timings.json", timings)

    # -- variants, one after another
    statuses = {}
    for i, rv in enumerate(variants, 1):
        state = variant_state(rv)
        head = f"[{i}/{len(variants)}] {rv.name}"
        if state == "done":
            log(f"{head}: finished earlier (eval.json present); skipping")
            statuses[rv.name] = "skipped"
            continue
        t = timings["variants"].setdefault(rv.name, {})
        log(f"{head}: {'resuming' if state == 'resume' else 'training'} -> {rv.config.out}  "
            f"({rv.description or 'no description'}; split {rv.split.name})", "bold")
        t0 = time.perf_counter()
        finished = _train_variant(rv, state, console, log)
        t["train_s"] = (t.get("train_s") or 0.0) + time.perf_counter() - t0
        write_json_atomic(out / "timings.json", timings)
        if not finished:
            log(f"{head}: stopped before its last epoch; re-run the same command to resume it", "yellow")
            return SuiteResult(out, None, interrupted=rv.name)
        log(f"{head}: evaluating ({suite.checkpoint} checkpoint)")
        t0 = time.perf_counter()
        ev = _evaluate_variant(rv, suite, scale, device, console)
        t["eval_s"] = time.perf_counter() - t0
        write_json_atomic(out / "timings.json", timings)
        desc = "  ".join(f"{b} {m['psnr']:.2f} dB" for b, m in ev["buckets"].items() if m.get("psnr") is not None)
        log(f"{head}: done in {t['train_s'] + t['eval_s']:.0f} s: {desc}")
        statuses[rv.name] = "trained"
        if on_variant_done:
            on_variant_done(rv.name)

    # -- summary and report
    summary: dict[str, Any] = {
        "format": "neutex-experiment/1",
        "suite": {"name": suite.name, "description": suite.description, "source": source,
                  "definition": suite_to_dict(suite)},
        "scale": scale,
        "scale_description": SCALES[scale].description,
        "command": command,
        "overrides": overrides or {},
        "checkpoint": suite.checkpoint,
        "data": {"capture": str(plan.capture) if plan.capture else None, "synthesised": plan.synthesised,
                 "synth_command": synth_command(plan.synth_config, suite.scene) if plan.synthesised else None,
                 "given_prepared": str(plan.given_prepared) if plan.given_prepared else None,
                 "splits": prepared_info},
        "variants": [collect_variant(rv, out, timings, statuses.get(rv.name, "skipped"), suite.checkpoint)
                     for rv in variants],
    }
    for v in summary["variants"]:
        v["commands"]["prepare"] = prepared_info[v["split"]]["command"]
    summary["winners"] = winners(summary["variants"], suite.judge)
    rep = None
    if report:
        log("report: rendering fixed frames, sweep videos and plots", "bold")
        t0 = time.perf_counter()
        render_report_media(out, summary, variants, device=device, log=log)
        timings["report_s"] = time.perf_counter() - t0
    timings["last_run_s"] = time.perf_counter() - t_start
    write_json_atomic(out / "timings.json", timings)
    summary["wall_s"] = {"synth": timings.get("synth_s"), "prepare": timings.get("prepare_s"),
                         "report": timings.get("report_s"), "this_run": timings["last_run_s"],
                         "variants": {k: v for k, v in timings["variants"].items()}}
    write_json_atomic(out / "summary.json", summary)
    if report:
        rep = write_report_html(out, summary)
        log(f"report: {rep} ({timings['report_s']:.0f} s)")
    return SuiteResult(out, summary, None, rep)
