"""kill -9 at any moment, then ``--resume``: the run ends exactly as an uninterrupted one.

The kills are real SIGKILLs of a ``neutex train`` child process, made deterministic by the
``NEUTEX_TEST_KILL_AT`` hook (neutex.run.checkpoint.kill_point): once after a random training
step, once after a checkpoint's temporary file is written and before it is renamed.
"""

import json
import os
import random
import signal

import pytest
import torch

from neutex.cli import entrypoint
from neutex.data.synthetic import write_synthetic_prepared
from neutex.run.checkpoint import KILL_AT_ENV, load_checkpoint

EPOCHS, PAIRS = 3, 4  # 12 steps, a checkpoint after every 4th


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return write_synthetic_prepared(tmp_path_factory.mktemp("prep") / "p", views=4, lights=8, res=16)


def train_args(prepared, out, *extra):
    return ["train", "--data", str(prepared), "--out", str(out), "--epochs", str(EPOCHS), "--perceptual", "off",
            "--seed", "5", "--model.texture-res", "16", "--model.unet-depth", "2", "--model.unet-width", "4",
            "--model.unet-max-width", "8", "--schedule.pairs-per-epoch", str(PAIRS), "--schedule.val-images", "2",
            "--schedule.sweep-frames", "4", "--schedule.log-every", "1", "--schedule.probe-every", "100",
            "--threads", "1", "--device", "cpu", *extra]  # CPU: bitwise; a forked child cannot use CUDA


def killed_run(args, kill_at: str) -> None:
    """``neutex ARGS`` in a child process that SIGKILLs itself at ``kill_at``.

    The child is forked from this test process rather than started afresh: it inherits
    the imported torch (about 7 s of imports per process on 2 cores), and is otherwise a
    separate process killed as ``kill -9`` would. It never returns into pytest."""
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.environ[KILL_AT_ENV] = kill_at
            entrypoint(args)
        finally:
            os._exit(3)  # reached only when the kill point was never hit
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (kill_at, status)


def metric_rows(run):
    """metrics.jsonl without wall-clock fields: ``train_seconds`` (optimisation time so far)
    legitimately differs in a resumed run, which repeats the steps after its checkpoint."""
    return [{k: v for k, v in json.loads(line).items() if k != "train_seconds"}
            for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_kill_9_then_resume_equals_the_uninterrupted_run(prepared, tmp_path):
    straight = tmp_path / "straight"
    assert entrypoint(train_args(prepared, straight)) == 0

    run = tmp_path / "killed"
    # 1) killed while writing the first last.pt: epoch-0001.pt and best.pt are written, last.pt
    #    is not, and .last.pt.tmp-PID is left behind
    killed_run(train_args(prepared, run), "write-last.pt")
    ck = run / "checkpoints"
    assert sorted(p.name for p in ck.iterdir() if not p.name.startswith(".")) == ["best.pt", "epoch-0001.pt"]
    assert [p.name for p in ck.glob(".last.pt.tmp-*")]
    # 2) resumed (from epoch-0001.pt), then killed after a random step of epochs 2-3, some
    #    metrics lines past the checkpoint
    step = random.randrange(PAIRS + 1, EPOCHS * PAIRS)
    killed_run(train_args(prepared, run, "--resume"), f"step-{step}")
    assert not list(ck.glob(".*.tmp-*")), "stale temp files are removed on resume"
    # 3) resumed to the end
    assert entrypoint(train_args(prepared, run, "--resume")) == 0, step

    assert not list(ck.glob(".*.tmp-*"))
    assert sorted(p.name for p in ck.iterdir()) == sorted(p.name for p in (straight / "checkpoints").iterdir())
    for name in ("last.pt", "best.pt", "epoch-0002.pt"):
        a, b = load_checkpoint(straight / "checkpoints" / name), load_checkpoint(ck / name)
        assert (a["epoch"], a["step"], a["best"]) == (b["epoch"], b["step"], b["best"]), (name, step)
        for key in a["model"]:
            assert torch.equal(a["model"][key], b["model"][key]), (name, key, step)
    assert metric_rows(run) == metric_rows(straight), f"killed after step {step}"
