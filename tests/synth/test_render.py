"""Rendering with Mitsuba: a tiny capture (2 views x 6 lights at 32², 4 spp) end to end."""

import numpy as np
import pytest

from neutex.capture import load_capture, read_image, read_mask, validate_files
from neutex.data.splits import make_split
from neutex.synth import preset_config, render_aovs, synthesize
from neutex.synth.mesh import make_mesh
from neutex.synth.variant import current_variant, set_variant

RES = 32


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    cfg = preset_config("demo", views=2, lights_per_face=1, res=RES, spp=4, sweep_frames=8, texture_res=128)
    out = synthesize(cfg, tmp_path_factory.mktemp("synth") / "cap", progress=False)
    return load_capture(out)


def _project(cam, points):
    pc = points @ cam.world_to_camera[:3, :3].T + cam.world_to_camera[:3, 3]
    px = pc @ cam.K.T
    return px[:, :2] / px[:, 2:3]


def _dilate(mask):
    """3x3 dilation."""
    d = mask.copy()
    d[1:] |= mask[:-1]
    d[:-1] |= mask[1:]
    e = d.copy()
    e[:, 1:] |= d[:, :-1]
    e[:, :-1] |= d[:, 1:]
    return e


def _raster_silhouette(cam, mesh):
    """Pixels whose *centre* (integer coordinates) lies inside a projected triangle: numpy reference."""
    tri = _project(cam, mesh.vertices)[mesh.faces]  # (F, 3, 2)
    jj, ii = np.mgrid[0:cam.height, 0:cam.width]
    p = np.stack([ii.ravel(), jj.ravel()], -1).astype(float)  # (P, 2) pixel centres
    inside = np.zeros(len(p), bool)
    for chunk in np.array_split(np.arange(len(tri)), 8):
        a, b, c = (tri[chunk, k][:, None] for k in range(3))

        def edge(u, v):
            return (v[..., 0] - u[..., 0]) * (p[None, :, 1] - u[..., 1]) - (v[..., 1] - u[..., 1]) * (p[None, :, 0] - u[..., 0])

        e0, e1, e2 = edge(a, b), edge(b, c), edge(c, a)
        inside |= (((e0 >= 0) & (e1 >= 0) & (e2 >= 0)) | ((e0 <= 0) & (e1 <= 0) & (e2 <= 0))).any(0)
    return inside.reshape(cam.height, cam.width)


def test_capture_validates(capture):
    validate_files(capture)  # every file exists, sizes match cameras, no NaN
    assert capture.mesh == "mesh.obj" and capture.color_space == "linear"
    assert np.allclose(capture.up, [0, 0, 1])
    assert [c.id for c in capture.cameras] == ["cam00", "cam01"]
    assert len(capture.stage_light_ids) == 6 and len(capture.frames) == 12
    assert all(f.mask == f"masks/{f.camera}.png" for f in capture.frames)
    g = capture.generator
    assert g["preset"] == "demo" and g["variant"] == current_variant() and g["seed"] == 0
    assert g["config"]["views"] == 2 and g["config"]["res"] == RES and "neutex_version" in g


def test_images_are_exposed_and_black_outside(capture):
    means = []
    for f in capture.frames:
        img = read_image(capture.root / f.image)
        mask = read_mask(capture.root / f.mask)
        assert img.shape == (RES, RES, 3) and np.isfinite(img).all() and img.min() >= 0
        # black background; the box filter averages over the pixel's square, so only pixels
        # touching the silhouette (mask = pixel centre on the object) may be partly lit
        near = _dilate(mask)
        assert img[~near].max() == 0.0
        means.append(img[mask].mean())
    means = np.array(means)
    assert 0.02 < means.max() < 2.0  # the front-lit views are well exposed
    assert (means > 0.005).sum() >= 4


def test_mask_matches_projected_mesh(capture):
    mesh = make_mesh("egg")
    for cam in capture.cameras:
        mask = read_mask(capture.root / f"masks/{cam.id}.png")
        px = np.round(_project(cam, mesh.vertices)).astype(int)
        assert (px >= 0).all() and (px < RES).all()
        dil = _dilate(mask)
        assert dil[px[:, 1], px[:, 0]].all()  # every vertex lands on the (1-px dilated) mask
        # pixel-centre convention pinned: Mitsuba's mask equals a numpy rasterization at integer
        # pixel centres; a half-pixel slip would change a whole ring of silhouette pixels
        ref = _raster_silhouette(cam, mesh)
        assert mask.sum() > 100
        assert (mask != ref).sum() <= 2


