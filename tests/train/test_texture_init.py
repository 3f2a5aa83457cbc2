import numpy as np
import pytest
import torch

from neutex.data import PairLoader, PreparedData, write_synthetic_prepared
from neutex.model import model_configs
from neutex.train.texture_init import fit_reflectances, init_texture_from_photos, push_pull, texel_weights


@pytest.fixture(scope="module")
def lambert(tmp_path_factory):
    """A Lambertian sphere with a known albedo (checker 0.3 / 0.8, over π) under 24 point lights."""
    return PreparedData.open(write_synthetic_prepared(tmp_path_factory.mktemp("lam") / "p", views=4, lights=24, res=48))


def _checker(u, v):
    return ((np.floor(u * 8) + np.floor(v * 4)) % 2) * 0.5 + 0.3


def test_the_fit_recovers_the_albedo_of_a_lambertian_object(lambert):
    R = 32
    loader = PairLoader(lambert, lambert.pairs("train"), batch_size=8, shuffle=False)
    refl, cover = fit_reflectances(iter(loader), ["diffuse"], R)
    assert refl.shape == (1, 3, R, R) and cover.shape == (R, R)
    # texel centres in uv (v up): column j -> u = (j + 0.5) / R, row i -> v = 1 - (i + 0.5) / R
    u = (np.arange(R) + 0.5) / R
    v = 1 - (np.arange(R) + 0.5) / R
    U, V = np.meshgrid(u, v)
    want = _checker(U, V) / np.pi
    # away from the checker's edges (bilinear splats mix both sides) and well seen
    edge = (np.abs(U * 8 - np.round(U * 8)) < 1.5 * 8 / R) | (np.abs(V * 4 - np.round(V * 4)) < 1.5 * 4 / R)
    ok = (cover.numpy() > 2) & ~edge & (np.abs(V - 0.5) < 0.3)  # near the poles a pixel spans many texels in u
    assert ok.sum() > 50
    rel = np.abs(refl[0, 0].numpy()[ok] / want[ok] - 1)
    assert np.median(rel) < 0.01 and np.mean(rel < 0.05) > 0.9, (np.median(rel), np.mean(rel < 0.05))


def test_init_sets_the_base_channels_and_the_base_image_matches_the_photos(lambert):
    cfg = model_configs["neutex"].replace(texture_res=64, unet_depth=2, unet_width=4, shadows=False,
                                          inputs=("diffuse", "normal:concat"))
    model = cfg.setup("linear")
    stats = init_texture_from_photos(model, iter(PairLoader(lambert, lambert.pairs("train"), batch_size=8, shuffle=False)))
    assert 0.5 < stats["texels_seen"] <= 1 and stats["mean_diffuse"] > 0.05
    batch = next(iter(PairLoader(lambert, lambert.pairs("novel_light"), batch_size=4, shuffle=False)))
    with torch.no_grad():
        pred = model(batch)  # the residual UNet starts at zero: the prediction is the base
    m = batch["mask"].bool().expand_as(pred)
    err = (pred - batch["target"]).abs()[m] / batch["target"][m].mean()
    assert err.median() < 0.02 and err.mean() < 0.1, (float(err.median()), float(err.mean()))


def test_texel_weights_and_push_pull():
    idx, w = texel_weights(torch.tensor([[0.0, 0.0], [-1.0, -1.0], [0.999, 0.999]]), 4)
    torch.testing.assert_close(w.sum(1), torch.ones(3))
    assert set(idx[0][w[0] > 0].tolist()) == {5, 6, 9, 10}  # the centre falls between the middle four
    assert idx[1][w[1].argmax()].item() == 0 and idx[2][w[2].argmax()].item() == 15
    v = torch.zeros(1, 4, 4)
    wt = torch.zeros(4, 4)
    v[0, 0, 0], wt[0, 0] = 2.0, 1.0
    filled = push_pull(v, wt)
    assert torch.all(filled == 2.0)  # one seen texel fills the rest
