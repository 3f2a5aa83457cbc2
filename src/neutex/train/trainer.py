"""The training loop: neural texture + renderer, validation, probes, sweeps, checkpoints.

One :class:`Trainer` per run folder. Tensors stay on the device end to end; the loader
gathers batches from G-buffers held as tensors. A run can be interrupted at any point (Ctrl-C
or ``schedule.stop_after``) and resumed bit-for-bit: the checkpoint holds the optimizer,
scheduler, every RNG and the loader position (epoch, batch, pairs of the epoch consumed).

Under ``torchrun`` (:mod:`neutex.train.distributed`) each process is one rank of a
DistributedDataParallel run: it trains on its shard of every global batch, and only rank 0
writes the run folder, validates and renders, while the others wait at a barrier.
"""

from __future__ import annotations

import copy
import gc
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from neutex import __version__
from neutex.capture.imageio import write_png_codes
from neutex.color import encode_target
from neutex.config import config_to_dict, save_config
from neutex.data.loader import PairLoader, set_light
from neutex.data.prepared import PreparedData
from neutex.data.splits import BUCKETS
from neutex.device import autocast, autocast_dtype, pick_device
from neutex.errors import CheckpointError, ConfigError, DataError, TrainingError
from neutex.eval.plots import plot_run_curves
from neutex.jsonio import append_json_line
from neutex.model.config import ModelConfig
from neutex.model.discriminator import with_discriminator_buffers
from neutex.model.texture import texture_resolution_for
from neutex.render.lights import jitter_sources, rotate_sources
from neutex.render.video import caption, hstack, read_video, to_uint8, write_video
from neutex.run.checkpoint import (
    epoch_checkpoint_name,
    kill_point,
    latest_checkpoint,
    load_checkpoint,
    remove_stale_temp_files,
    rng_state,
    save_checkpoint,
    set_rng_state,
    state_dict_mismatch,
)
from neutex.run.evaluate import SweepJob, held_out_psnr, measure_pairs, measure_sweep, sample_pairs, sweep_jobs
from neutex.run.load import open_shadows, read_metrics, settings_changed
from neutex.run.predict import FrameRenderer
from neutex.train import distributed
from neutex.train.config import TrainConfig
from neutex.train.distributed import DistContext
from neutex.train.losses import masked_l1
from neutex.train.texture_init import init_texture_from_photos


#: what neutex writes into a run folder; a folder holding anything else is not a run's
_RUN_ENTRIES = ("config.json", "metrics.jsonl", "checkpoints", "videos", "plots")


class _StopAfter(Exception):
    """``schedule.stop_after`` reached: stop like Ctrl-C, but return normally."""


