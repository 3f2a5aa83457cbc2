"""neutex bench: the quick bench on tiny sizes writes the documented JSON shape, every number
positive and finite. Speed itself is never asserted (timings are machine- and load-dependent)."""

import json
import math

import pytest
import torch

from neutex.bench.config import BenchConfig
from neutex.bench.origin import OriginGenerator, OriginModel, OriginStep, OriginTexture
from neutex.bench.timing import summarize, time_interleaved
from neutex.cli import entrypoint
from neutex.errors import ConfigError
from neutex.model import count_flops

@pytest.fixture
def one_thread():
    """Tiny tensors: one thread avoids OpenMP barrier stalls when the CPU is shared (docs/bench.md)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


SCHEMA_KEYS = {"name", "res", "mode", "precision", "perceptual", "gan", "ms", "gflop", "fraction_of_peak", "per_s",
               "speedup_vs_origin"}


def test_quick_bench_json_shape(tmp_path):
    out = tmp_path / "bench.json"
    # one thread: on a shared machine, tiny ops with 2 OpenMP threads can stall on barriers
    argv = ["bench", "--quick", "--res", "32", "--inference-res", "32", "--inference-batch", "2",
            "--gan-steps", "True", "--repeats", "1", "--peak-sizes", "128",
            "--side-res", "32", "--synth-res", "16", "--synth-spp", "1", "--synth-images", "1",
            "--gbuffer-frames", "2", "--loader-batches", "4", "--threads", "1", "--modes", "neutex",
            "--sweep-frames", "4", "--json", str(out)]
    threads = torch.get_num_threads()
    assert entrypoint(argv) == 0
    assert torch.get_num_threads() == threads  # the bench restores the process-wide setting
    doc = json.loads(out.read_text())

    assert set(doc["peaks"]) == {"matmul_fp32_gflops", "matmul_bf16_gflops"}
    assert all(v > 0 and math.isfinite(v) for v in doc["peaks"].values())
    for key in ("torch", "threads", "cpu"):
        assert doc["machine"][key]
    assert isinstance(doc["ratios"], dict) and isinstance(doc["goals"], list)

    rows = doc["results"]
    names = {r["name"] for r in rows}
    assert {"train_step", "origin_step", "renderer", "inference", "inputs", "sweep"} <= names
    # side benches either ran or say why not
    for side in ("synth", "gbuffer", "loader"):
        assert side in names or side in {s["name"] for s in doc["skipped"]}

    for r in rows:
        assert r["ms"] > 0 and math.isfinite(r["ms"]) and r["per_s"] > 0 and math.isfinite(r["per_s"])
        for k in ("gflop", "fraction_of_peak", "speedup_vs_origin"):
            if k in r:
                assert r[k] > 0 and math.isfinite(r[k]), (r["name"], k, r[k])
        assert list(r)[0] == "name"

    steps = [r for r in rows if r["name"] == "train_step"]
    # the default model, fp32 and bf16; --gan-steps adds the GAN step
    assert {(r["precision"], r["gan"]) for r in steps} == {("fp32", False), ("bf16", False), ("fp32", True),
                                                            ("bf16", True)}
    for r in steps:
        assert r["res"] == 32 and r["mode"] == "neutex" and r["perceptual"] == "vgg"
        assert SCHEMA_KEYS <= set(r)  # a train_step row has every key of DESIGN.md's shape
    assert {r["gan"] for r in rows if r["name"] == "origin_step"} == {False, True}
    renderer = [r for r in rows if r["name"] == "renderer"]
    assert {r["precision"] for r in renderer} == {"fp32", "bf16"} and all("gan" not in r for r in renderer)
    inf = [r for r in rows if r["name"] == "inference"]
    assert inf and all(r["batch"] == 2 and "speedup_vs_origin" in r for r in inf)
    # the default model's inputs, as a fraction of its step, and a sweep with a shadow map per frame
    inputs = {r["what"]: r for r in rows if r["name"] == "inputs"}
    assert set(inputs) == {"cues", "cues+visibility (cached map)", "cues+visibility (new map)"}
    assert all(0 < r["fraction_of_step"] < 1 for r in inputs.values())
    sweeps = [r for r in rows if r["name"] == "sweep"]
    assert {r["precision"] for r in sweeps} == {"fp32", "bf16"} and all(r["frames"] == 4 and r["shadows"] for r in sweeps)
    # the same global batch of 2 on 1 process and on 2 gloo processes (DDP)
    ddp = {r["processes"]: r for r in rows if r["name"] == "ddp_step"}
    assert set(ddp) == {1, 2} and all(r["batch"] == 2 and r["per_s"] > 0 for r in ddp.values())
    assert ddp[2]["batch_per_process"] == 1 and ddp[1]["batch_per_process"] == 2
    assert ddp[2]["speedup_vs_one_process"] > 0 and ddp[2]["allreduce_ms"] > 0 and ddp[2]["comm_share"] > 0
    assert doc["ratios"]["ddp_step"]["32/multiply/2_processes"]["speedup_vs_one_process"] > 0


def test_config_defaults_and_errors():
    full = BenchConfig().resolve()
    assert full.res == (128, 256) and full.modes == ("neutex", "multiply", "concat") and full.gan_steps
    assert full.precisions == ("fp32", "bf16") and full.inference_res == 256
    quick = BenchConfig(quick=True).resolve()
    assert quick.res == (128,) and quick.modes == ("neutex", "multiply") and not quick.gan_steps
    with pytest.raises(ConfigError, match="bench.res: 100 is not a power of two"):
        BenchConfig(res=(100,))
    with pytest.raises(ConfigError, match="bench.repeats: must be >= 1"):
        BenchConfig(repeats=0)
    assert full.inference_batch == 4 and full.origin and full.ddp and full.side
    gpu = BenchConfig(device="cuda").resolve()  # CPU-only measurements left out, GPU-sized work
    assert not (gpu.origin or gpu.ddp or gpu.side) and gpu.inference_batch == 32 and gpu.peak_sizes == (8192,)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error():
    from neutex.bench.suite import run_bench

    with pytest.raises(ConfigError, match="no CUDA device"):
        run_bench(BenchConfig(device="cuda", quick=True))


def test_time_interleaved_rounds():
    calls = []
    t = time_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=2, warmup=1)
    assert calls == ["a", "b"] * 3
    assert len(t["a"]) == 2 and summarize(t["a"])["n"] == 2


def test_origin_generator_flops_match_quote():
    """The origin's pix2pix generator costs 12.5 GFLOP forward at 256² with 16 inputs (ORIGIN)."""
    g = OriginGenerator(16, 3, num_downs=8)
    gflop = count_flops(g, torch.zeros(1, 16, 256, 256, device="meta")) / 1e9
    assert gflop == pytest.approx(12.5, abs=0.1)


