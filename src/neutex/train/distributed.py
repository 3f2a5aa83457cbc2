"""Distributed data parallel training under ``torchrun``: the process group, the rank, and the
few collectives the trainer needs beyond DistributedDataParallel's own gradient all-reduce.

``torchrun --nproc_per_node N -m neutex train ...`` starts N processes with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` in their environment;
:func:`init_distributed` joins them into one process group (gloo on the CPU, NCCL on CUDA).
Without those variables (plain ``neutex train``), or with ``WORLD_SIZE=1``, nothing here does
anything and training runs in one process exactly as before.

Only rank 0 touches the run folder; what the other ranks need from it (the checkpoint to
resume from, an error that stops the run) comes through :func:`from_main`.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from neutex.errors import ConfigError, NeutexError, TrainingError
from neutex.torchrun import env_world_size
from neutex.model.discriminator import discriminator_input

T = TypeVar("T")

#: seconds a collective may wait before the process group gives up (env ``NEUTEX_DIST_TIMEOUT``).
#: Generous on purpose: the other ranks wait at a barrier while rank 0 validates, renders the
#: per-epoch sweep and writes checkpoints, which takes minutes on a large capture. A rank that
#: dies is noticed at once anyway (its sockets close; torchrun stops the others).
DEFAULT_TIMEOUT_S = 2 * 3600


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a distributed run (``world_size == 1``: not distributed).

    Attributes:
        rank: global rank (0 writes the run folder).
        world_size: number of processes.
        local_rank: rank on this machine (the CUDA device index).
        backend: ``gloo`` or ``nccl``; None when not distributed.
        owned: whether :func:`init_distributed` created the process group (and so destroys it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    owned: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistContext:
    """Join the process group torchrun describes in the environment (or the one already made
    by the caller); a :class:`DistContext` with ``world_size`` 1 when there is none.

    The backend follows the device: NCCL for CUDA (each process on ``cuda:LOCAL_RANK``), gloo
    on the CPU. The timeout is ``NEUTEX_DIST_TIMEOUT`` seconds (default two hours).
    """
    if dist.is_available() and dist.is_initialized():
        if dist.get_world_size() == 1:
            return DistContext()
        return DistContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")),
                           dist.get_backend(), owned=False)
    world = env_world_size()
    if world <= 1:
        return DistContext()
    if not dist.is_available():
        raise TrainingError("torchrun started several processes, but this torch has no torch.distributed",
                            hint="install a torch build with distributed support, or run `neutex train` alone")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(f"torchrun: LOCAL_RANK {local_rank}, but this machine has "
                              f"{torch.cuda.device_count()} CUDA device(s)",
                              hint="pass --nproc_per_node at most the number of GPUs (or --device cpu)")
        torch.cuda.set_device(local_rank)
    timeout = timedelta(seconds=float(os.environ.get("NEUTEX_DIST_TIMEOUT", DEFAULT_TIMEOUT_S)))
    dist.init_process_group(backend, timeout=timeout)
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, backend, owned=True)


def shutdown(ctx: DistContext) -> None:
    """Destroy the process group if :func:`init_distributed` created it."""
    if ctx.owned and dist.is_initialized():
        dist.destroy_process_group()


class MainFailed(NeutexError):
    """Rank 0 stopped the run with an error; it prints the message, the other ranks only stop."""

    silent = True


def from_main(ctx: DistContext, fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 only and hand its result to every rank.

    A :class:`NeutexError` that ``fn`` raises on rank 0 stops every rank: rank 0 raises it,
    the others raise :class:`MainFailed` (which the CLI does not print twice). Not distributed:
    just ``fn()``. The result must be picklable.
    """
    if not ctx.enabled:
        return fn()
    box: list[Any] = [None]
    error: NeutexError | None = None
    if ctx.is_main:
        try:
            box[0] = ("ok", fn())
        except NeutexError as exc:
            error = exc
            box[0] = ("error", f"{type(exc).__name__}: {exc}")
    dist.broadcast_object_list(box, src=0, device=_comm_device(ctx))
    if error is not None:
        raise error
    kind, value = box[0]
    if kind == "error":
        raise MainFailed(f"rank 0 stopped the run ({value})")
    return value


def barrier(ctx: DistContext) -> None:
    """Wait until every rank gets here (up to the process group's timeout)."""
    if ctx.enabled:
        dist.barrier()


def reduce_logs(ctx: DistContext, logs: dict[str, float], share: float, device: torch.device) -> dict[str, float]:
    """The logged values of one step over all ranks: ``Σ_r share_r · logs_r`` (``share`` =
    this rank's fraction of the step's pairs), i.e. the mean over the global batch.

    One small all-reduce; the keys keep their order.
    """
    if not ctx.enabled:
        return logs
    keys = list(logs)  # the same order on every rank: they run the same code
    t = torch.tensor([logs[k] for k in keys], dtype=torch.float64, device=device) * share
    dist.all_reduce(t)
    return dict(zip(keys, t.tolist()))


