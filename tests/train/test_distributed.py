"""Distributed data parallel training (torchrun): 2 CPU processes (gloo) train what one process
does with the same global batch and pair order, a 2-process run resumes on 1, and a killed
rank leaves a usable last.pt.

The ranks are children forked from this test process with the environment torchrun gives its
workers (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT): ``neutex train`` cannot tell
them from torchrun's, and they inherit the imported torch instead of spending seconds each on
imports. One thread per rank (``--threads 1``): OpenMP is not fork-safe with more. The real
launcher (``torchrun``, its SIGTERM on failure and Ctrl-C) is exercised by the ``slow`` tests.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest
import torch

from neutex.cli import entrypoint
from neutex.data import PairLoader, PreparedData
from neutex.data.synthetic import write_synthetic_prepared
from neutex.run.checkpoint import KILL_AT_ENV, load_checkpoint
from neutex.train.distributed import step_seed

PAIRS = 6  # pairs per epoch: 3 steps of a global batch of 2
#: float tolerance between one process and two: the all-reduce sums the two halves of the
#: gradient in another order than one process's batch mean does
ATOL = 2e-5


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return write_synthetic_prepared(tmp_path_factory.mktemp("prep") / "p", views=4, lights=8, res=32)


def train_args(prepared, out, batch, *extra):
    return ["train", "--data", str(prepared), "--out", str(out), "--epochs", "2", "--perceptual", "off",
            "--seed", "5", "--model.texture-res", "16", "--model.unet-depth", "2", "--model.unet-width", "4",
            "--model.unet-max-width", "8", "--schedule.pairs-per-epoch", str(PAIRS), "--schedule.batch-size",
            str(batch), "--schedule.val-images", "1", "--schedule.sweep-frames", "3", "--schedule.log-every", "1",
            "--schedule.probe-every", "100", "--threads", "1", "--device", "cpu", *extra]


#: light smoothness: 3 more forwards per step; GAN: a discriminator under DDP too; EMA weights
REMEDIES_AND_GAN = ("--remedies.light-smoothness", "0.5", "--loss.gan", "--disc.width", "8", "--disc.n-layers", "2",
                    "--remedies.ema", "0.9")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ranks(args, world: int = 2, env: dict | None = None, timeout: float = 120) -> list[int]:
    """``neutex ARGS`` as ``world`` forked ranks of one gloo group; their exit statuses
    (a negative number: killed by that signal)."""
    port = free_port()
    pids = []
    for rank in range(world):
        pid = os.fork()
        if pid == 0:  # a rank
            code = 3
            try:
                os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
                                   "LOCAL_WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1",
                                   "MASTER_PORT": str(port), **(env or {})})
                code = entrypoint(args)
            except BaseException:  # a bug: show it (os._exit skips the interpreter's report)
                os.write(2, traceback.format_exc().encode())
            finally:
                os._exit(code)
        pids.append(pid)
    codes, deadline = {}, time.monotonic() + timeout
    while len(codes) < world:
        for pid in pids:
            if pid not in codes:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    codes[pid] = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        if time.monotonic() > deadline:  # never leave ranks behind, whatever failed
            for pid in pids:
                if pid not in codes:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
            pytest.fail(f"ranks did not finish in {timeout} s")
        time.sleep(0.05)
    return [codes[p] for p in pids]


def ckpt(run, name="last.pt"):
    return load_checkpoint(run / "checkpoints" / name)


def max_weight_diff(a, b) -> float:
    assert a["model"].keys() == b["model"].keys()
    return max(float((a["model"][k].float() - b["model"][k].float()).abs().max()) for k in a["model"])


def train_rows(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()
            if json.loads(line)["kind"] == "train"]


def test_two_processes_train_as_one_with_the_global_batch_and_resume_on_one(prepared, tmp_path, capsys):
    # one process, batch 2, stopped after 4 steps (epoch 2, 2 of its 6 pairs done)
    one = tmp_path / "one"
    assert entrypoint(train_args(prepared, one, 2, *REMEDIES_AND_GAN, "--schedule.stop-after", "4")) == 0
    # two processes, batch 1 each: the same global batch of 2, the same pairs in the same order
    two = tmp_path / "two"
    assert run_ranks(train_args(prepared, two, 1, *REMEDIES_AND_GAN, "--schedule.stop-after", "4")) == [0, 0]

    a, b = ckpt(one), ckpt(two)
    assert (b["epoch"], b["step"], b["pairs_in_epoch"], b["world_size"]) == (1, 4, 2, 2)
    assert (a["epoch"], a["step"], a["pairs_in_epoch"]) == (1, 4, 2)
    diff = max_weight_diff(a, b)
    print(f"max |weight difference| after 4 steps, 1 vs 2 processes: {diff:.3g}")
    assert diff < ATOL
    assert max_weight_diff(ckpt(one, "epoch-0001.pt"), ckpt(two, "epoch-0001.pt")) < ATOL
    for k in ("disc", "optimizer"):
        assert b[k] is not None
    for k in ("disc", "ema"):
        assert max(float((a[k][n].float() - b[k][n].float()).abs().max()) for n in a[k]) < ATOL, k
    # rank 0 logged the loss of the whole global batch, once per step, and validated each epoch
    ra, rb = train_rows(one), train_rows(two)
    assert [r["iteration"] for r in rb] == [1, 2, 3, 4]
    for x, y in zip(ra, rb):
        assert x.keys() == y.keys()
        for key in ("loss", "l1", "smoothness", "d_loss", "gan_g"):
            assert y[key] == pytest.approx(x[key], rel=1e-4, abs=1e-6), key
    assert [json.loads(l)["epoch"] for l in (two / "metrics.jsonl").read_text().splitlines()
            if json.loads(l)["kind"] == "val"] == [1]
    extra = json.loads((two / "config.json").read_text())
    assert extra["resolved"]["distributed"] == {"world_size": 2, "backend": "gloo", "global_batch_size": 2}

    # the 2-process run resumed on 1 process (batch 1): the 4 remaining pairs of epoch 2, in
    # order; the reference is the 1-process run resumed with batch 1 from its own step 4
    capsys.readouterr()
    assert entrypoint(train_args(prepared, two, 1, *REMEDIES_AND_GAN, "--resume")) == 0
    assert "step 4 on 1 process (written by 2)" in capsys.readouterr().err.replace("\n", "")
    ref = tmp_path / "ref"
    shutil.copytree(one, ref)
    cfg = json.loads((ref / "config.json").read_text())
    cfg["config"]["schedule"]["batch_size"] = 1
    (ref / "config.json").write_text(json.dumps(cfg))
    assert entrypoint(train_args(prepared, ref, 1, *REMEDIES_AND_GAN, "--resume")) == 0
    c, r = ckpt(two), ckpt(ref)
    assert (c["epoch"], c["step"], c["pairs_in_epoch"], c["world_size"]) == (2, 8, 0, 1) == (
        r["epoch"], r["step"], r["pairs_in_epoch"], 1)
    diff = max_weight_diff(c, r)
    print(f"max |weight difference| after the 1-process resume: {diff:.3g}")
    assert diff < ATOL
    assert [r["iteration"] for r in train_rows(two)] == list(range(1, 9))


def test_a_killed_rank_stops_every_rank_and_rank_0_keeps_last_pt(prepared, tmp_path, capfd):
    run = tmp_path / "run"
    args = train_args(prepared, run, 1, "--remedies.light-jitter-deg", "3")  # per-rank RNG streams
    codes = run_ranks(args, env={KILL_AT_ENV: "rank1-step-2"})
    assert codes == [2, -signal.SIGKILL]
    st = ckpt(run)
    assert (st["epoch"], st["step"], st["pairs_in_epoch"]) == (0, 2, 4)
    err = capfd.readouterr().err.replace("\n", "")
    assert "stopped at epoch 1, step 2; checkpoint written" in err
    assert "error: lost the other processes at epoch 1, step 2" in err and "--resume" in err
    # and it resumes, on two processes, to the end
    assert run_ranks(args + ["--resume"]) == [0, 0]
    assert (ckpt(run)["epoch"], ckpt(run)["step"]) == (2, 6)


def test_ranks_load_disjoint_shards_of_the_global_order(prepared):
    data = PreparedData.open(prepared)
    pairs = data.pairs("train")
    one = PairLoader(data, pairs, batch_size=3, seed=7, max_pairs=7)
    shards = [PairLoader(data, pairs, batch_size=2, seed=7, max_pairs=7, rank=r, world_size=2) for r in range(2)]
    assert len(one) == 3 and [len(s) for s in shards] == [2, 2]  # 7 pairs: global batches 4, 3
    order = one.order(4)
    for s in shards:
        s.set_epoch(4)
    got = [[(b["view"].tolist(), b["light"].tolist(), float(b["loss_weight"])) for b in s] for s in shards]
    pv = [(int(v), int(l)) for v, l in order]
    assert [list(zip(v, l)) for v, l, _ in got[0]] == [pv[0:2], pv[4:6]]
    assert [list(zip(v, l)) for v, l, _ in got[1]] == [pv[2:4], pv[6:7]]
    # the short last step: weights 2·2/3 and 2·1/3 make the all-reduced mean the batch mean
    assert [w for *_, w in got[0]] == [1.0, pytest.approx(4 / 3)]
    assert [w for *_, w in got[1]] == [1.0, pytest.approx(2 / 3)]
    # a resume position in pairs: the next step starts there, whatever the process count was
    shards[1].set_epoch(4, start_pair=3)
    assert [list(zip(b["view"].tolist(), b["light"].tolist())) for b in shards[1]] == [pv[5:7]]
    # a rank with nothing left in a short step loads a pair with weight 0 (it must step too)
    four = PairLoader(data, pairs, batch_size=1, seed=7, max_pairs=7, rank=3, world_size=4)
    four.set_epoch(4, start_pair=4)
    (last,) = list(four)
    assert float(last["loss_weight"]) == 0.0 and last["view"].tolist() == [pv[4][0]]
    assert [one.step_pairs(p) for p in (0, 4, 6, 7)] == [3, 3, 1, 0]


def test_step_seeds_differ_by_rank_and_step_and_repeat():
    seeds = {(r, s): step_seed(0, r, s) for r in range(3) for s in range(50)}
    assert len(set(seeds.values())) == len(seeds)
    assert step_seed(0, 1, 7) == seeds[(1, 7)] and step_seed(1, 1, 7) != seeds[(1, 7)]
    torch.manual_seed(step_seed(0, 1, 7))  # a valid torch seed


# ----------------------------------------------------------------------------- the real launcher


def torchrun(args, **popen):
    exe = Path(sys.executable).with_name("torchrun")
    if not exe.is_file():
        pytest.skip("no torchrun next to this python")
    return subprocess.Popen([str(exe), "--nproc_per_node", "2", "--master_port", str(free_port()),
                             "-m", "neutex", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            **popen)


def processes_mentioning(text: str) -> list[int]:
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit() and int(p.name) != os.getpid():
            try:
                if text in (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(p.name))
            except OSError:
                pass
    return found


@pytest.mark.slow
def test_torchrun_two_processes_then_a_killed_rank_then_ctrl_c(prepared, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = tmp_path / "run"
    args = train_args(prepared, run, 1, "--epochs", "8")
    # 1) torchrun; rank 1 is killed after step 2: torchrun stops rank 0 (SIGTERM), which writes last.pt
    p = torchrun(args, env={**env, KILL_AT_ENV: "rank1-step-2"})
    out, _ = p.communicate(timeout=300)
    assert p.returncode != 0, out
    st = ckpt(run)
    assert st["step"] in (2, 3) and st["world_size"] == 2, out  # rank 0 may finish the step it was in
    assert "checkpoint written; continue with --resume" in out.replace("\n", ""), out
    assert not processes_mentioning(str(run)), "orphan ranks"
    # 2) resumed under torchrun, then Ctrl-C (SIGINT to torchrun, as a terminal sends it)
    p = torchrun(args + ["--resume"], env=env)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and max(r["iteration"] for r in train_rows(run)) < 4:
        time.sleep(0.1)
    p.send_signal(signal.SIGINT)  # mid-run: 24 steps in all
    out, _ = p.communicate(timeout=120)
    assert p.returncode != 0, out
    assert "checkpoint written; continue with --resume" in out.replace("\n", ""), out
    assert not processes_mentioning(str(run)), "orphan ranks"
    # 3) resumed to the end on one process, and evaluated as any run
    assert entrypoint(args + ["--resume"]) == 0
    assert ckpt(run)["epoch"] == 8
    assert entrypoint(["eval", str(run), "--checkpoint", "last"]) == 0
