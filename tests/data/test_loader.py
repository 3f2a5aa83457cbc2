import numpy as np
import pytest
import torch

from neutex.data import GBufferTensors, PairLoader, PreparedData, geometry_batch, write_synthetic_prepared
from neutex.errors import DataError
from neutex.model.pixel_geometry import PixelGeometry


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """Analytic sphere, orthographic cameras, 4 views x 8 point lights at 24², with a sequence."""
    root = write_synthetic_prepared(tmp_path_factory.mktemp("synth") / "p", views=4, lights=8, res=24, sequence_frames=5)
    return PreparedData.open(root)


@pytest.fixture(scope="module")
def pinhole(tmp_path_factory, egl, capture_maker):
    """A prepared capture with pinhole cameras, 6 point + 2 directional lights."""
    from neutex.data import PrepareConfig, prepare_capture

    root = tmp_path_factory.mktemp("pin")
    cap = capture_maker(root / "cap", views=3, lights=8, res=24, directional=2)
    return PreparedData.open(prepare_capture(PrepareConfig(cap, root / "out", progress=False)))


def _check_directions(data, views, sources):
    b = geometry_batch(data, torch.as_tensor(views), torch.as_tensor(sources, dtype=torch.float32))
    g = PixelGeometry(b)  # the light direction is the renderer inputs' business now
    b = {**b, "light_dir": g.light_dir, "light_dist": g.light_dist}
    m = b["mask"][:, 0] > 0
    assert m.sum() > 50
    ld = b["light_dir"].permute(0, 2, 3, 1)[m]
    pos = b["position"].permute(0, 2, 3, 1)[m]
    np.testing.assert_allclose(ld.norm(dim=-1).numpy(), 1, atol=1e-5)
    bi = torch.nonzero(m)[:, 0]
    src = torch.as_tensor(sources, dtype=torch.float32)[bi]
    point = src[:, 3] > 0.5
    dist = b["light_dist"][:, 0][m]
    # point lights: p + dist * light_dir is the light; directional: light_dir is the direction
    np.testing.assert_allclose((pos + dist[:, None] * ld)[point].numpy(), src[point, :3].numpy(), atol=1e-4)
    np.testing.assert_allclose(ld[~point].numpy(), src[~point, :3].numpy(), atol=1e-6)
    assert torch.isinf(dist[~point]).all()
    return b, m, pos, bi


def test_light_dir_points_at_point_and_directional_lights(pinhole):
    d = pinhole
    assert d.light_sources.dtype == np.float32 and d.light_sources.shape == (8, 4)
    assert (d.light_sources[:6, 3] == 1).all() and (d.light_sources[6:, 3] == 0).all()
    views = [0, 1, 2, 0]
    sources = d.light_sources[[0, 3, 6, 7]]
    _check_directions(d, views, sources)


def test_arbitrary_light_sources_work(synth):
    # novel lights, as a light sweep would give: a point and a (unit) directional source
    sources = np.array([[0.3, -2.0, 1.5, 1.0], [0.0, 0.6, 0.8, 0.0]], np.float32)
    _check_directions(synth, [1, 2], sources)


def test_view_dir_points_to_the_camera(pinhole, synth):
    b, m, pos, bi = _check_directions(pinhole, [0, 2], pinhole.light_sources[[0, 1]])
    vd = b["view_dir"].permute(0, 2, 3, 1)[m]
    np.testing.assert_allclose(vd.norm(dim=-1).numpy(), 1, atol=1e-5)
    centres = torch.from_numpy(np.stack([pinhole.cameras[v].center_world for v in (0, 2)])).float()[bi]
    to_cam = centres - pos
    np.testing.assert_allclose(vd.numpy(), (to_cam / to_cam.norm(dim=-1, keepdim=True)).numpy(), atol=1e-5)
    # orthographic: view_dir is -forward everywhere on the object
    b, m, pos, bi = _check_directions(synth, [3], synth.light_sources[[0]])
    vd = b["view_dir"].permute(0, 2, 3, 1)[m]
    np.testing.assert_allclose(vd.numpy(), np.broadcast_to(-synth.cameras[3].forward_world, vd.shape), atol=1e-5)
    # zero off the object
    assert not b["view_dir"].permute(0, 2, 3, 1)[~m].any() and not b["light_dir"].permute(0, 2, 3, 1)[~m].any()


def test_novel_view_from_fresh_gbuffers(pinhole):
    """Render-time path: rasterize a camera that is not in the dataset and batch it."""
    from neutex.capture import Camera, look_at, pinhole_K
    from neutex.capture.mesh import load_mesh
    from neutex.gbuffer import rasterize_gbuffers

    cam = Camera("orbit", 24, 24, look_at([0, -3, 2], [0, 0, 0], [0, 0, 1]), K=pinhole_K(24, 24, 40))
    g = rasterize_gbuffers(load_mesh(pinhole.mesh_path), cam)
    t = GBufferTensors.from_gbuffers([g], [cam])
    b = geometry_batch(t, torch.tensor([0]), torch.from_numpy(pinhole.light_sources[:1]))
    m = b["mask"][0, 0] > 0
    vd = b["view_dir"][0].permute(1, 2, 0)[m]
    to_cam = torch.from_numpy(cam.center_world).float() - b["position"][0].permute(1, 2, 0)[m]
    np.testing.assert_allclose(vd.numpy(), (to_cam / to_cam.norm(dim=-1, keepdim=True)).numpy(), atol=1e-5)


