"""The viewer's frames, without a browser: captured views with ground truth, new poses through
the rasterizer with their buffers cached, environment maps, sequences."""

import math

import numpy as np
import pytest
import torch

from neutex.run import load_run
from neutex.viewer.app import check_port
from neutex.viewer.engine import Lighting, ViewerEngine, camera_from_pose, fov_y_of, wxyz_of
from neutex.errors import ConfigError


@pytest.fixture(scope="module")
def engine(viewer_run):
    e = ViewerEngine(load_run(viewer_run, device="cpu"), amp=None)
    yield e
    e.close()


def test_captured_view_and_light_have_ground_truth(engine):
    d = engine.data
    img, info = engine.frame(d.cameras[1], Lighting("stage", index=2), "error")
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    assert info["view"] == "cam01" and info["has_gt"] and info["display"] == "error" and math.isfinite(info["psnr"])
    _, info = engine.frame(1, Lighting("point"), "error")  # not a captured light: prediction only
    assert not info["has_gt"] and info["display"] == "prediction"


def test_new_pose_is_rasterized_once_and_cached(engine, monkeypatch):
    cam0 = engine.data.cameras[0]
    q = wxyz_of(cam0)
    assert np.allclose(camera_from_pose(cam0.center_world, q, fov_y_of(cam0), 32, 1.0).world_to_camera,
                       cam0.world_to_camera, atol=1e-9)
    cam = camera_from_pose(cam0.center_world * 1.1, q, fov_y_of(cam0), 24, 1.5)
    img, info = engine.frame(cam, Lighting("point", source=np.array([2.0, 0, 2, 1])))
    assert img.shape == (24, 36, 3) and info["view"] is None and img.any()
    calls = []
    real = engine._raster.render
    monkeypatch.setattr(engine._raster, "render", lambda *a: calls.append(1) or real(*a))
    img2, _ = engine.frame(cam, Lighting("point", source=np.array([-2.0, 0, 2, 1])))
    assert calls == [] and not np.array_equal(img, img2)  # same pose: cached buffers, new light


def test_envmap_and_sequence_lighting(engine):
    from neutex.envmap import sample_envmap
    from neutex.render.envlight import relight_envmap

    vc = engine.view_cache(0)
    ours = engine.render_linear(vc, Lighting("envmap", name="studio", samples=6))
    ref = relight_envmap(engine.loaded.renderer(8, amp=None), engine.data, 0, sample_envmap(engine.envmaps["studio"], 6),
                         engine.e_ref).cpu()
    assert torch.allclose(ours, ref, atol=1e-5)
    turned = engine.render_linear(vc, Lighting("envmap", name="studio", samples=6, rotation_deg=90.0))
    assert not torch.allclose(ours, turned)
    _, info = engine.frame(0, Lighting("sequence", name="sweep_cam00", index=3), "ground truth")
    assert info["has_gt"] and info["display"] == "ground truth"
    m = engine.sequence_metrics("sweep_cam00")
    assert m["frames"] == 6 and len(m["psnr"]) == 6


def test_turning_a_map_over_fixed_cells_renders_no_new_frame(engine, monkeypatch):
    """The preview while a map turns: K one-light frames per pose, then only re-weighting."""
    from neutex.envmap import EnvLights
    from neutex.envmap.sampling import cell_directions, cell_irradiance
    from neutex.render.envlight import relight_envmap

    vc = engine.view_cache(0)
    first = engine.render_linear(vc, Lighting("envmap", name="sky", samples=6, rotation_deg=10.0, fixed_cells=True))
    calls = []
    real = engine.model.render
    monkeypatch.setattr(engine.model, "render", lambda *a: calls.append(1) or real(*a))
    turned = engine.render_linear(vc, Lighting("envmap", name="sky", samples=6, rotation_deg=50.0, fixed_cells=True))
    assert calls == [] and not torch.allclose(first, turned)
    env = engine.envmaps["sky"]
    lights = EnvLights(cell_directions(6, env.up), cell_irradiance(env, 6, 50.0), "fixed_cells", 6)
    ref = relight_envmap(engine.loaded.renderer(8, amp=None), engine.data, 0, lights, engine.e_ref).cpu()
    assert torch.allclose(turned, ref, atol=1e-5)


def test_taken_port_is_a_one_line_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with pytest.raises(ConfigError, match=f"port {port} on 127.0.0.1: already in use"):
            check_port("127.0.0.1", port)
