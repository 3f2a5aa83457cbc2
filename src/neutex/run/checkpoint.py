"""Checkpoints: a dict of state_dicts plus position and config, written atomically.

Loaded with ``torch.load(weights_only=True, map_location="cpu")``: a checkpoint never
pickles a module, so it survives refactors and cannot run code.
"""

from __future__ import annotations

import ast
import os
import random
import re
import signal
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neutex.errors import CheckpointError


#: the temporary file :func:`save_checkpoint` writes before renaming: ``.last.pt.tmp-<pid>``
_TEMP_NAME = re.compile(r"^\.(?P<name>.+\.pt)\.tmp-(?P<pid>\d+)$")

#: Test hook (tests/train/test_kill.py): with ``NEUTEX_TEST_KILL_AT=<point>`` in the
#: environment the process SIGKILLs itself at that point, as a power cut or ``kill -9`` would:
#: ``step-<N>`` after training step N, ``write-<name>`` after the temporary file of checkpoint
#: ``<name>`` is written and before it is renamed. Unset, it costs one dict lookup.
KILL_AT_ENV = "NEUTEX_TEST_KILL_AT"


def kill_point(point: str) -> None:
    """SIGKILL this process if ``NEUTEX_TEST_KILL_AT`` names ``point`` (a test hook; see above)."""
    if os.environ.get(KILL_AT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` to ``path`` via a temporary file + fsync + rename (atomic on POSIX).

    A process killed in between leaves the temporary file ``.NAME.pt.tmp-PID`` behind, never a
    torn ``NAME.pt``; :func:`remove_stale_temp_files` clears those."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    kill_point(f"write-{path.name}")
    tmp.replace(path)
    return path


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own leftovers (there are none while we run) are stale by definition
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_files(folder: str | Path) -> list[Path]:
    """Delete the temporary files :func:`save_checkpoint` left in ``folder`` when its process
    was killed mid-write (``.NAME.pt.tmp-PID`` whose PID is no longer running). Nothing else is
    touched, and only in ``folder`` itself. Returns the deleted paths."""
    folder = Path(folder)
    removed = []
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            m = _TEMP_NAME.match(p.name)
            if m and p.is_file() and not p.is_symlink() and not _alive(int(m["pid"])):
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


def latest_checkpoint(folder: str | Path) -> Path | None:
    """The checkpoint a run resumes from: ``last.pt``, else the newest ``epoch-NNNN.pt`` (a
    process killed while writing ``last.pt`` has already written that epoch's), else None."""
    folder = Path(folder)
    if (folder / "last.pt").is_file():
        return folder / "last.pt"
    epochs = sorted(folder.glob("epoch-*.pt")) if folder.is_dir() else []
    return epochs[-1] if epochs else None


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises:
        CheckpointError: missing, truncated or not a neutex checkpoint (one line, naming the file).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch raises RuntimeError/UnpicklingError/EOFError for damage
        # (not torch's text: for random bytes it suggests weights_only=False, i.e. running code)
        raise CheckpointError(f"{path}: corrupt or unreadable checkpoint (truncated, damaged, or not written by neutex)",
                              hint="delete it and resume from an earlier one in the same folder") from None
    if not isinstance(state, dict) or "model" not in state or "epoch" not in state:
        raise CheckpointError(f"{path}: not a neutex checkpoint (no 'model'/'epoch' entries)")
    return state


def state_dict_mismatch(exc: RuntimeError) -> str:
    """torch's ``load_state_dict`` error in one line: its first detail ("size mismatch for
    renderer.head.0.weight: ..." or "Missing key(s) in state_dict: ..."), shortened."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    detail = lines[1] if len(lines) > 1 else (lines[0] if lines else type(exc).__name__)
    return detail if len(detail) <= 160 else detail[:157] + "..."


def rng_state() -> dict[str, Any]:
    """Every RNG the training loop touches, as tensors/plain values (weights_only-safe)."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached": float(np_state[4])},
        "python": repr(random.getstate()),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    py = ast.literal_eval(state["python"])
    random.setstate((py[0], tuple(py[1]), py[2]))


def epoch_checkpoint_name(epoch: int) -> str:
    return f"epoch-{epoch:04d}.pt"


def resolve_checkpoint(run: str | Path, which: str | int = "best") -> Path:
    """``best``, ``last``, an epoch number, or a file path -> the checkpoint file of a run."""
    run = Path(run)
    ckdir = run / "checkpoints"
    which = str(which)
    if which in ("best", "last"):
        path = ckdir / f"{which}.pt"
    elif which.isdigit():
        path = ckdir / epoch_checkpoint_name(int(which))
    else:
        path = Path(which)
    if not path.is_file():
        avail = sorted(p.name for p in ckdir.glob("*.pt")) if ckdir.is_dir() else []
        if not avail and (run / "config.json").is_file():
            raise CheckpointError(f"{run}: no checkpoint yet (training stopped before it wrote the first one)",
                                  hint="run the same `neutex train` command again: a run folder without a "
                                       "checkpoint starts afresh")
        raise CheckpointError(f"{path}: checkpoint not found (available in {ckdir}: {', '.join(avail) or 'none'})")
    return path

