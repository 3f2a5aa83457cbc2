"""Cross-stage conventions: the moderngl G-buffers agree with Mitsuba's own AOVs for a
synthetic scene (uv v-up, world normals and positions, pixel centres at integer coordinates),
and the light directions the loader computes point at the lights."""

import numpy as np
import pytest
import torch

from neutex.capture import load_capture
from neutex.capture.mesh import load_mesh
from neutex.synth import preset_config, render_aovs, synthesize

RES = 48


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    cfg = preset_config("demo", views=3, lights_per_face=1, res=RES, spp=2, sweep_frames=4, texture_res=64)
    return load_capture(synthesize(cfg, tmp_path_factory.mktemp("conv") / "cap", progress=False))


def _erode(mask, r=1):
    m = mask.copy()
    for _ in range(r):
        e = m.copy()
        e[1:] &= m[:-1]
        e[:-1] &= m[1:]
        e[:, 1:] &= m[:, :-1]
        e[:, :-1] &= m[:, 1:]
        m = e
    return m


def _away_from_seams(uv, jump=0.2):
    """Pixels whose 4-neighbours' uv differ by less than ``jump`` (no UV seam through them)."""
    ok = np.ones(uv.shape[:2], bool)
    du = np.abs(np.diff(uv, axis=0)).max(-1) < jump
    dv = np.abs(np.diff(uv, axis=1)).max(-1) < jump
    ok[1:] &= du
    ok[:-1] &= du
    ok[:, 1:] &= dv
    ok[:, :-1] &= dv
    return ok


def test_gbuffers_agree_with_mitsuba_aovs(capture, egl):
    from neutex.gbuffer import rasterize_gbuffers

    mesh = load_mesh(capture.root / capture.mesh)
    for cam in capture.cameras:
        ours = rasterize_gbuffers(mesh, cam)
        ref = render_aovs(capture, cam.id, spp=1)
        both = ours["mask"] & ref["mask"]
        assert (ours["mask"] == ref["mask"]).mean() > 0.98  # silhouettes differ by at most a sliver
        inner = _erode(both, 1) & _away_from_seams(ours["uv"]) & _away_from_seams(ref["uv"])
        assert inner.sum() > 0.3 * both.sum()
        agree = (
            (np.abs(ours["uv"] - ref["uv"]).max(-1) < 0.01)
            & ((ours["normal"] * ref["normal"]).sum(-1) > np.cos(np.radians(3)))
            & (np.linalg.norm(ours["position"] - ref["position"], axis=-1) < 0.01)
        )
        frac = agree[inner].mean()
        assert frac >= 0.99, f"{cam.id}: only {frac:.4f} of interior object pixels agree"


def test_light_dir_points_at_the_light(tmp_path):
    from neutex.data import GBufferTensors, PreparedData, geometry_batch
    from neutex.data.synthetic import write_synthetic_prepared

    data = PreparedData.open(write_synthetic_prepared(tmp_path / "p", views=2, lights=3, res=16))
    src = torch.from_numpy(np.asarray(data.light_sources, np.float32))
    from neutex.model.pixel_geometry import PixelGeometry

    b = geometry_batch(GBufferTensors.of(data), torch.tensor([0, 1, 1]), src)
    g = PixelGeometry(b)
    b = {**b, "light_dir": g.light_dir, "light_dist": g.light_dist}
    m = b["mask"][:, 0] > 0
    norm = b["light_dir"].norm(dim=1)
    assert torch.allclose(norm[m], torch.ones_like(norm[m]), atol=1e-5)
    # position + dist * dir lands on the light
    hit = b["position"] + b["light_dist"] * b["light_dir"]
    target = src[:, :3, None, None].expand_as(hit)
    assert torch.allclose(hit.permute(0, 2, 3, 1)[m], target.permute(0, 2, 3, 1)[m], atol=1e-4)
    # view_dir points at the (orthographic) camera: -forward
    fwd = torch.tensor(np.stack([c.forward_world for c in data.cameras]), dtype=torch.float32)
    vd = b["view_dir"].permute(0, 2, 3, 1)
    for i, v in enumerate([0, 1, 1]):
        assert torch.allclose(vd[i][m[i]], -fwd[v].expand_as(vd[i][m[i]]), atol=1e-5)
