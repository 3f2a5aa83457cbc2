"""Relighting with environment maps: the sum of weighted one-light frames, ``neutex render
--envmap`` (still and turning video), environment ground truth through capture -> prepare ->
eval, and capture.json's ``environments`` validation."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from neutex.capture import load_capture, save_capture, write_exr
from neutex.capture.environments import Environment, EnvironmentFrame, parse_environments
from neutex.envmap import make_envmap, sample_envmap, write_envmap
from neutex.errors import CaptureError, ConfigError
from neutex.render.config import RenderConfig
from neutex.render.envlight import reference_irradiance, relight_envmap
from neutex.run import load_run


@pytest.fixture(scope="module")
def env_run(tmp_path_factory, egl, capture_maker, run_maker):
    """A mesh capture with two environments (constant 'ground truth'), prepared, and an untrained run."""
    from neutex.data.prepare import PrepareConfig, prepare_capture

    root = tmp_path_factory.mktemp("envcap")
    cap_json = capture_maker(root / "capture", views=3, lights=6, res=24)
    cap = load_capture(cap_json)
    envs = []
    for name in ("sky", "spot"):
        write_envmap(cap.root / f"envmaps/{name}.exr", make_envmap(name, 16))
        frames = []
        for c in cap.cameras[:2]:
            rel = f"environments/{name}/{c.id}.exr"
            write_exr(cap.root / rel, np.full((24, 24, 3), 0.3, np.float32))
            frames.append(EnvironmentFrame(c.id, rel))
        envs.append(Environment(name, f"envmaps/{name}.exr", 0.0, frames, {"spp": 1}))
    cap.environments = envs
    save_capture(cap)
    data = prepare_capture(PrepareConfig(cap_json, root / "prepared", progress=False))
    return run_maker(root / "run", data), data, cap.root


def test_relit_image_is_the_weighted_sum_of_one_light_frames(env_run):
    run, _, _ = env_run
    loaded = load_run(run, device="cpu")
    r = loaded.renderer(4)
    lights = sample_envmap(make_envmap("studio", 16), 10)
    e_ref = reference_irradiance(loaded.data.light_sources, loaded.data.light_intensities)
    relit = relight_envmap(r, loaded.data, 1, lights, e_ref)
    manual = torch.zeros_like(relit)
    for d, e in zip(lights.sources, lights.irradiance):
        f = torch.cat(list(r.frames(loaded.data, [1], d[None], e_ref[None])))[0]
        manual += f * torch.from_numpy((e / e_ref).astype(np.float32))[:, None, None]
    assert torch.allclose(relit, manual, atol=1e-5 * float(manual.abs().max()) + 1e-7)
    assert relit.shape == (3, 24, 24) and float(relit.abs().sum()) > 0


def test_data_has_environments(env_run):
    _, data_root, _ = env_run
    from neutex.data import PreparedData

    data = PreparedData.open(data_root)
    envs = {e.name: e for e in data.environments}
    assert set(envs) == {"sky", "spot"}
    e = envs["sky"]
    assert e.frames.shape == (2, 24, 24, 3) and e.views.tolist() == [0, 1]
    assert np.allclose(e.envmap().radiance, make_envmap("sky", 16).radiance, rtol=1e-6)
    assert e.white_level == pytest.approx(0.3, rel=1e-3)


def test_eval_scores_environments(env_run, monkeypatch):
    import neutex.eval.evaluate as ev

    run, _, _ = env_run
    # the buckets and sequences have their own tests: only the environments section here
    monkeypatch.setattr(ev, "evaluate_buckets", lambda loaded, *a, **k: ({}, {"nearest_light": {}}))
    monkeypatch.setattr(ev, "evaluate_sequences", lambda loaded, *a, **k: {})
    monkeypatch.setattr(ev, "plot_run_curves", lambda rows, run: None)
    res = ev.evaluate_run(run, "best", device="cpu", write=True, envmap_samples=8)
    env = json.loads((Path(run) / "eval.json").read_text())["environments"]
    assert set(env) == {"sky", "spot"} and res["environments"]["sky"]["lights"] <= 8
    for e in env.values():
        assert e["model"]["n"] == 2 and e["baseline"]["n"] == 2
        assert all(np.isfinite(e[k]["psnr_tonemapped"]) for k in ("model", "baseline"))
        assert [p["view"] for p in e["per_view"]] == e["views"]


def test_render_envmap_still_and_video(env_run, tmp_path):
    from neutex.render.pipeline import render_video
    from neutex.render.video import read_video

    run, _, cap_root = env_run
    still = render_video(RenderConfig(run, tmp_path / "sky.png", envmap=cap_root / "envmaps/sky.exr",
                                      envmap_samples=8, view="cam00", device="cpu"))
    s = json.loads(still.json.read_text())
    assert still.kind == "envmap" and (tmp_path / "sky.png").stat().st_size > 0
    assert s["envmap"]["lights"] <= 8 and s["ground_truth"]["environment"] == "sky"
    lin = render_video(RenderConfig(run, tmp_path / "sky.exr", envmap=cap_root / "envmaps/sky.exr",
                                    envmap_samples=8, view="cam00", device="cpu"))
    assert lin.kind == "envmap" and (tmp_path / "sky.exr").is_file()
    vid = render_video(RenderConfig(run, tmp_path / "turn.mp4", envmap=cap_root / "envmaps/spot.exr",
                                    envmap_samples=4, frames=3, device="cpu"))
    assert vid.kind == "envmap-rotate" and read_video(tmp_path / "turn.mp4").shape[0] == 3


def test_render_envmap_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="still image"):
        RenderConfig(tmp_path, tmp_path / "x.mp4", kind="envmap", envmap=tmp_path / "m.exr").validate()
    with pytest.raises(ConfigError, match="needs a map"):
        RenderConfig(tmp_path, tmp_path / "x.mp4", kind="envmap-rotate").validate()
    with pytest.raises(ConfigError, match="--kind envmap or envmap-rotate"):
        RenderConfig(tmp_path, tmp_path / "x.mp4", kind="sweep", envmap=tmp_path / "m.exr").validate()
    with pytest.raises(ConfigError, match="envmap-samples"):
        RenderConfig(tmp_path, tmp_path / "x.png", envmap=tmp_path / "m.exr", envmap_samples=0).validate()


@pytest.mark.parametrize("raw,match", [
    ("x", "expected a list"),
    ([{"name": "a b", "map": "m.exr", "frames": [{"camera": "c0", "image": "i.exr"}]}], "name"),
    ([{"name": "a", "map": "m.exr", "frames": []}], "frames: expected a non-empty list"),
    ([{"name": "a", "map": "m.exr", "frames": [{"camera": "c9", "image": "i.exr"}]}], "unknown camera id 'c9'"),
    ([{"name": "a", "map": "m.exr", "frames": [{"camera": "c0", "image": "i.exr"}], "spp": 3}], "unknown key"),
    ([{"name": "a", "map": "m.exr", "rotation_deg": "x", "frames": [{"camera": "c0", "image": "i.exr"}]}],
     "rotation_deg"),
])
def test_environments_validation(raw, match):
    with pytest.raises(CaptureError, match=match):
        parse_environments(raw, {"c0"})


def test_report_has_an_environment_section():
    from neutex.report.environment import environment_html

    assert environment_html({"variants": [{"name": "a", "environments": {}}]}) == ""
    env = {"views": ["cam00"], "held_out_views": [], "lights": 64, "sampling": "stratified", "white_level": 1.0,
           "model": {"psnr_tonemapped": 30.0, "psnr": 25.0, "ssim": 0.9},
           "baseline": {"psnr_tonemapped": 28.0, "psnr": 24.0, "ssim": 0.85}}
    page = environment_html({"variants": [{"name": "a", "environments": {"sky": env}},
                                          {"name": "b", "environments": {"sky": {**env, "model": {"psnr_tonemapped": 31.0}}}}]})
    assert "<h3>sky</h3>" in page and page.count("<tr") == 4 and "weighted captures" in page
    assert "<td class='best'>31.00</td>" in page
