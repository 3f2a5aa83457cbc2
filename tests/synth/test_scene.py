"""Pure parts of the generator: light stage, cameras, scene dicts, configs (no rendering)."""

import math

import numpy as np
import pytest

from neutex.capture import Camera, look_at, pinhole_K
from neutex.capture.schema import check_rigid
from neutex.data.splits import make_split
from neutex.errors import CaptureError, ConfigError
from neutex.synth.command import SynthCommand
from neutex.synth.config import PRESETS, SynthConfig, preset_config
from neutex.synth.scene import CV_TO_MITSUBA, build_aov_scene_dict, build_scene_dict, sensor_dict
from neutex.synth.stage import light_stage_positions, pick_sweep_cameras, sweep_positions, turntable_cameras


def test_light_stage_on_cube_faces():
    p = light_stage_positions(8, 2.0)
    assert p.shape == (384, 3)
    assert np.allclose(np.abs(p).max(1), 2.0)  # every light on a face
    for k, (axis, sign) in enumerate([(0, 1), (0, -1), (1, 1), (1, -1), (2, 1), (2, -1)]):
        face = p[k * 64:(k + 1) * 64]
        assert np.allclose(face[:, axis], sign * 2.0)
        others = np.delete(face, axis, 1)
        assert np.allclose(np.sort(np.unique(others[:, 0])), (np.arange(8) + 0.5) / 8 * 4 - 2)
    assert len(np.unique(np.round(p, 9), axis=0)) == 384


def test_sweep_circle():
    p = sweep_positions(36, 2.5, 30.0)
    assert np.allclose(np.linalg.norm(p, axis=1), 2.5)
    assert np.allclose(p[:, 2], 2.5 * math.sin(math.radians(30)))
    az = np.unwrap(np.arctan2(p[:, 1], p[:, 0]))
    assert np.allclose(np.diff(az), 2 * np.pi / 36)  # counter-clockwise about +z, uniform steps


def test_turntable_cameras_look_at_origin_with_z_up():
    cams = turntable_cameras(4, 33, 3.0, 15.0, 30.0)
    assert [c.id for c in cams] == ["cam00", "cam01", "cam02", "cam03"]
    for c in cams:
        check_rigid(c.world_to_camera, c.id)
        assert np.allclose(c.K[:2, 2], [16.0, 16.0])  # (W-1)/2
        assert np.isclose(np.linalg.norm(c.center_world), 3.0)
        px = c.K @ (c.world_to_camera[:3, :3] @ np.zeros(3) + c.world_to_camera[:3, 3])
        assert np.allclose(px[:2] / px[2], [16.0, 16.0])  # the origin projects to the centre
        top = c.K @ (c.world_to_camera[:3, :3] @ np.array([0, 0, 0.5]) + c.world_to_camera[:3, 3])
        assert top[1] / top[2] < 16.0  # +z is up in the image
        assert np.isclose(math.degrees(math.asin(c.center_world[2] / 3.0)), 15.0)


def test_sweep_cameras_are_held_out_and_seen():
    views = [f"cam{i:02d}" for i in range(32)]
    lights = [f"L{i:03d}" for i in range(384)]
    split = make_split(views, lights, 7 / 8, 7 / 8, seed=0)
    picked = pick_sweep_cameras(views, lights, 2)
    assert picked[0] in split.held_out_views and picked[1] in split.seen_views
    assert pick_sweep_cameras(views[:2], lights, 5) == pick_sweep_cameras(views[:2], lights, 2)
    assert pick_sweep_cameras(views, lights, 0) == []


def test_sensor_dict_matches_opencv_camera():
    cam = Camera("c", 64, 48, look_at([0, -3, 1], [0, 0, 0], [0, 0, 1]), K=pinhole_K(64, 48, 40.0))
    d = sensor_dict(cam, {"type": "independent", "sample_count": 4})
    assert d["type"] == "perspective" and d["fov_axis"] == "x" and math.isclose(d["fov"], 40.0)
    assert d["principal_point_offset_x"] == 0 and d["principal_point_offset_y"] == 0
    assert d["film"]["width"] == 64 and d["film"]["height"] == 48 and d["film"]["rfilter"] == {"type": "box"}
    to_world = d["to_world"]
    assert np.allclose(to_world, cam.camera_to_world @ CV_TO_MITSUBA)
    assert np.allclose(to_world[:3, 3], cam.center_world)
    assert np.allclose(to_world[:3, 2], cam.forward_world)  # Mitsuba looks down local +z
    K = cam.K.copy()
    K[0, 2] += 3
    off = sensor_dict(Camera("o", 64, 48, cam.world_to_camera, K=K), {"type": "independent"})
    assert math.isclose(off["principal_point_offset_x"], -3 / 64)