def test_aovs_pixel_centres_and_conventions(capture):
    for cam in capture.cameras:
        aov = render_aovs(capture, cam.id)
        mask = aov["mask"]
        assert np.array_equal(mask, read_mask(capture.root / f"masks/{cam.id}.png"))
        jj, ii = np.nonzero(mask)
        px = _project(cam, aov["position"][mask].astype(np.float64))
        assert np.abs(px - np.stack([ii, jj], -1)).max() < 1e-3  # hit point projects onto the pixel centre
        n = aov["normal"][mask]
        assert np.allclose(np.linalg.norm(n, axis=-1), 1, atol=1e-4)
        view = cam.center_world - aov["position"][mask]
        assert (np.einsum("ij,ij->i", n, view) > 0).mean() > 0.98  # shading normals face the camera
        uv = aov["uv"][mask]
        assert uv.min() >= 0 and uv.max() <= 1
        assert np.corrcoef(uv[:, 1], aov["position"][mask][:, 2])[0, 1] > 0.9  # v up: v grows with z
        depth = aov["depth"][mask]
        assert (depth > 1.5).all() and (depth < 4.5).all()
        assert not aov["uv"][~mask].any() and not aov["normal"][~mask].any()


def test_aovs_with_supersampling(capture):
    one = render_aovs(capture, "cam00")
    four = render_aovs(capture.root, "cam00", spp=4)
    assert (one["mask"] != four["mask"]).sum() <= 0.05 * one["mask"].sum()
    both = one["mask"] & four["mask"]
    assert np.allclose(np.linalg.norm(four["normal"][both], axis=-1), 1, atol=1e-4)
    assert np.median(np.abs(one["position"][both] - four["position"][both])) < 0.02


def test_sweeps(capture):
    split = make_split([c.id for c in capture.cameras], capture.stage_light_ids, 7 / 8, 7 / 8, seed=0)
    seq_cams = [s.camera for s in capture.sequences]
    assert [s.name for s in capture.sequences] == [f"sweep_{c}" for c in seq_cams]
    assert any(c in split.held_out_views for c in seq_cams) and any(c in split.seen_views for c in seq_cams)
    stage = np.array([capture.light(l).position for l in capture.stage_light_ids])
    used = {f.light for f in capture.frames}
    for s in capture.sequences:
        assert s.fps == 30 and len(s.lights) == len(s.frames) == 8
        assert s.lights[0] == "S000" and not used & set(s.lights)  # never trained on
        pos = np.array([capture.light(l).position for l in s.lights])
        assert np.allclose(np.linalg.norm(pos, axis=1), np.linalg.norm(stage, axis=1).mean())  # stage distance
        assert np.allclose(pos[:, 2], pos[0, 2]) and pos[0, 2] > 0  # a horizontal circle about +z
        az = np.unwrap(np.arctan2(pos[:, 1], pos[:, 0]))
        assert np.allclose(np.diff(az), 2 * np.pi / 8)
        img = read_image(capture.root / s.frames[0])
        assert img.shape == (RES, RES, 3)


@pytest.mark.parametrize("sweep_spp,expected", [(0, 8), (3, 3)])
def test_sweeps_render_with_their_own_sample_count(tmp_path, monkeypatch, sweep_spp, expected):
    from neutex.synth import render as render_mod

    seen = []
    real = render_mod._BeautyRenderer.render

    def spy(self, camera_id, position, intensity, seed, spp=0):
        seen.append(spp)
        return real(self, camera_id, position, intensity, seed, spp)

    monkeypatch.setattr(render_mod._BeautyRenderer, "render", spy)
    cfg = preset_config("demo", views=1, lights_per_face=1, res=8, spp=2, sweep_frames=3, sweep_cameras=1,
                        sweep_spp=sweep_spp, texture_res=32)
    synthesize(cfg, tmp_path / "cap", progress=False)
    assert seen == [0] * 6 + [expected] * 3  # stage images at the scene's spp, sweeps at their own


def test_scalar_variant_same_geometry(capture):
    prev = current_variant()
    try:
        set_variant("scalar_rgb", verbose=False)
        aov = render_aovs(capture, "cam01", variant="scalar_rgb")
    finally:
        if prev:
            set_variant(prev, verbose=False)
    ref = read_mask(capture.root / "masks/cam01.png")
    assert (aov["mask"] != ref).sum() <= 2
    jj, ii = np.nonzero(aov["mask"])
    px = _project(capture.camera("cam01"), aov["position"][aov["mask"]].astype(np.float64))
    assert np.abs(px - np.stack([ii, jj], -1)).max() < 1e-3


def test_bench_synth_keys():
    from neutex.synth import bench_synth

    r = bench_synth(16, 1, 2)
    assert r["name"] == "synth" and r["res"] == 16 and r["ms"] > 0 and r["per_s"] > 0
    assert r["variant"] in ("llvm_ad_rgb", "scalar_rgb")