def test_origin_texture_samples_per_channel_per_level(monkeypatch):
    """The origin's anti-pattern, kept on purpose: one grid_sample per channel per level."""
    calls = []
    orig = torch.nn.functional.grid_sample

    def counting(*a, **k):
        calls.append(1)
        return orig(*a, **k)

    monkeypatch.setattr(torch.nn.functional, "grid_sample", counting)
    y = OriginTexture(channels=16, size=32)(torch.zeros(2, 4, 4, 2))
    assert y.shape == (2, 16, 4, 4) and len(calls) == 64


@pytest.mark.parametrize("mode", ["multiply", "concat"])
def test_origin_step_runs(mode, one_thread):
    res = 32
    g = torch.Generator().manual_seed(0)
    batch = {"grid": torch.rand(1, res, res, 2, generator=g) * 2 - 1, "mask": torch.ones(1, 1, res, res),
             "target": torch.rand(1, 3, res, res, generator=g),
             **{k: torch.randn(1, 3, res, res, generator=g) for k in ("normal", "light_dir", "view_dir")}}
    step = OriginStep(res, mode, gan=True)
    assert math.isfinite(step(batch))
    assert step.infer(batch).shape == (1, 3, res, res)
    assert OriginModel(res, mode).in_channels == (16 if mode == "multiply" else 25)


def test_without_opengl_the_bench_measures_attached_shadows_and_says_so(monkeypatch, one_thread):
    """A machine without an OpenGL context (a GPU box without its GL loaders) still gets its
    table: the sphere without a mesh, no shadow maps, and a line saying why."""
    import neutex.bench.suite as suite
    from neutex.errors import DependencyError

    def no_gl():
        raise DependencyError("EGL: no display")

    monkeypatch.setattr(suite, "create_context", no_gl)
    doc = suite.run_bench(BenchConfig(res=(32,), modes=("neutex",), precisions=("fp32",), inference_res=32,
                                      side=False, ddp=False, origin=False, gan_steps=False, sweep_frames=4,
                                      repeats=1, warmup=1, peak_sizes=(64,)))
    assert doc["machine"]["shadows"] == "attached only, no OpenGL context: EGL: no display"
    sweep = next(r for r in doc["results"] if r["name"] == "sweep")
    assert sweep["shadows"] is False and sweep["frames"] == 4
    assert [r["what"] for r in doc["results"] if r["name"] == "inputs"] == ["cues"]