def test_geometry_batch_shapes(synth):
    t = GBufferTensors.of(synth)
    assert isinstance(t, GBufferTensors) and GBufferTensors.of(synth, "cpu") is t  # cached
    assert t.normal.is_contiguous() and t.normal.shape == (4, 3, 24, 24)
    b = geometry_batch(t, torch.tensor([0, 3, 3]), torch.from_numpy(synth.light_sources[[1, 2, 3]]))
    shapes = {"grid": (3, 24, 24, 2), "normal": (3, 3, 24, 24), "position": (3, 3, 24, 24),
              "view_dir": (3, 3, 24, 24), "mask": (3, 1, 24, 24), "light_source": (3, 4), "light_intensity": (3, 3)}
    for k, s in shapes.items():
        assert b[k].shape == s and b[k].dtype == torch.float32, k
        assert b[k].is_contiguous(), k
    m = b["mask"][:, 0] > 0
    assert b["grid"][m].abs().max() <= 1
    with pytest.raises(DataError, match="light_sources"):
        geometry_batch(t, torch.tensor([0]), torch.zeros(1, 3))


def test_loader_batches_and_targets(synth):
    pairs = synth.pairs("train")
    loader = PairLoader(synth, pairs, batch_size=4, seed=3)
    assert len(loader) == -(-len(pairs) // 4)
    batches = list(loader)
    assert len(batches) == len(loader)
    seen = torch.cat([torch.stack([b["view"], b["light"]], 1) for b in batches]).numpy()
    assert sorted(map(tuple, seen)) == sorted(map(tuple, pairs))  # every pair once per epoch
    b = batches[0]
    assert b["target"].shape == (4, 3, 24, 24) and b["target"].dtype == torch.float32
    assert b["view"].dtype == torch.long and b["light_source"].shape == (4, 4)
    for k in range(4):
        want = synth.images[int(b["view"][k]), int(b["light"][k])].astype(np.float32).transpose(2, 0, 1)
        np.testing.assert_array_equal(b["target"][k].numpy(), want)
        np.testing.assert_array_equal(b["mask"][k, 0].numpy(), synth.mask[int(b["view"][k])].astype(np.float32))


def test_loader_determinism_and_resume(synth):
    pairs = synth.pairs("train")
    a = PairLoader(synth, pairs, batch_size=2, seed=7)
    b = PairLoader(synth, pairs, batch_size=2, seed=7)
    a.set_epoch(2)
    full = [x["view"].tolist() + x["light"].tolist() for x in a]
    b.set_epoch(2, start_batch=3)
    resumed = [x["view"].tolist() + x["light"].tolist() for x in b]
    assert resumed == full[3:]
    b.set_epoch(2)
    assert [x["view"].tolist() + x["light"].tolist() for x in b] == full
    a.set_epoch(3)
    assert [x["view"].tolist() + x["light"].tolist() for x in a] != full  # another epoch, another order
    c = PairLoader(synth, pairs, batch_size=2, seed=8)
    c.set_epoch(2)
    assert [x["view"].tolist() + x["light"].tolist() for x in c] != full
    ordered = PairLoader(synth, pairs, batch_size=5, shuffle=False)
    np.testing.assert_array_equal(ordered.order(0), pairs)


def test_loader_max_pairs_and_errors(synth):
    pairs = synth.pairs("train")
    fixed = PairLoader(synth, pairs, batch_size=1, seed=0, max_pairs=3, shuffle=False)
    assert len(fixed) == 3 and len(fixed.pairs) == 3
    again = PairLoader(synth, pairs, seed=0, max_pairs=3, shuffle=False)
    np.testing.assert_array_equal(fixed.pairs, again.pairs)  # without shuffle: one fixed subset
    sub = PairLoader(synth, pairs, batch_size=1, seed=0, max_pairs=3)
    assert len(sub) == 3 and len(list(sub)) == 3
    seen = {tuple(p) for e in range(8) for p in sub.order(e)}
    assert len(seen) > 3  # with shuffle: each epoch visits another random subset
    with pytest.raises(DataError, match="no \\(view, light\\) pairs"):
        PairLoader(synth, np.zeros((0, 2), int))


def test_loader_applies_valid(pinhole, tmp_path):
    """valid.npy multiplies the loss mask (synthetic: write one by hand into a copy)."""
    import json
    import shutil

    root = tmp_path / "p"
    shutil.copytree(pinhole.root, root)
    valid = np.ones(pinhole.images.shape[:4], bool)
    valid[0, 0, :12] = False
    np.save(root / "arrays" / "valid.npy", valid)
    meta = json.loads((root / "prepared.json").read_text())
    meta["valid"] = True
    (root / "prepared.json").write_text(json.dumps(meta))
    d = PreparedData.open(root)
    b = PairLoader(d, [[0, 0], [0, 1]], shuffle=False).load(np.array([[0, 0], [0, 1]]))
    assert not b["mask"][0, 0, :12].any() and b["mask"][0, 0, 12:].sum() == d.mask[0, 12:].sum()
    assert b["mask"][1, 0].sum() == d.mask[0].sum()


def test_sequences(synth):
    s = synth.sequence("sweep")
    assert s.frames.shape == (5, 24, 24, 3) and s.frames.dtype == np.float16
    assert s.sources.shape == (5, 4) and (s.sources[:, 3] == 1).all() and s.view == 0
    assert (s.stage_light_index == -1).all()
    with pytest.raises(DataError, match="no sequence named"):
        synth.sequence("nope")