def step_seed(seed: int, rank: int, step: int) -> int:
    """The torch seed of one rank's step: a function of (seed, rank, step) only, so a resumed
    distributed run draws the same random numbers (light jitter) as an uninterrupted one,
    whatever the process count it resumes with, and the ranks draw different ones.

    Examples:
        >>> step_seed(0, 0, 5) == step_seed(0, 0, 5), step_seed(0, 0, 5) == step_seed(0, 1, 5)
        (True, False)
    """
    return int(np.random.SeedSequence([int(seed), int(rank), int(step), 0xDD9]).generate_state(1, np.uint64)[0]
               % (2**63 - 1))


#: substrings of the RuntimeErrors gloo and NCCL raise when another rank is gone
_COMM_FAILURES = ("connection reset by peer", "connection closed by peer", "broken pipe", "gloo", "nccl",
                  "socket timeout", "timed out", "connection refused")


def is_comm_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective that failed because another rank ended (or hung)."""
    dist_error = getattr(dist, "DistError", None)
    if dist_error is not None and isinstance(exc, dist_error):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(s in text for s in _COMM_FAILURES)


class Terminated(KeyboardInterrupt):
    """SIGTERM: torchrun stops every rank this way when one of them fails or is interrupted."""


@contextmanager
def terminate_as_interrupt(enabled: bool) -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (a ``KeyboardInterrupt``) instead
    of ending the process at once, so rank 0 can write ``last.pt`` before it exits (torchrun
    sends SIGTERM, then SIGKILL 30 s later). Only in the main thread; else a no-op."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(f"signal {signal.Signals(signum).name}")

    before = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except BaseException:
        # the run is stopping (rank 0 has written last.pt): torchrun's SIGTERM, which follows
        # any rank's failure, would only cut the error message short now
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise
    signal.signal(signal.SIGTERM, before)


@contextmanager
def signals_deferred(enabled: bool) -> Iterator[None]:
    """Ignore SIGINT/SIGTERM within the block (a checkpoint being written after an interrupt
    is not torn by a second one). Only in the main thread; else a no-op."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in before.items():
            signal.signal(s, h)


class SyncedDiscriminator:
    """The discriminator as :meth:`~neutex.train.losses.Loss.discriminator_loss` sees it under
    DDP: its first ``score`` of a step goes through the DDP wrapper (which arms the gradient
    all-reduce of the next backward), the later ones through the module itself. Their
    gradients reach the same parameters and autograd sums them before DDP's hooks fire, so
    everything is all-reduced once, and no DDP forward is repeated before one backward."""

    def __init__(self, ddp: torch.nn.Module) -> None:
        self.ddp, self.module, self.armed = ddp, ddp.module, False

    def score(self, image: torch.Tensor, batch: dict, return_features: bool = False):
        net = self.module if self.armed else self.ddp
        self.armed = True
        return net(discriminator_input(image, batch, self.module.conditional), return_features)


def _restride_for_broadcast(module: torch.nn.Module) -> None:
    """Give 4-D parameters and buffers with a 1×1 spatial size plain contiguous strides.

    ``channels_last`` leaves such a tensor (a 1×1 conv weight, the relighter's ``(1, C, 1, 1)``
    channel mask) with strides that torch's coalesced broadcast, which DistributedDataParallel
    uses to send rank 0's state to the others, rejects as overlapping memory. The elements keep
    their order (the layouts coincide at 1×1), so nothing computed changes."""
    for mod in module.modules():
        for name, t in list(mod.named_parameters(recurse=False)) + list(mod.named_buffers(recurse=False)):
            if t is not None and t.dim() == 4 and t.shape[-2:] == (1, 1) and t.stride()[1:] != (1, 1, 1):
                plain = t.detach().clone(memory_format=torch.contiguous_format)
                if isinstance(t, torch.nn.Parameter):
                    t.data = plain
                else:
                    setattr(mod, name, plain)


def _has_running_stats(module: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.track_running_stats
               for m in module.modules())


def wrap_ddp(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``module`` (on ``device``) in DistributedDataParallel: its construction broadcasts rank
    0's parameters and buffers to every rank. Buffers are synced again at each forward only
    when the module has BatchNorm running statistics (nothing else in neutex's models changes)."""
    _restride_for_broadcast(module)
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, forward_sync_buffers=_has_running_stats(module))


def _comm_device(ctx: DistContext) -> torch.device | None:
    return torch.device("cuda", torch.cuda.current_device()) if ctx.backend == "nccl" else None


__all__ = ["DEFAULT_TIMEOUT_S", "DistContext", "MainFailed", "SyncedDiscriminator", "Terminated", "barrier",
           "from_main", "init_distributed", "is_comm_failure", "reduce_logs", "shutdown",
           "signals_deferred", "step_seed", "terminate_as_interrupt", "wrap_ddp"]
