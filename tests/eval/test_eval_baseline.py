import math

import pytest
import torch

from neutex.errors import DataError
from neutex.eval.baseline import (
    lambert_shading,
    nearest_light_index,
    nearest_light_prediction,
    nearest_light_predictions,
)


def _plane(res=16):
    """A unit square at z = 0 facing +z, with a texture."""
    c = torch.linspace(-0.5, 0.5, res)
    y, x = torch.meshgrid(c, c, indexing="ij")
    position = torch.stack([x, y, torch.zeros_like(x)], -1)
    normal = torch.tensor([0.0, 0.0, 1.0]).expand(res, res, 3).clone()
    albedo = torch.stack([0.5 + 0.3 * x, 0.4 + 0.2 * y, 0.3 + 0.1 * x * y], -1)
    return position, normal, albedo


def _render(position, normal, albedo, sources, intensities):
    return albedo[None] * lambert_shading(position, normal, sources, intensities)


def test_lambert_shading_point_and_directional():
    p = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]])
    n = torch.tensor([0.0, 0.0, 1.0]).expand(1, 2, 3)
    src = torch.tensor([[0.0, 0.0, 2.0, 1.0], [0.0, 0.6, 0.8, 0.0]])
    s = lambert_shading(p, n, src, torch.tensor([[4.0, 4.0, 4.0], [1.0, 2.0, 3.0]]))
    assert s.shape == (2, 1, 2, 3)
    assert torch.allclose(s[0, 0, 0], torch.full((3,), 1.0))  # 4 * 1 / 2²
    assert torch.allclose(s[0, 0, 1], torch.full((3,), 4 * (2 / math.sqrt(5)) / 5))
    assert torch.allclose(s[1, 0, 0], torch.tensor([0.8, 1.6, 2.4]))  # directional: no falloff


def test_nearest_index_angle_from_the_centre():
    seen = torch.tensor([[math.cos(a), math.sin(a), 0.5, 0.0] for a in (0.0, 1.5, 3.0, 4.5)])
    target = torch.tensor([[math.cos(1.3), math.sin(1.3), 0.5, 0.0], [math.cos(3.3), math.sin(3.3), 0.5, 0.0]])
    assert nearest_light_index(seen, target).tolist() == [1, 2]
    # point lights are judged from the object centre, not the origin
    seen_pts = torch.tensor([[20.0, 6.0, 0.0, 1.0], [10.0, 1.0, 0.0, 1.0]])
    tgt = torch.tensor([[10.0, 3.0, 0.0, 1.0]])
    assert nearest_light_index(seen_pts, tgt).tolist() == [0]  # same direction from the origin
    assert nearest_light_index(seen_pts, tgt, center=torch.tensor([10.0, 0.0, 0.0])).tolist() == [1]


def test_rescaled_baseline_exact_on_lambertian_plane():
    pos, nrm, alb = _plane()
    seen = torch.tensor([[0.3, 0.2, 2.0, 1.0], [-1.0, 0.5, 1.5, 1.0], [0.0, -2.0, 1.0, 1.0]])
    i_seen = torch.tensor([[4.0, 4.0, 4.0], [3.0, 2.0, 1.0], [5.0, 5.0, 5.0]])
    imgs = _render(pos, nrm, alb, seen, i_seen)
    target = torch.tensor([0.6, 0.1, 2.2, 1.0])
    i_t = torch.tensor([2.0, 3.0, 4.0])
    want = _render(pos, nrm, alb, target[None], i_t[None])[0]
    got = nearest_light_prediction(imgs, seen, target, pos, nrm, i_seen, i_t)
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-7)
    raw = nearest_light_prediction(imgs, seen, target, pos, nrm, i_seen, i_t, rescale=False)
    assert torch.equal(raw, imgs[0])
    assert not torch.allclose(raw, want, rtol=1e-2)


