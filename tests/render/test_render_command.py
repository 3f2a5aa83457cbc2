import json

import numpy as np
import pytest
import torch

from neutex.cli import entrypoint
from neutex.data import PreparedData
from neutex.errors import ConfigError, DataError
from neutex.render.config import RenderConfig
from neutex.eval.temporal import frame_subsample
from neutex.render.pipeline import render_video, resolve_view
from neutex.render.video import read_video

TEMPORAL_KEYS = {"tde", "tde_rel", "jump_index", "jump_index_gt", "peak_ratio", "peak_ratio_gt", "patch_peak_p99",
                 "worst_frame", "flagged_frames", "flagged_frames_gt"}


def test_sweep_writes_mp4_with_the_frame_count(sphere_run, tmp_path, capsys):
    out = tmp_path / "v" / "sweep.mp4"
    assert entrypoint(["render", str(sphere_run), "--out", str(out), "--frames", "20", "--fps", "10",
                       "--checkpoint", "last", "--exposure", "1", "--batch-size", "6"]) == 0
    video = read_video(out)
    assert video.shape == (20, 32, 32, 3)
    assert video.max() > 0  # the object is drawn
    js = json.loads(out.with_suffix(".json").read_text())
    assert js["kind"] == "sweep" and js["frames"] == 20 and js["fps"] == 10
    assert js["held_out_view"] and js["checkpoint"].endswith("last.pt")
    assert js["light"]["type"] == "point" and js["light"]["elevation_deg"] == 30.0
    assert len(js["sources"]) == 20
    assert {"jump_index", "flagged_frames"} <= set(js["temporal"])
    printed = capsys.readouterr().err
    assert f"wrote {out}" in printed and "20 frames" in printed and "rendered in" in printed


def test_sweep_options(sphere_run, sphere_data, tmp_path):
    data = PreparedData.open(sphere_data)
    cfg = RenderConfig(sphere_run, tmp_path / "s.mp4", view="cam01", frames=6, distance=2.0, elevation=60.0,
                       caption=True, precision="bf16", white=0.25)
    res = render_video(cfg)
    assert res.frames == 6 and res.kind == "sweep" and res.summary["view"] == "cam01"
    assert res.summary["precision"] == "bf16" and res.summary["white"] == 0.25
    src = np.array(res.summary["sources"])
    np.testing.assert_allclose(np.linalg.norm(src[:, :3], axis=1), 2.0)
    np.testing.assert_allclose(src[:, 2], 2.0 * np.sin(np.radians(60.0)))  # up is z
    assert read_video(res.video).shape == (6, 32, 32, 3)
    # view by index
    res2 = render_video(RenderConfig(sphere_run, tmp_path / "s2.mp4", view="1", frames=4))
    assert res2.summary["view"] == data.view_ids[1]


def test_sequence_side_by_side_and_json(sphere_run, tmp_path, capsys):
    out = tmp_path / "seq.mp4"
    assert entrypoint(["render", str(sphere_run), "--out", str(out), "--sequence", "sweep"]) == 0
    video = read_video(out)
    assert video.shape == (12, 32, 3 * 32 + 2 * 2, 3)  # GT | prediction | error, 2-px gaps
    js = json.loads(out.with_suffix(".json").read_text())
    assert js["kind"] == "sequence" and js["sequence"] == "sweep" and js["frames"] == 12
    assert TEMPORAL_KEYS <= set(js["temporal"])
    assert js["temporal"]["tde"] is not None and js["temporal"]["jump_index_gt"] is not None
    assert js["flagged_frames"] == js["temporal"]["flagged_frames"]
    assert len(js["per_frame"]["psnr"]) == 12 and len(js["curves"]["tde_t"]) == 12
    assert js["fps"] == 30.0  # the sequence's own rate
    err = capsys.readouterr().err
    assert "tDE" in err and "flagged frames" in err


def test_sequence_subsampled(sphere_run, tmp_path):
    res = render_video(RenderConfig(sphere_run, tmp_path / "q.mp4", kind="sequence", frames=5, caption=False))
    assert res.summary["sequence_frames"] == [0, 3, 6, 9]  # at most 5, at one stride
    assert res.fps == pytest.approx(30.0 * 4 / 12)
    assert read_video(res.video).shape[0] == 4


def test_orbit_without_mesh_is_one_line(sphere_run, tmp_path, capsys):
    out = tmp_path / "o.mp4"
    assert entrypoint(["render", str(sphere_run), "--out", str(out), "--kind", "orbit"]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("note:")]
    assert lines[0].startswith("error:") and "no mesh.obj" in lines[0] and "--kind orbit" in lines[0]
    assert all(line.startswith(("error:", "fix:")) for line in lines)
    assert not out.exists() and not out.with_suffix(".json").exists()


