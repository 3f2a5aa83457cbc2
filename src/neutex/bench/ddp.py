"""The ``ddp_step`` bench: the training step on N CPU processes (gloo, DistributedDataParallel)
against one process, on the same global batch, and the share of the step the gradient
all-reduce takes.

What runs is the trainer's own ``train_step`` (:func:`~neutex.bench.suite.make_trainer`), in
one process with all the bench's threads and batch N, then in N processes with a 1/N share
of the threads and batch 1 each (as ``torchrun --nproc_per_node N`` runs it: it sets
``OMP_NUM_THREADS`` to 1 per worker). The communication share is measured two ways, on rank 0:

- ``comm_share``: an all-reduce of a buffer as large as all the gradients, timed alone,
  over the median step: what the gradient exchange costs if nothing hides it;
- ``exposed_comm_share``: 1 − (step under ``no_sync``, no gradient all-reduce) / (step):
  what it adds to the step as DDP runs it (buckets overlap the backward), timed interleaved.
"""

from __future__ import annotations

import gc
import itertools
import json
import os
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from neutex.bench.common import first_batches, make_trainer, result_row
from neutex.bench.timing import summarize, time_interleaved

Log = Callable[[str], None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world: int, port: int, data_root: str, out: str, mode: str, threads: int, repeats: int,
            warmup: int, result: str) -> None:
    """One rank: join the gloo group, time ``train_step`` with and without the gradient
    all-reduce (interleaved) and an all-reduce of the gradients' size; rank 0 writes ``result``."""
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.set_num_threads(threads)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    tr = None
    try:
        tr = make_trainer(Path(data_root), Path(out), mode, "fp32", False, threads)
        batches = itertools.cycle(first_batches(tr.loader))

        def no_sync_step():
            with tr.train_model.no_sync():
                tr.train_step(next(batches))

        times = time_interleaved({"sync": lambda: tr.train_step(next(batches)), "no_sync": no_sync_step},
                                 repeats=repeats, warmup=warmup)
        numel = sum(p.numel() for p in tr.model.parameters())
        flat = torch.zeros(numel)
        ar = []
        for i in range(warmup + repeats):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(flat)
            if i >= warmup:
                ar.append(time.perf_counter() - t0)
        if rank == 0:
            Path(result).write_text(json.dumps({"sync": summarize(times["sync"]), "no_sync": summarize(times["no_sync"]),
                                                "allreduce": summarize(ar), "grad_mb": numel * 4 / 2**20}))
    finally:
        # the DDP wrapper must go before the group (Trainer._unwrap says why)
        tr = None
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()


def _run_ranks(world: int, threads: int, args: tuple, timeout: float) -> None:
    """Start ``world`` ranks of :func:`_worker` and wait for them (killing them past ``timeout``).

    Forked when each rank uses one thread (fast: torch is already imported; GNU OpenMP is
    not fork-safe with more threads), else spawned."""
    method = "fork" if threads == 1 and "fork" in mp.get_all_start_methods() else "spawn"
    ctx = mp.start_processes(_worker, args=(world, *args), nprocs=world, join=False, start_method=method)
    deadline = time.monotonic() + timeout
    while not ctx.join(timeout=1.0):
        if time.monotonic() > deadline:
            for p in ctx.processes:
                if p.is_alive():
                    p.kill()
            ctx.join()
            raise TimeoutError(f"ddp_step: the {world} ranks did not finish in {timeout:.0f} s")


def _time_one_process(data_root: Path, out: Path, mode: str, threads: int, batch: int, cfg) -> dict[str, float]:
    """The step of one process with ``threads`` threads and batch ``batch`` (median, ms)."""
    one = make_trainer(data_root, out, mode, "fp32", False, threads, batch_size=batch)
    batches = itertools.cycle(first_batches(one.loader))
    return summarize(time_interleaved({"one": lambda: one.train_step(next(batches))}, repeats=cfg.repeats,
                                      warmup=cfg.warmup)["one"])


def bench_ddp(res: int, data_root: Path, work: Path, cfg, log: Log, processes: int = 2) -> list[dict[str, Any]]:
    """The ``ddp_step`` rows: ``processes`` 1 (this process, all threads, batch ``processes``)
    and ``processes`` N (N ranks, batch 1 each); the N-process row carries the speed-up and
    the communication shares (module doc)."""
    # the origin's exp1: the default model's shadow maps would open an OpenGL context in each
    # forked rank, and Mesa's state copied from a parent that has one can deadlock the child;
    # the all-reduce being measured depends on the parameter count, not on the inputs
    mode = "multiply"
    total_threads = cfg.threads or torch.get_num_threads()
    per_rank = max(1, total_threads // processes)
    log(f"ddp_step {res}² {mode}: 1 process x {total_threads} threads, batch {processes}; "
        f"{processes} processes (gloo) x {per_rank} thread(s), batch 1 each")
    t_one = _time_one_process(data_root, work / f"ddp-one-{res}", mode, total_threads, processes, cfg)
    with tempfile.TemporaryDirectory(prefix="neutex-ddp-", dir=work) as tmp:
        result = Path(tmp) / "result.json"
        _run_ranks(processes, per_rank, (_free_port(), str(data_root), str(Path(tmp) / "run"), mode, per_rank,
                                         cfg.repeats, cfg.warmup, str(result)), timeout=1800)
        r = json.loads(result.read_text())
    torch.set_num_threads(total_threads)  # make_trainer set it in this process
    common = {"res": res, "mode": mode, "precision": "fp32", "perceptual": "vgg", "gan": False, "backend": "gloo",
              "vgg_weights": "random", "batch": processes}
    row1 = result_row("ddp_step", t_one, None, per=processes, **common, processes=1, threads_per_process=total_threads,
                  batch_per_process=processes)
    rowN = result_row("ddp_step", r["sync"], None, per=processes, **common, processes=processes,
                  threads_per_process=per_rank, batch_per_process=1)
    rowN["speedup_vs_one_process"] = t_one["ms"] / r["sync"]["ms"]
    rowN["ms_no_sync"] = r["no_sync"]["ms"]
    rowN["allreduce_ms"] = r["allreduce"]["ms"]
    rowN["grad_mb"] = r["grad_mb"]
    rowN["comm_share"] = r["allreduce"]["ms"] / r["sync"]["ms"]
    rowN["exposed_comm_share"] = 1 - r["no_sync"]["ms"] / r["sync"]["ms"]
    return [row1, rowN]


__all__ = ["bench_ddp"]