def test_rescaled_baseline_on_sphere_exact_where_lit(sphere_geometry):
    mask, position, normal, albedo = sphere_geometry(48)
    pos = position.permute(1, 2, 0).float()
    nrm = normal.permute(1, 2, 0).float()
    alb = albedo.permute(1, 2, 0).float()
    az = [0.0, 0.8, 1.6, 2.4, 3.2, 4.0, 4.8, 5.6]
    seen = torch.tensor([[3 * math.cos(a), 3 * math.sin(a), 1.0, 1.0] for a in az])
    i_seen = torch.full((8, 3), 9.0)
    imgs = _render(pos, nrm, alb, seen, i_seen) * mask[None, :, :, None]
    target = torch.tensor([[3 * math.cos(1.7), 3 * math.sin(1.7), 1.2, 1.0], [0.2, 3.0, 0.8, 0.0]])
    i_t = torch.tensor([[10.0, 9.0, 8.0], [1.0, 1.0, 1.0]])
    want = _render(pos, nrm, alb, target, i_t) * mask[None, :, :, None]
    got = nearest_light_predictions(imgs, seen, target, pos, nrm, i_seen, i_t, mask=mask)
    idx = nearest_light_index(seen, target, pos[mask].mean(0))
    assert idx.tolist() == [2, 2]
    s_c = lambert_shading(pos, nrm, seen[idx], i_seen[idx])
    peak = s_c[:, mask].amax(1)[:, None, None, :]
    well_lit = (s_c >= 0.05 * peak) & mask[None, :, :, None]
    assert torch.allclose(got[well_lit], want[well_lit], rtol=1e-4, atol=1e-6)
    # near the chosen light's terminator the floor bounds the ratio: no blow-up, and for a
    # Lambertian object the prediction lies between 0 and the exact value there
    assert torch.isfinite(got).all()
    dim = ~well_lit & mask[None, :, :, None]
    assert dim.any()
    assert (got[dim] >= 0).all() and (got[dim] <= want[dim] * (1 + 1e-5) + 1e-7).all()
    # one target at a time gives the same
    single = nearest_light_prediction(imgs, seen, target[1], pos, nrm, i_seen, i_t[1], mask=mask)
    assert torch.allclose(single, got[1])


def test_no_blow_up_where_the_chosen_light_does_not_reach():
    pos, nrm, alb = _plane(8)
    seen = torch.tensor([[1.0, 0.0, 0.001, 0.0]])  # grazing: shading ~ 0 everywhere
    imgs = _render(pos, nrm, alb, seen, torch.ones(1, 3)) + 1e-3  # plus some ambient
    got = nearest_light_prediction(imgs, seen, torch.tensor([0.0, 0.0, 1.0, 0.0]), pos, nrm, torch.ones(1, 3), torch.ones(3))
    assert torch.isfinite(got).all()
    # ratio <= S_t / (min_shading * peak S_c) = 1 / (0.05 * 0.001)
    assert got.max() <= imgs.max() / (0.05 * 0.001) * 1.001


def test_baseline_errors():
    pos, nrm, alb = _plane(8)
    seen = torch.tensor([[0.0, 0.0, 1.0, 0.0]])
    imgs = _render(pos, nrm, alb, seen, torch.ones(1, 3))
    with pytest.raises(DataError, match="seen_sources"):
        nearest_light_predictions(imgs, seen.repeat(2, 1), seen, pos, nrm, torch.ones(2, 3), torch.ones(1, 3))
    with pytest.raises(DataError, match="intensities_target"):
        nearest_light_predictions(imgs, seen, seen, pos, nrm, torch.ones(1, 3), torch.ones(2, 3))
    with pytest.raises(DataError, match="position/normal"):
        nearest_light_predictions(imgs, seen, seen, pos[:4], nrm[:4], torch.ones(1, 3), torch.ones(1, 3))
    with pytest.raises(DataError, match=r"seen_images: expected shape"):
        nearest_light_predictions(imgs[0], seen, seen, pos, nrm, torch.ones(1, 3), torch.ones(1, 3))