@pytest.mark.parametrize("argv, message", [
    (["--kind", "orbit", "--sequence", "sweep"], "sequence: --sequence renders"),
    (["--sequence", "sweep", "--view", "cam00"], "view: a sequence is seen by its own camera"),
    (["--light", "L000"], "light: a fixed light is for --kind orbit"),
    (["--frames", "1"], "frames: a video needs at least 2 frames"),
    (["--view", "nope"], "view: no camera 'nope'"),
    (["--view", "17"], "view: index 17 out of range"),
    (["--sequence", "nope"], "no sequence named 'nope'"),
    (["--checkpoint", "7"], "checkpoint not found"),
])
def test_bad_options_give_one_line(sphere_run, tmp_path, capsys, argv, message):
    out = tmp_path / "x.mp4"
    assert entrypoint(["render", str(sphere_run), "--out", str(out), *argv]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and message in err[0]


def test_config_checks(tmp_path):
    with pytest.raises(ConfigError, match="must be an .mp4"):
        RenderConfig(tmp_path, tmp_path / "x.avi").validate()
    assert RenderConfig(tmp_path, tmp_path / "x.mp4", sequence="s").resolved_kind == "sequence"
    assert RenderConfig(tmp_path, tmp_path / "x.mp4").resolved_kind == "sweep"


def test_resolve_view_and_frame_subsample(sphere_data):
    data = PreparedData.open(sphere_data)
    held = int(data.held_out_views[0]) if len(data.held_out_views) else 0
    assert resolve_view(data, None) == held
    assert resolve_view(data, None, "first") == 0
    assert resolve_view(data, "cam02") == 2 and resolve_view(data, "3") == 3
    with pytest.raises(DataError):
        resolve_view(data, "-1")
    assert frame_subsample(12, None).tolist() == list(range(12))
    assert frame_subsample(12, 3).tolist() == [0, 4, 8]  # one stride: time stays uniform
    assert frame_subsample(12, 5).tolist() == [0, 3, 6, 9]


# ---------------------------------------------------------------- orbits (need EGL)


def test_orbit_renders_new_views(mesh_run, mesh_data, tmp_path):
    res = render_video(RenderConfig(mesh_run, tmp_path / "orbit.mp4", kind="orbit", frames=8, light="L001"))
    video = read_video(res.video)
    assert video.shape == (8, 32, 32, 3)
    assert res.summary["light"] == {"path": "fixed", "stage_light": "L001"}
    assert (np.array(res.summary["sources"]) == np.array(res.summary["sources"][0])).all()
    cp = res.summary["camera_path"]
    assert cp["distance"] == pytest.approx(np.hypot(3.0, 0.8), rel=1e-6)
    assert cp["elevation_deg"] == pytest.approx(np.degrees(np.arctan2(0.8, 3.0)), rel=1e-6)


def test_orbit_first_frame_is_the_dataset_view(mesh_run, mesh_data, tmp_path):
    """The ring goes through the dataset's cameras: frame 0 starts at view 0 and, lit by the same
    stage light, renders what the model renders for view 0 from the prepared G-buffers."""
    from neutex.capture.mesh import load_mesh
    from neutex.data.loader import GBufferTensors
    from neutex.run.load import load_run
    from neutex.gbuffer import Rasterizer
    from neutex.render.cameras import orbit_cameras, orbit_start_deg, ring_of
    from neutex.run.predict import FrameRenderer

    loaded = load_run(mesh_run, device="cpu")
    data = loaded.data
    ring = ring_of(data.cameras, data.up)
    cams = orbit_cameras(data.cameras[0], 4, ring["distance"], ring["elevation_deg"], data.up,
                         start_deg=orbit_start_deg(data.cameras[0], data.up))
    with Rasterizer() as r:
        g = r.render(load_mesh(data.mesh_path), cams[0])
    assert (g["mask"] == np.asarray(data.mask[0], bool)).mean() > 0.99
    t = GBufferTensors.from_gbuffers([g], cams[:1])
    fr = FrameRenderer(loaded.model, loaded.encoding)
    with torch.no_grad():
        new = torch.cat(list(fr.frames(t, [0], data.light_sources[:1], data.default_intensity)))
        ref = torch.cat(list(fr.sweep(data, 0, data.light_sources[:1])))
    both = (t.mask[0, 0] > 0) & torch.from_numpy(np.array(data.mask[0], bool))
    assert (new - ref).abs()[0][:, both].max() < 1e-3 * max(float(ref.abs().max()), 1e-6) + 1e-5


def test_both_moves_camera_and_light(mesh_run, tmp_path):
    res = render_video(RenderConfig(mesh_run, tmp_path / "both.mp4", kind="both", frames=6, caption=True))
    assert read_video(res.video).shape == (6, 32, 32, 3)
    src = np.array(res.summary["sources"])
    assert len(np.unique(src.round(6), axis=0)) == 6 and res.summary["light"]["turns"] == -1.0


def test_bf16_run_renders_in_bf16(sphere_data, tmp_path, run_maker):
    run = run_maker(tmp_path / "run16", sphere_data, precision="bf16")
    res = render_video(RenderConfig(run, tmp_path / "b.mp4", frames=3))
    assert res.summary["precision"] == "bf16"
    res = render_video(RenderConfig(run, tmp_path / "f.mp4", frames=3, precision="fp32", threads=1))
    assert res.summary["precision"] == "fp32"
    assert torch.get_num_threads() >= 1


def test_sweep_lights_directional_when_the_stage_is():
    from types import SimpleNamespace

    from neutex.render.pipeline import sweep_lights

    stage = np.array([[0.0, 0.6, 0.8, 0.0], [0.6, 0.0, 0.8, 0.0]])
    data = SimpleNamespace(light_sources=stage, up=np.array([0.0, 0.0, 1.0]))
    src, desc = sweep_lights(data, RenderConfig(".", "x.mp4", elevation=45.0), 8, 0.0, 1.0)
    assert desc["type"] == "directional" and desc["distance"] is None and (src[:, 3] == 0).all()
    np.testing.assert_allclose(src[:, 2], np.sqrt(0.5))
    src, desc = sweep_lights(data, RenderConfig(".", "x.mp4", distance=2.0), 4, 0.0, 1.0)
    assert desc["type"] == "point" and (src[:, 3] == 1).all()


@pytest.mark.parametrize("load, cores, threads, want", [(0.2, 2, 2, 2), (1.2, 2, 2, 1), (4.0, 2, 2, 1),
                                                         (1.0, 8, 8, 7), (0.0, 8, 4, 4)])
def test_busy_cpu_threads(monkeypatch, load, cores, threads, want):
    import os

    from neutex.render.pipeline import busy_cpu_threads

    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert busy_cpu_threads(threads) == want