def check_batch_norm(model: ModelConfig, batch_size: int, height: int, width: int) -> None:
    """Batch norm needs more than one value per channel: refuse, before building anything, a
    UNet whose innermost level is 1 × 1 at batch 1 (small images under the default depth).

    Raises:
        ConfigError: naming the level's size and the ways out.
    """
    if model.norm != "batch":
        return
    cell = 2 ** model.unet_depth  # the UNet pads to a multiple of this, then halves unet_depth times
    h, w = -(-height // cell), -(-width // cell)
    if batch_size * h * w < 2:
        raise ConfigError(f"model.norm: batch norm needs more than one value per channel, but at {width}x{height} "
                          f"the UNet's innermost level is {w}x{h} with batch size {batch_size}",
                          hint="use --model.norm none or instance, a smaller --model.unet-depth, or a larger "
                               "--schedule.batch-size")


def auto_epochs(n_pairs: int, batch_size: int, target_iterations: int) -> int:
    """Epochs that give about ``target_iterations`` steps, clamped to [2, 60] (origin: 60)."""
    per_epoch = max(1, math.ceil(n_pairs / batch_size))
    return int(min(60, max(2, round(target_iterations / per_epoch))))


class Trainer:
    """Trains one run. ``Trainer(cfg).train()`` returns the run folder.

    ``dist``: the distributed context; None takes it from the environment torchrun sets
    (:func:`~neutex.train.distributed.init_distributed`), which is a single process when
    there is none.
    """

    def __init__(self, cfg: TrainConfig, console=None, dist: DistContext | None = None) -> None:
        self.cfg = cfg
        self.console = console or Console(stderr=True)
        self.run = Path(cfg.out)
        self.device = pick_device(cfg.device)
        self.amp = autocast_dtype(cfg.precision, self.device)
        self.dist = dist or DistContext()
        self._dist_given = dist is not None
        self.pairs_in_epoch = 0

    # ------------------------------------------------------------------ setup

    def setup(self) -> None:
        cfg = self.cfg
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        if not self._dist_given:
            self.dist = distributed.init_distributed(self.device)
        ddp = self.dist
        if ddp.enabled:
            if self.device.type == "cuda":
                self.device = torch.device("cuda", ddp.local_rank)
            if not ddp.is_main:  # rank 0 speaks for the run; the others print nothing
                self.console = Console(stderr=True, quiet=True)
        resume_from = distributed.from_main(ddp, self._claim_run_folder)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)

        self.data = PreparedData.open(cfg.data.path)
        self.train_pairs = self.data.pairs("train")
        if len(self.train_pairs) == 0:
            raise ConfigError(f"{cfg.data.path}: the split leaves no seen (view, light) pair to train on")
        check_batch_norm(cfg.model, cfg.schedule.batch_size, self.data.height, self.data.width)
        if cfg.model.texture_res is None:
            res = texture_resolution_for(self.data.uv, self.data.mask, views=self.data.seen_views)
            cfg.model = cfg.model.replace(texture_res=res)
            self.console.print(f"texture: {res}² texels (about a pixel each on the training views; --model.texture-res)")
        self.shadows = open_shadows(self.data, cfg.model.needs_visibility, self.console.print)
        self.loader = PairLoader(self.data, self.train_pairs, batch_size=cfg.schedule.batch_size, shuffle=True,
                                 seed=cfg.seed, device=self.device, max_pairs=cfg.schedule.pairs_per_epoch,
                                 shadows=self.shadows, rank=ddp.rank, world_size=ddp.world_size)
        self.iters_per_epoch = len(self.loader)
        # epochs count passes over the data, from the per-rank batch: N ranks train the same
        # epochs in 1/N of the steps, and a run resumed on another number of ranks keeps them
        self.epochs = cfg.schedule.epochs or auto_epochs(min(len(self.train_pairs), cfg.schedule.pairs_per_epoch or 10**12),
                                                         cfg.schedule.batch_size, cfg.schedule.target_iterations)
        self.encoding = cfg.data.encoding

        self.model = cfg.model.setup(self.encoding).to(self.device)
        if self.device.type == "cpu":
            self.model = self.model.to(memory_format=torch.channels_last)
        self._init_seconds = 0.0
        if cfg.model.uses_photo_init and resume_from is None and ddp.is_main:
            self._init_texture_from_photos()  # the other ranks get it from DDP's broadcast below
        self.loss = cfg.loss.setup(self.device, self.encoding)
        tex = list(self.model.texture.parameters())
        rest = [p for n, p in self.model.named_parameters() if not n.startswith("texture.")]
        groups = [{"params": rest}, {"params": tex, "lr": cfg.optim.texture_lr or cfg.optim.lr}]
        # fused: one kernel for all parameters (63 -> 11 ms per step at 256² on CPU, docs/bench.md)
        self.opt = torch.optim.Adam(groups, lr=cfg.optim.lr, betas=cfg.optim.betas, fused=True)
        self.sched = torch.optim.lr_scheduler.MultiStepLR(self.opt, milestones=list(cfg.optim.milestones),
                                                          gamma=cfg.optim.gamma)
        self.disc = self.disc_opt = None
        if cfg.loss.gan:
            self.disc = cfg.disc.setup().to(self.device)
            self.disc_opt = torch.optim.Adam(self.disc.parameters(), lr=cfg.optim.disc_lr, betas=(0.5, 0.999))
        # what a step's first forward goes through: the model itself, or its DDP wrapper (which
        # broadcasts rank 0's weights, the photo-initialised texture included, right here)
        self.train_model: torch.nn.Module = self.model
        self.train_disc: torch.nn.Module | None = self.disc
        if ddp.enabled:
            self.train_model = distributed.wrap_ddp(self.model, self.device)
            if self.disc is not None:
                self.train_disc = distributed.wrap_ddp(self.disc, self.device)
        self.ema = None
        if cfg.remedies.ema > 0:
            self.ema = copy.deepcopy(self.model).requires_grad_(False)

        self.white = self.data.white_level
        self.val_pairs = self._validation_pairs()
        self.probe_pair = self._probe_pair()
        self.sweep = self._sweep_job()
        self.epoch, self.batch_in_epoch, self.step = 0, 0, 0
        self.pairs_in_epoch = 0
        # optimisation time (loading, steps, the photo fit; not validation or media): time to quality
        self.train_seconds = self._init_seconds
        self.best = -math.inf
        if resume_from is not None:
            # rank 0 reads the checkpoint and hands it to the others (no shared folder needed)
            self._restore(distributed.from_main(ddp, lambda: load_checkpoint(resume_from)), resume_from)
        elif ddp.is_main:
            self.run.mkdir(parents=True, exist_ok=True)
        if ddp.is_main:
            self._write_config()


    def _claim_run_folder(self) -> Path | None:
        """Check the run folder against ``--resume`` before anything is built; returns the
        checkpoint to resume from, or None to start at step 0.

        A folder with a checkpoint needs ``--resume`` and the run's own settings. A folder of
        neutex's files without any checkpoint (a run that stopped before its first, e.g. at
        step 0) is not started: it is reused, with or without ``--resume``, and says so.
        Temporary files of checkpoints whose writer was killed are removed.
        """
        cfg, run = self.cfg, self.run
        ckdir = run / "checkpoints"
        if run.exists() and not run.is_dir():
            raise ConfigError(f"{run}: exists and is not a folder", hint="choose another --out")
        if not run.is_dir() or not any(run.iterdir()):
            if cfg.resume:
                raise ConfigError(f"{run}: nothing to resume (no run folder there)",
                                  hint="check --out, or drop --resume to start a new run")
            return None
        ckpt = latest_checkpoint(ckdir)
        if ckpt is not None and not cfg.resume:
            raise ConfigError(f"{run}: run folder exists and is not empty (checkpoints up to {ckpt.name})",
                              hint="pass --resume to continue it, or choose another --out")
        if ckpt is None:
            foreign = sorted(p.name for p in run.iterdir() if p.name not in _RUN_ENTRIES and not p.name.startswith("."))
            if foreign:
                what = "nothing to resume (no checkpoint)" if cfg.resume else "run folder exists and is not empty"
                raise ConfigError(f"{run}: {what}, and it holds {foreign[0]}, which is not a neutex run's",
                                  hint="choose another --out")
        if cfg.resume and (run / "config.json").is_file():
            self._check_same_config()
        for p in remove_stale_temp_files(ckdir):
            self.console.print(f"removed {escape(str(p))} (a checkpoint whose writer was killed)")
        if ckpt is None:
            self.console.print(f"{escape(str(run))} holds no checkpoint (a run that stopped before its first): "
                               "starting it afresh")
            (run / "metrics.jsonl").unlink(missing_ok=True)
            for sub in ("videos", "plots"):
                shutil.rmtree(run / sub, ignore_errors=True)
        return ckpt

    def _check_same_config(self) -> None:
        """Refuse to continue a run with other settings than its config.json's (naming them):
        e.g. another --model.conditioning would only fail later, loading the weights."""
        diff = settings_changed(self.run, self.cfg)
        if diff:
            more = f" and {len(diff) - 3} more" if len(diff) > 3 else ""
            raise ConfigError(f"{self.run / 'config.json'}: the run was made with other settings than these "
                              f"(run -> now: {'; '.join(diff[:3])}{more})",
                              hint="resume with the run's own settings (its config.json), or choose another --out "
                                   "for a new run")

    def _init_texture_from_photos(self) -> None:
        """Texture channels of the radiance cues <- per-texel fit of the training photographs."""
        t0 = time.perf_counter()
        loader = PairLoader(self.data, self.train_pairs, batch_size=8, shuffle=False, seed=0, device=self.device,
                            shadows=self.shadows)
        stats = init_texture_from_photos(self.model, iter(loader))
        self._init_seconds = time.perf_counter() - t0
        self.console.print(f"texture initialised from {len(self.train_pairs)} photographs in "
                           f"{time.perf_counter() - t0:.1f} s ({100 * stats.get('texels_seen', 0):.0f} % of texels seen)")

    def _validation_pairs(self) -> dict[str, np.ndarray]:
        """A fixed sample of each bucket, so epochs are compared on the same images."""
        n = self.cfg.schedule.val_images
        pairs = {b: self.data.pairs(b) for b in BUCKETS}
        return {b: sample_pairs(pairs[b], n, self.cfg.seed + 1 + k) for k, b in enumerate(BUCKETS) if len(pairs[b])}

    def _probe_pair(self) -> np.ndarray:
        for b in ("novel_light", "train"):
            if b in self.val_pairs:
                return self.val_pairs[b][0]
        return self.train_pairs[0]

    def _sweep_job(self) -> SweepJob:
        """The per-epoch sweep: the first ground-truth sequence at a seen view, else any
        sequence, else a synthetic circle at the first seen view (no ground truth)."""
        return sweep_jobs(self.data, self.cfg.schedule.sweep_frames, seen_first=True)[0]

    def _write_config(self) -> None:
        extra = {
            "neutex_version": __version__,
            "data": {"path": str(Path(self.cfg.data.path).resolve()), "hash": self.data.content_hash},
            "resolved": {"epochs": self.epochs, "iterations_per_epoch": self.iters_per_epoch,
                         "perceptual": getattr(self.loss, "resolved", self.cfg.loss.perceptual),
                         "white_level": self.white, "device": str(self.device)},
        }
        if self.dist.enabled:  # the run as it was started; a resume may use another process count
            extra["resolved"]["distributed"] = {"world_size": self.dist.world_size, "backend": self.dist.backend,
                                                "global_batch_size": self.loader.global_batch_size}
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
            # the position that holds for any number of processes: pairs of the epoch's order done
            "pairs_in_epoch": self.pairs_in_epoch,
            "world_size": self.dist.world_size,
            "step": self.step,
            "train_seconds": self.train_seconds,
            # metrics.jsonl as of this state: a resume cuts off the lines logged after it
            "metrics_bytes": self._metrics_bytes(),
            "best": self.best,
            "white": self.white,
            "config": json.dumps(config_to_dict(self.cfg)),
            "neutex_version": __version__,
        }

    def _metrics_bytes(self) -> int:
        path = self.run / "metrics.jsonl"
        return path.stat().st_size if path.is_file() else 0

    def _restore(self, st: dict[str, Any], path: Path) -> None:
        try:
            self.model.load_state_dict(st["model"])
        except RuntimeError as exc:
            raise CheckpointError(f"{path}: weights do not match the config ({state_dict_mismatch(exc)})",
                                  hint="resume with the run's own settings (its config.json)") from None
        self.opt.load_state_dict(st["optimizer"])
        self.sched.load_state_dict(st["scheduler"])
        if self.disc and st.get("disc"):
            self.disc.load_state_dict(st["disc"])
            self.disc_opt.load_state_dict(st["disc_optimizer"])
        if self.ema and st.get("ema"):
            self.ema.load_state_dict(st["ema"])
        set_rng_state(st["rng"])  # rank 0's; distributed steps reseed per (seed, rank, step)
        self.epoch, self.batch_in_epoch, self.step = int(st["epoch"]), int(st["batch_in_epoch"]), int(st["step"])
        if "pairs_in_epoch" in st:
            self.pairs_in_epoch = int(st["pairs_in_epoch"])
        else:  # written before the position was counted in pairs: by one process
            self.pairs_in_epoch = min(self.batch_in_epoch * self.cfg.schedule.batch_size, self.loader.cap)
        self.best = float(st["best"])
        self.train_seconds = float(st.get("train_seconds", 0.0))
        metrics = self.run / "metrics.jsonl"
        if (self.dist.is_main and st.get("metrics_bytes") is not None and metrics.is_file()
                and metrics.stat().st_size > st["metrics_bytes"]):
            with open(metrics, "r+b") as f:  # lines logged after the checkpoint are logged again
                f.truncate(int(st["metrics_bytes"]))
        saved_world = int(st.get("world_size", 1))
        n = self.dist.world_size
        ranks = (f" on {n} process{'es' if n > 1 else ''}" if n > 1 or saved_world > 1 else "") + (
            f" (written by {saved_world})" if saved_world != self.dist.world_size else "")
        self.console.print(f"resuming {escape(str(self.run))} from {path.name} at epoch {self.epoch + 1}, "
                           f"batch {self.batch_in_epoch}, step {self.step}{ranks}")

    def _save(self, name: str) -> Path:
        return save_checkpoint(self._state(), self.run / "checkpoints" / name)

    # ------------------------------------------------------------------ steps

    def _eval_model(self) -> torch.nn.Module:
        return self.ema if self.ema is not None else self.model

    def _forward(self, batch: dict, synced: bool = False) -> torch.Tensor:
        """The model's prediction; ``synced``: through the DDP wrapper (a step's first forward
        with gradients: it arms the all-reduce). Extra forwards (light smoothness) call the
        model itself: their gradients reach the same parameters and are all-reduced with the rest."""
        with autocast(self.device, self.amp):
            return (self.train_model if synced else self.model)(batch).float()

    def _augment(self, batch: dict) -> dict:
        """Light-direction jitter (a remedy): the same batch lit from a perturbed source."""
        jit = self.cfg.remedies.light_jitter_deg
        if jit <= 0:
            return batch
        return set_light(batch, jitter_sources(batch["light_source"], jit), None, self.shadows)

    def _smoothness(self, batch: dict) -> torch.Tensor:
        """Light-smoothness regulariser: f(mid) should be the mean of f(a) and f(b) for two
        nearby lights a, b (rotated about the up axis), in the encoded space."""
        src = batch["light_source"]
        up = torch.as_tensor(self.data.up, dtype=src.dtype, device=src.device)
        ang = torch.full((src.shape[0],), math.radians(self.cfg.remedies.smoothness_angle_deg) / 2,
                         dtype=src.dtype, device=src.device)
        preds = [self._forward(set_light(batch, rotate_sources(src, up, a), None, self.shadows))
                 for a in (-ang, torch.zeros_like(ang), ang)]
        return masked_l1(preds[1], 0.5 * (preds[0] + preds[2]), batch["mask"])

    def train_step(self, batch: dict) -> dict[str, float]:
        """One optimisation step on one batch; returns the logged values (under DDP: their
        mean over the global batch)."""
        ddp = self.dist
        weight = None
        if ddp.enabled:
            batch = dict(batch)
            weight = batch.pop("loss_weight", None)  # this rank's share of the global batch (PairLoader)
            torch.manual_seed(distributed.step_seed(self.cfg.seed, ddp.rank, self.step))
        batch = self._augment(batch)
        target = encode_target(batch["target"], self.encoding)
        batch = dict(batch, target_encoded=target)
        logs: dict[str, float] = {}
        scored = batch  # what the discriminator sees beside the images
        if self.disc is not None:
            scored = with_discriminator_buffers(batch) if self.cfg.disc.conditional else batch
            with torch.no_grad():
                fake = self._forward(batch)
            self.disc_opt.zero_grad(set_to_none=True)
            disc = distributed.SyncedDiscriminator(self.train_disc) if ddp.enabled else self.disc
            d_loss, d_logs = self.loss.discriminator_loss(disc, fake.detach(), scored)
            (d_loss if weight is None else d_loss * weight).backward()
            self.disc_opt.step()
            logs.update(d_logs)
        pred = self._forward(batch, synced=True)
        total, g_logs = self.loss.generator_loss(pred, scored, self.disc)
        logs.update(g_logs)
        if self.cfg.remedies.light_smoothness > 0:
            smooth = self._smoothness(batch)
            total = total + self.cfg.remedies.light_smoothness * smooth
            logs["smoothness"] = float(smooth.detach())
        if ddp.enabled:  # the global batch's values, and one verdict on finiteness for every rank
            share = 1.0 if weight is None else float(weight) / ddp.world_size
            logs = distributed.reduce_logs(ddp, {**logs, "loss": float(total.detach())}, share, self.device)
            finite = math.isfinite(logs["loss"])
        else:
            finite = bool(torch.isfinite(total))
        if not finite:
            if not torch.isfinite(total):
                self._check_finite_target(batch)
            if not ddp.is_main:
                raise distributed.MainFailed(f"non-finite loss at step {self.step} (rank 0 says more)")
            last = latest_checkpoint(self.run / "checkpoints")
            value = logs["loss"] if ddp.enabled else float(total.detach())
            raise TrainingError(
                f"non-finite loss ({value}) at epoch {self.epoch + 1}, step {self.step}; "
                + (f"the last good checkpoint is {last}" if last else "no checkpoint was written yet"),
                hint="lower --optim.lr, check the data for extreme values, or try --precision fp32")
        self.opt.zero_grad(set_to_none=True)
        (total if weight is None else total * weight).backward()
        self.opt.step()
        if self.ema is not None:
            with torch.no_grad():
                d = self.cfg.remedies.ema
                for pe, pm in zip(self.ema.parameters(), self.model.parameters()):
                    pe.lerp_(pm, 1 - d)
        if not ddp.enabled:
            logs["loss"] = float(total.detach())
        return logs

    def _check_finite_target(self, batch: dict) -> None:
        """Raise a :class:`DataError` naming the image when a photograph holds NaN/inf on the object."""
        bad = (~torch.isfinite(batch["target"]) & batch["mask"].bool()).flatten(1).any(1)
        if bad.any():
            k = int(bad.nonzero()[0, 0])
            v, l = int(batch["view"][k]), int(batch["light"][k])
            raise DataError(f"{self.data.root / 'arrays' / 'images.npy'}: NaN or inf pixels on the object in the "
                            f"image of view {self.data.view_ids[v]}, light {self.data.light_ids[l]}",
                            hint="prepare the dataset again from its capture (neutex prepare)")

    # ------------------------------------------------------------------ validation & media

    def _renderer(self, batch_size: int = 4) -> FrameRenderer:
        return FrameRenderer(self._eval_model().eval(), self.encoding, self.device, self.amp, batch_size, self.shadows)

    @torch.no_grad()
    def validate(self) -> dict[str, dict[str, float]]:
        """Masked image metrics per bucket on the fixed validation sample (the one evaluator,
        :func:`~neutex.run.evaluate.measure_pairs`, as ``neutex eval`` uses)."""
        r = self._renderer()
        out = {b: measure_pairs(r, self.data, pairs, self.white)[0] for b, pairs in self.val_pairs.items()}
        self.model.train()
        return out

    @torch.no_grad()
    def render_probe(self) -> np.ndarray:
        batch, pred = next(self._renderer(1).pairs(self.data, self.probe_pair[None]))
        self.model.train()
        return hstack([to_uint8(batch["target"][0] * batch["mask"][0], self.white), to_uint8(pred[0], self.white)])

    @torch.no_grad()
    def render_sweep(self) -> tuple[np.ndarray, dict | None]:
        """Render the per-epoch sweep (:func:`~neutex.run.evaluate.measure_sweep`); returns
        uint8 frames (GT | prediction when GT exists) and its temporal metrics."""
        m = measure_sweep(self._renderer(8), self.data, self.sweep)
        self.model.train()
        p8 = to_uint8(m["pred"], self.white)
        gt = m["gt"]
        frames = p8 if gt is None else np.stack([hstack([g, p]) for g, p in zip(to_uint8(gt, self.white), p8)])
        return frames, m["temporal"]

    # ------------------------------------------------------------------ loop

    def _log(self, row: dict[str, Any]) -> None:
        append_json_line(self.run / "metrics.jsonl", row)

    def _end_of_epoch(self) -> None:
        # rank 0 validates, renders and saves; the others only advance the schedule and wait for it
        e = self.epoch + 1
        if self.dist.is_main:
            val = self.validate()
            row: dict[str, Any] = {"epoch": e, "iteration": self.step, "kind": "val",
                                   "lr": self.sched.get_last_lr()[0], "train_seconds": round(self.train_seconds, 3),
                                   "buckets": val}
            frames, tm = self.render_sweep()
            write_video(frames, self.run / "videos" / "sweeps" / f"epoch-{e:04d}.mp4", fps=self.sweep.fps)
            if tm is not None:
                row["temporal"] = {self.sweep.name: {k: v for k, v in tm.items() if k != "curves"}}
            self._log(row)
        self.sched.step()
        self.epoch, self.batch_in_epoch, self.pairs_in_epoch = e, 0, 0
        if self.dist.is_main:
            score = held_out_psnr(val)
            is_best = score > self.best
            self.best = max(self.best, score)  # before saving: the epoch, best and last files hold one state
            self._save(epoch_checkpoint_name(e))
            if is_best:
                self._save("best.pt")
            self._save("last.pt")
            desc = "  ".join(f"{b} {v['psnr']:.2f}dB" if v.get("psnr") is not None else f"{b} -"
                             for b, v in val.items())
            self.console.print(f"epoch {e}/{self.epochs}: {desc}")
        distributed.barrier(self.dist)

    def _finish_videos(self) -> None:
        probe_dir = self.run / "videos" / "probe"
        probes = sorted(probe_dir.glob("step-*.png"))
        if probes:
            write_video((caption(np.asarray(Image.open(p).convert("RGB")), f"step {int(p.stem[5:])}") for p in probes),
                        self.run / "videos" / "progress.mp4", fps=8)
        sweeps = sorted((self.run / "videos" / "sweeps").glob("epoch-*.mp4"))
        if sweeps:
            def frames():
                for p in sweeps:
                    for f in read_video(p):
                        yield caption(f, f"epoch {int(p.stem[6:])}")

            write_video(frames(), self.run / "videos" / "sweep_evolution.mp4", fps=self.sweep.fps)

    def train(self) -> Path:
        """Run (or resume) training to the configured number of epochs."""
        try:
            self.setup()
            with distributed.terminate_as_interrupt(self.dist.enabled):
                return self._train()
        finally:
            if self.dist.enabled:
                self._unwrap()
            if not self._dist_given:
                distributed.shutdown(self.dist)

    def _unwrap(self) -> None:
        """Drop the DDP wrappers while the process group is still registered: a DDP reducer
        that holds the group's last reference destroys it without releasing the GIL, which can
        deadlock with gloo's worker threads (torch 2.13)."""
        if hasattr(self, "train_model"):  # setup got as far as wrapping
            self.train_model, self.train_disc = self.model, self.disc
            gc.collect()

    def _train(self) -> Path:
        cfg, ddp = self.cfg, self.dist
        total = self.epochs * self.iters_per_epoch
        procs = (f", {ddp.world_size} processes ({ddp.backend}) x batch {cfg.schedule.batch_size} = global batch "
                 f"{self.loader.global_batch_size}" if ddp.enabled else "")
        self.console.print(f"training {escape(str(self.run))}: {self.epochs} epochs x {self.iters_per_epoch} iterations, "
                           f"model {cfg.model.preset} ({len(self.model.input_names)} inputs, {cfg.model.conditioning}), "
                           f"perceptual={getattr(self.loss, 'resolved', cfg.loss.perceptual)}, "
                           f"device={self.device}, precision={cfg.precision}{procs}")
        self.model.train()
        cols = [TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4f}"), TextColumn("{task.fields[its]:.1f} it/s"),
                TimeElapsedColumn(), TimeRemainingColumn()]
        interrupted = False
        with Progress(*cols, console=self.console, transient=False,
                      disable=not self.console.is_terminal or not ddp.is_main) as prog:
            task = prog.add_task("train", total=total, completed=self.step, epoch=self.epoch + 1, loss=float("nan"), its=0.0)
            t0, s0 = time.perf_counter(), self.step
            try:
                while self.epoch < self.epochs:
                    self.loader.set_epoch(self.epoch, start_pair=self.pairs_in_epoch)
                    batches = iter(self.loader)
                    while True:
                        ts = time.perf_counter()
                        batch = next(batches, None)
                        if batch is None:
                            break
                        logs = self.train_step(batch)
                        self.train_seconds += time.perf_counter() - ts
                        self.step += 1
                        self.batch_in_epoch += 1
                        self.pairs_in_epoch += self.loader.step_pairs(self.pairs_in_epoch)
                        its = (self.step - s0) / max(time.perf_counter() - t0, 1e-9)
                        prog.update(task, advance=1, epoch=self.epoch + 1, loss=logs["loss"], its=its)
                        if ddp.is_main and self.step % cfg.schedule.log_every == 0:
                            self._log({"epoch": self.epoch + 1, "iteration": self.step, "kind": "train",
                                       "lr": self.sched.get_last_lr()[0], **logs})
                        if ddp.is_main and self.step % cfg.schedule.probe_every == 0:
                            write_png_codes(self.run / "videos" / "probe" / f"step-{self.step:09d}.png",
                                            self.render_probe())
                        kill_point(f"step-{self.step}")
                        if ddp.enabled:
                            kill_point(f"rank{ddp.rank}-step-{self.step}")
                        if cfg.schedule.stop_after is not None and self.step >= cfg.schedule.stop_after:
                            raise _StopAfter
                    self._end_of_epoch()
            except (KeyboardInterrupt, _StopAfter) as exc:
                interrupted = True
                self._stopped(exc)
                if isinstance(exc, _StopAfter):
                    distributed.barrier(ddp)  # every rank stops here, alive: leave together
                else:
                    raise  # Ctrl-C: the command exits 130, so `neutex train ... && neutex eval ...` stops
            except RuntimeError as exc:
                if not (ddp.enabled and distributed.is_comm_failure(exc)):
                    raise
                # another rank is gone (killed, out of memory, an error): rank 0 keeps what it has
                self._stopped(exc)
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise TrainingError(
                    f"lost the other processes at epoch {self.epoch + 1}, step {self.step} "
                    f"(one of them ended: its own output says why): {first[:200]}",
                    hint="resume with the same command and --resume (rank 0 wrote last.pt unless it was the one "
                         "that ended; then the newest checkpoint it wrote is used)") from exc

        if not interrupted:
            if ddp.is_main:
                self._finish_videos()
                plot_run_curves(read_metrics(self.run), self.run)
            self.console.print(f"done: {escape(str(self.run))}")
            distributed.barrier(ddp)
        return self.run

    def _stopped(self, exc: BaseException) -> None:
        """Rank 0 writes ``last.pt`` at the current step and says how to go on (interrupted,
        ``stop_after`` reached, or the other ranks lost)."""
        if not self.dist.is_main:
            return
        with distributed.signals_deferred(self.dist.enabled):  # a second signal must not tear it
            self._save("last.pt")
        why = {distributed.Terminated: " (SIGTERM: torchrun stops every rank when one ends or is interrupted)"}.get(
            type(exc), "")
        self.console.print(f"[yellow]stopped at epoch {self.epoch + 1}, step {self.step}{why}; "
                           f"checkpoint written; continue with --resume[/]")
