"""The training loop: neural texture + renderer, validation, probes, sweeps, checkpoints.

One :class:`Trainer` per run folder. Tensors stay on the device end to end; the loader
gathers batches from G-buffers held as tensors. A run can be interrupted at any point (Ctrl-C
or ``schedule.stop_after``) and resumed bit-for-bit: the checkpoint holds the optimizer,
scheduler, every RNG and the loader position (epoch, batch).
"""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neutex import __version__
from neutex.color import encode_target
from neutex.config import config_to_dict, save_config
from neutex.errors import ConfigError, TrainingError
from neutex.train.checkpoint import (
    epoch_checkpoint_name,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from neutex.train.config import TrainConfig

#: held-out buckets whose mean PSNR picks the ``best`` checkpoint (``train`` is the fallback).
HELD_OUT = ("novel_light", "novel_view", "novel_both")


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: cuda requested but no CUDA device is available", hint="use --device cpu")
    return torch.device(name)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for a precision setting: bf16 on CPU, fp16 AMP on CUDA, None for fp32."""
    if precision == "fp32":
        return None
    return torch.bfloat16 if device.type == "cpu" else torch.float16


def auto_epochs(n_pairs: int, batch_size: int, target_iterations: int) -> int:
    """Epochs that give about ``target_iterations`` steps, clamped to [2, 60] (origin: 60)."""
    per_epoch = max(1, math.ceil(n_pairs / batch_size))
    return int(min(60, max(2, round(target_iterations / per_epoch))))


class Trainer:
    """Trains one run. ``Trainer(cfg).train()`` returns the run folder."""

    def __init__(self, cfg: TrainConfig, console=None) -> None:
        from rich.console import Console

        self.cfg = cfg
        self.console = console or Console(stderr=True)
        self.run = Path(cfg.out)
        self.device = pick_device(cfg.device)
        self.amp = autocast_dtype(cfg.precision, self.device)

    # ------------------------------------------------------------------ setup

    def setup(self) -> None:
        from neutex.data import PairLoader, PreparedData

        cfg = self.cfg
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        ckpt_last = self.run / "checkpoints" / "last.pt"
        if self.run.exists() and any(self.run.iterdir()) and not cfg.resume:
            raise ConfigError(f"{self.run}: run folder exists and is not empty",
                              hint="pass --resume to continue it, or choose another --out")
        if cfg.resume and not ckpt_last.is_file():
            raise ConfigError(f"{ckpt_last}: nothing to resume (no last checkpoint)",
                              hint="drop --resume to start a new run")
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)

        self.data = PreparedData.open(cfg.data.path)
        self.train_pairs = self.data.pairs("train")
        if len(self.train_pairs) == 0:
            raise ConfigError(f"{cfg.data.path}: the split leaves no seen (view, light) pair to train on")
        self.loader = PairLoader(self.data, self.train_pairs, batch_size=cfg.schedule.batch_size, shuffle=True,
                                 seed=cfg.seed, device=self.device, max_pairs=cfg.schedule.pairs_per_epoch)
        self.iters_per_epoch = len(self.loader)
        self.epochs = cfg.schedule.epochs or auto_epochs(min(len(self.train_pairs), cfg.schedule.pairs_per_epoch or 10**12),
                                                         cfg.schedule.batch_size, cfg.schedule.target_iterations)
        self.encoding = cfg.data.encoding

        self.model = cfg.model.setup(self.encoding).to(self.device)
        if self.device.type == "cpu":
            self.model = self.model.to(memory_format=torch.channels_last)
        self.loss = cfg.loss.setup(self.device, self.encoding)
        # fused: one kernel for all parameters (63 -> 11 ms per step at 256² on CPU, docs/bench.md)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.optim.lr, betas=cfg.optim.betas, fused=True)
        self.sched = torch.optim.lr_scheduler.MultiStepLR(self.opt, milestones=list(cfg.optim.milestones),
                                                          gamma=cfg.optim.gamma)
        self.disc = self.disc_opt = None
        if cfg.loss.gan:
            self.disc = cfg.disc.setup().to(self.device)
            self.disc_opt = torch.optim.Adam(self.disc.parameters(), lr=cfg.optim.disc_lr, betas=(0.5, 0.999))
        self.ema = None
        if cfg.remedies.ema > 0:
            self.ema = copy.deepcopy(self.model).requires_grad_(False)

        self.white = self.data.white_level
        self.val_pairs = self._validation_pairs()
        self.probe_pair = self._probe_pair()
        self.sweep = self._sweep_spec()
        self.epoch, self.batch_in_epoch, self.step = 0, 0, 0
        self.best = -math.inf
        if cfg.resume:
            self._restore(load_checkpoint(ckpt_last))
        else:
            self.run.mkdir(parents=True, exist_ok=True)
        self._write_config()

    def _validation_pairs(self) -> dict[str, np.ndarray]:
        """A fixed sample of each bucket, so epochs are compared on the same images."""
        from neutex.data.splits import BUCKETS

        out = {}
        rng = np.random.default_rng(self.cfg.seed + 1)
        for b in BUCKETS:
            pairs = self.data.pairs(b)
            if len(pairs) == 0:
                continue
            k = min(self.cfg.schedule.val_images, len(pairs))
            out[b] = pairs[np.sort(rng.choice(len(pairs), size=k, replace=False))]
        return out

    def _probe_pair(self) -> np.ndarray:
        for b in ("novel_light", "train"):
            if b in self.val_pairs:
                return self.val_pairs[b][0]
        return self.train_pairs[0]

    def _sweep_spec(self) -> dict[str, Any]:
        """The per-epoch sweep: the first ground-truth sequence at a seen view, else any
        sequence, else a synthetic circle at the first seen view (no ground truth)."""
        from neutex.eval.temporal import closes_loop, frame_subsample
        from neutex.render.lights import sweep_sources

        n = self.cfg.schedule.sweep_frames
        seqs = list(self.data.sequences)
        seen_views = set(int(v) for v in self.data.seen_views)
        seqs.sort(key=lambda s: s.view not in seen_views)
        if seqs:
            s = seqs[0]
            idx = frame_subsample(len(s.sources), n)
            return {"name": s.name, "view": s.view, "sources": s.sources[idx], "gt_index": idx, "sequence": s,
                    "fps": s.fps * len(idx) / len(s.sources), "periodic": closes_loop(s.sources[idx])}
        view = min(seen_views) if seen_views else 0
        src = sweep_sources(self.data, n)
        return {"name": "circle", "view": view, "sources": src, "gt_index": None, "sequence": None, "fps": 24.0,
                "periodic": closes_loop(src)}

    def _write_config(self) -> None:
        extra = {
            "neutex_version": __version__,
            "data": {"path": str(Path(self.cfg.data.path).resolve()), "hash": self.data.content_hash},
            "resolved": {"epochs": self.epochs, "iterations_per_epoch": self.iters_per_epoch,
                         "perceptual": getattr(self.loss, "resolved", self.cfg.loss.perceptual),
                         "white_level": self.white, "device": str(self.device)},
        }
        save_config(self.cfg, self.run / "config.json", extra)

    # ------------------------------------------------------------------ state

    def _state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "disc": self.disc.state_dict() if self.disc else None,
            "disc_optimizer": self.disc_opt.state_dict() if self.disc_opt else None,
            "ema": self.ema.state_dict() if self.ema else None,
            "rng": rng_state(),
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "step": self.step,
            "best": self.best,
            "white": self.white,
            "config": json.dumps(config_to_dict(self.cfg)),
            "neutex_version": __version__,
        }

    def _restore(self, st: dict[str, Any]) -> None:
        self.model.load_state_dict(st["model"])
        self.opt.load_state_dict(st["optimizer"])
        self.sched.load_state_dict(st["scheduler"])
        if self.disc and st.get("disc"):
            self.disc.load_state_dict(st["disc"])
            self.disc_opt.load_state_dict(st["disc_optimizer"])
        if self.ema and st.get("ema"):
            self.ema.load_state_dict(st["ema"])
        set_rng_state(st["rng"])
        self.epoch, self.batch_in_epoch, self.step = int(st["epoch"]), int(st["batch_in_epoch"]), int(st["step"])
        self.best = float(st["best"])
        self.console.print(f"resuming {self.run} at epoch {self.epoch + 1}, batch {self.batch_in_epoch}, step {self.step}")

    def _save(self, name: str) -> Path:
        return save_checkpoint(self._state(), self.run / "checkpoints" / name)

    # ------------------------------------------------------------------ steps

    def _eval_model(self) -> torch.nn.Module:
        return self.ema if self.ema is not None else self.model

    def _forward(self, batch: dict) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
            return self.model(batch).float()

    def _augment(self, batch: dict) -> dict:
        """Light-direction jitter (a remedy): recompute light_dir from a perturbed source."""
        jit = self.cfg.remedies.light_jitter_deg
        if jit <= 0:
            return batch
        from neutex.geometry import directions_to
        from neutex.render.lights import jitter_sources

        src = jitter_sources(batch["light_source"], jit)
        batch = dict(batch)
        batch["light_dir"], batch["light_dist"] = directions_to(batch["position"], src)
        return batch

    def _smoothness(self, batch: dict) -> torch.Tensor:
        """Light-smoothness regulariser: f(mid) should be the mean of f(a) and f(b) for two
        nearby lights a, b (rotated about the up axis), in the encoded space."""
        from neutex.geometry import directions_to
        from neutex.render.lights import rotate_sources

        src = batch["light_source"]
        up = torch.as_tensor(self.data.up, dtype=src.dtype, device=src.device)
        ang = torch.full((src.shape[0],), math.radians(self.cfg.remedies.smoothness_angle_deg) / 2,
                         dtype=src.dtype, device=src.device)
        preds = []
        for a in (-ang, torch.zeros_like(ang), ang):
            b = dict(batch)
            b["light_dir"], b["light_dist"] = directions_to(batch["position"], rotate_sources(src, up, a))
            preds.append(self._forward(b))
        from neutex.train.losses import masked_l1

        return masked_l1(preds[1], 0.5 * (preds[0] + preds[2]), batch["mask"])

    def train_step(self, batch: dict) -> dict[str, float]:
        """One optimisation step on one batch; returns the logged values."""
        batch = self._augment(batch)
        target = encode_target(batch["target"], self.encoding)
        batch = dict(batch, target_encoded=target)
        logs: dict[str, float] = {}
        if self.disc is not None:
            with torch.no_grad():
                fake = self._forward(batch)
            self.disc_opt.zero_grad(set_to_none=True)
            d_loss, d_logs = self.loss.discriminator_loss(self.disc, fake.detach(), batch)
            d_loss.backward()
            self.disc_opt.step()
            logs.update(d_logs)
        pred = self._forward(batch)
        total, g_logs = self.loss.generator_loss(pred, batch, self.disc)
        logs.update(g_logs)
        if self.cfg.remedies.light_smoothness > 0:
            smooth = self._smoothness(batch)
            total = total + self.cfg.remedies.light_smoothness * smooth
            logs["smoothness"] = float(smooth.detach())
        if not torch.isfinite(total):
            raise TrainingError(
                f"non-finite loss ({float(total.detach())}) at epoch {self.epoch + 1}, step {self.step}; "
                f"the last good checkpoint is {self.run / 'checkpoints' / 'last.pt'}",
                hint="lower --optim.lr, check the data for extreme values, or try --precision fp32")
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        self.opt.step()
        if self.ema is not None:
            with torch.no_grad():
                d = self.cfg.remedies.ema
                for pe, pm in zip(self.ema.parameters(), self.model.parameters()):
                    pe.lerp_(pm, 1 - d)
        logs["loss"] = float(total.detach())
        return logs

    # ------------------------------------------------------------------ validation & media

    @torch.no_grad()
    def validate(self) -> dict[str, dict[str, float]]:
        """Masked image metrics per bucket on the fixed validation sample (linear + tone-mapped)."""
        from neutex.data import PairLoader
        from neutex.eval.metrics import aggregate, image_metrics
        from neutex.render.frames import predict_linear

        model = self._eval_model().eval()
        out = {}
        for bucket, pairs in self.val_pairs.items():
            rows = []
            for batch in PairLoader(self.data, pairs, batch_size=4, shuffle=False, seed=0, device=self.device):
                pred = predict_linear(model, batch, self.encoding, self.amp)
                m = image_metrics(pred, batch["target"] * batch["mask"], batch["mask"], white=self.white)
                rows += [{k: float(v[i]) for k, v in m.items()} for i in range(pred.shape[0])]
            out[bucket] = aggregate(rows)
        self.model.train()
        return out

    @torch.no_grad()
    def render_probe(self) -> np.ndarray:
        from neutex.data import PairLoader
        from neutex.render.frames import predict_linear
        from neutex.render.video import hstack, to_uint8

        model = self._eval_model().eval()
        batch = next(iter(PairLoader(self.data, self.probe_pair[None], batch_size=1, shuffle=False, seed=0,
                                     device=self.device)))
        pred = predict_linear(model, batch, self.encoding, self.amp)[0]
        self.model.train()
        return hstack([to_uint8(batch["target"][0] * batch["mask"][0], self.white), to_uint8(pred, self.white)])

    @torch.no_grad()
    def render_sweep(self) -> tuple[np.ndarray, dict | None]:
        """Render the per-epoch sweep; returns uint8 frames (GT | prediction when GT exists)
        and the temporal metrics against the ground truth (or without it)."""
        from neutex.eval.temporal import temporal_metrics
        from neutex.render.frames import render_view
        from neutex.render.video import hstack, to_uint8

        sw = self.sweep
        model = self._eval_model().eval()
        pred = render_view(model, self.data, sw["view"], sw["sources"], self.encoding, self.device,
                           autocast_dtype=self.amp)
        self.model.train()
        mask = torch.from_numpy(np.array(self.data.mask[sw["view"]], bool))
        gt = None
        if sw["sequence"] is not None:
            gt = torch.from_numpy(np.asarray(sw["sequence"].frames[sw["gt_index"]], np.float32)).permute(0, 3, 1, 2)
            gt = gt * mask
        tm = temporal_metrics(pred, gt, mask, fps=sw["fps"], periodic=sw["periodic"])
        p8 = to_uint8(pred, self.white)
        frames = p8 if gt is None else np.stack([hstack([g, p]) for g, p in zip(to_uint8(gt, self.white), p8)])
        return frames, tm

    # ------------------------------------------------------------------ loop

    def _log(self, row: dict[str, Any]) -> None:
        with open(self.run / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")

    def _end_of_epoch(self) -> None:
        from neutex.render.video import write_video

        e = self.epoch + 1
        val = self.validate()
        row: dict[str, Any] = {"epoch": e, "iteration": self.step, "kind": "val", "lr": self.sched.get_last_lr()[0],
                               "buckets": val}
        frames, tm = self.render_sweep()
        write_video(frames, self.run / "videos" / "sweeps" / f"epoch-{e:04d}.mp4", fps=self.sweep["fps"])
        if tm is not None:
            row["temporal"] = {self.sweep["name"]: {k: v for k, v in tm.items() if k != "curves"}}
        self._log(row)
        held = [val[b]["psnr"] for b in HELD_OUT if b in val and math.isfinite(val[b]["psnr"])]
        score = float(np.mean(held)) if held else val.get("train", {}).get("psnr", -math.inf)
        self.sched.step()
        self.epoch, self.batch_in_epoch = e, 0
        self._save(epoch_checkpoint_name(e))
        if score > self.best:
            self.best = score
            self._save("best.pt")
        self._save("last.pt")
        desc = "  ".join(f"{b} {v['psnr']:.2f}dB" for b, v in val.items())
        self.console.print(f"epoch {e}/{self.epochs}: {desc}")

    def _finish_videos(self) -> None:
        from neutex.render.video import caption, read_video, write_video

        probe_dir = self.run / "videos" / "probe"
        probes = sorted(probe_dir.glob("step-*.png"))
        if probes:
            from PIL import Image

            write_video((caption(np.asarray(Image.open(p).convert("RGB")), f"step {int(p.stem[5:])}") for p in probes),
                        self.run / "videos" / "progress.mp4", fps=8)
        sweeps = sorted((self.run / "videos" / "sweeps").glob("epoch-*.mp4"))
        if sweeps:
            def frames():
                for p in sweeps:
                    for f in read_video(p):
                        yield caption(f, f"epoch {int(p.stem[6:])}")

            write_video(frames(), self.run / "videos" / "sweep_evolution.mp4", fps=self.sweep["fps"])

    def train(self) -> Path:
        """Run (or resume) training to the configured number of epochs."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        from neutex.render.video import write_png

        self.setup()
        cfg = self.cfg
        total = self.epochs * self.iters_per_epoch
        self.console.print(f"training {self.run}: {self.epochs} epochs x {self.iters_per_epoch} iterations, "
                           f"{cfg.model.conditioning}, perceptual={getattr(self.loss, 'resolved', cfg.loss.perceptual)}, "
                           f"device={self.device}, precision={cfg.precision}")
        self.model.train()
        cols = [TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4f}"), TextColumn("{task.fields[its]:.1f} it/s"),
                TimeElapsedColumn(), TimeRemainingColumn()]
        interrupted = False
        with Progress(*cols, console=self.console, transient=False, disable=not self.console.is_terminal) as prog:
            task = prog.add_task("train", total=total, completed=self.step, epoch=self.epoch + 1, loss=float("nan"), its=0.0)
            t0, s0 = time.perf_counter(), self.step
            try:
                while self.epoch < self.epochs:
                    self.loader.set_epoch(self.epoch, start_batch=self.batch_in_epoch)
                    for batch in self.loader:
                        logs = self.train_step(batch)
                        self.step += 1
                        self.batch_in_epoch += 1
                        its = (self.step - s0) / max(time.perf_counter() - t0, 1e-9)
                        prog.update(task, advance=1, epoch=self.epoch + 1, loss=logs["loss"], its=its)
                        if self.step % cfg.schedule.log_every == 0:
                            self._log({"epoch": self.epoch + 1, "iteration": self.step, "kind": "train",
                                       "lr": self.sched.get_last_lr()[0], **logs})
                        if self.step % cfg.schedule.probe_every == 0:
                            write_png(self.render_probe(), self.run / "videos" / "probe" / f"step-{self.step:09d}.png")
                        if cfg.schedule.stop_after is not None and self.step >= cfg.schedule.stop_after:
                            raise KeyboardInterrupt
                    self._end_of_epoch()
            except KeyboardInterrupt:
                interrupted = True
                self._save("last.pt")
                self.console.print(f"[yellow]stopped at epoch {self.epoch + 1}, step {self.step}; "
                                   f"checkpoint written; continue with --resume[/]")
        if not interrupted:
            from neutex.eval.evaluate import plot_run_curves

            self._finish_videos()
            plot_run_curves(self.run)
            self.console.print(f"done: {self.run}")
        return self.run