def test_sensor_dict_rejects_what_mitsuba_cannot_model():
    K = pinhole_K(32, 32, 30.0)
    K[1, 1] *= 1.1
    with pytest.raises(CaptureError, match=r"camera c\.K: Mitsuba needs square pixels"):
        sensor_dict(Camera("c", 32, 32, np.eye(4), K=K), {})
    with pytest.raises(CaptureError, match="only pinhole"):
        sensor_dict(Camera("o", 32, 32, np.eye(4), "orthographic", scale=(1.0, 1.0)), {})


def test_scene_dict_structure():
    cams = turntable_cameras(2, 16, 3.0, 15.0, 30.0)
    d = build_scene_dict("mesh.obj", "a.png", "r.png", cams, spp=9, max_depth=3, light_position=(1, 2, 3),
                         light_intensity=(4, 5, 6))
    assert d["type"] == "scene"
    assert set(d) == {"type", "integrator", "object", "light", "sensor_cam00", "sensor_cam01"}
    assert d["integrator"] == {"type": "path", "max_depth": 3, "hide_emitters": True}
    assert d["light"] == {"type": "point", "position": [1.0, 2.0, 3.0], "intensity": {"type": "rgb", "value": [4.0, 5.0, 6.0]}}
    obj = d["object"]
    assert obj["type"] == "obj" and obj["filename"] == "mesh.obj" and obj["face_normals"] is False
    bsdf = obj["bsdf"]
    assert bsdf["type"] == "principled" and bsdf["base_color"]["type"] == "bitmap"
    assert bsdf["base_color"]["raw"] is False and bsdf["roughness"]["raw"] is True
    assert d["sensor_cam00"]["sampler"] == {"type": "independent", "sample_count": 9}
    aov = build_aov_scene_dict("mesh.obj", cams, spp=4)
    assert aov["integrator"]["type"] == "aov" and "light" not in aov
    assert aov["sensor_cam01"]["sampler"] == {"type": "stratified", "sample_count": 4, "jitter": False}
    with pytest.raises(ValueError, match="square sample count"):
        build_aov_scene_dict("mesh.obj", cams, spp=2)


def test_presets():
    egg = PRESETS["egg"]
    assert (egg.shape, egg.views, egg.lights_per_face, egg.res, egg.sweep_frames) == ("egg", 32, 8, 256, 360)
    assert egg.n_lights == 384 and egg.n_images == 32 * 384 + 2 * 360
    assert PRESETS["vase"].shape == "vase"
    demo = PRESETS["demo"]
    assert demo.views <= 12 and demo.lights_per_face <= 4 and demo.res <= 96 and demo.sweep_frames <= 90
    assert set(PRESETS) == {"egg", "vase", "demo"}


def test_preset_overrides_and_errors():
    cfg = preset_config("vase", views=4, res=None)
    assert cfg.views == 4 and cfg.res == PRESETS["vase"].res and cfg.shape == "vase"
    with pytest.raises(ConfigError, match="synth.preset: unknown preset 'teapot'"):
        preset_config("teapot")
    with pytest.raises(ConfigError, match="synth.views: must be positive, got 0"):
        SynthConfig(views=0)
    with pytest.raises(ConfigError, match="synth.sweep_frames"):
        SynthConfig(sweep_frames=2)
    with pytest.raises(ConfigError, match="synth.stage_half_size"):
        SynthConfig(stage_half_size=0.5)
    with pytest.raises(ConfigError, match="synth.sweep_spp"):
        SynthConfig(sweep_spp=-1)


def test_command_flags_override_preset(tmp_path):
    cmd = SynthCommand(out=tmp_path, preset="demo", views=3, lights_per_face=2, res=40, spp=2, sweep_frames=12,
                       seed=7, variant="scalar_rgb")
    cfg = cmd.config()
    assert (cfg.name, cfg.views, cfg.lights_per_face, cfg.res, cfg.spp, cfg.sweep_frames, cfg.seed, cfg.variant) == \
        ("demo", 3, 2, 40, 2, 12, 7, "scalar_rgb")
    assert cfg.out == tmp_path and cfg.texture_res == PRESETS["demo"].texture_res


def test_cli_flag_names(tmp_path):
    import tyro

    cmd = tyro.cli(SynthCommand, args=["--out", str(tmp_path), "--preset", "vase", "--views", "2", "--lights-per-face", "1",
                                       "--res", "16", "--spp", "1", "--sweep-frames", "3", "--seed", "1",
                                       "--variant", "scalar_rgb"])
    cfg = cmd.config()
    assert (cfg.shape, cfg.views, cfg.lights_per_face, cfg.res, cfg.spp, cfg.sweep_frames) == ("vase", 2, 1, 16, 1, 3)
