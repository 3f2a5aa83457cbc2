import math

import numpy as np
import pytest
import torch

from neutex.color import tonemap
from neutex.errors import DataError
from neutex.eval.metrics import (
    PSNR_MAX_DB,
    aggregate,
    image_metrics,
    masked_mean,
    ssim,
    ssim_map,
    stripe_energy,
)


def _ref_ssim_valid(x: np.ndarray, y: np.ndarray, L=1.0, win=11, sigma=1.5) -> np.ndarray:
    """Straightforward float64 SSIM (Wang et al. 2004) at every pixel whose window fits."""
    k = np.arange(win) - (win - 1) / 2
    g = np.exp(-(k**2) / (2 * sigma**2))
    w = np.outer(g, g)
    w /= w.sum()
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    r = win // 2
    h, wd = x.shape
    out = np.zeros((h - 2 * r, wd - 2 * r))
    for i in range(r, h - r):
        for j in range(r, wd - r):
            px = x[i - r:i + r + 1, j - r:j + r + 1]
            py = y[i - r:i + r + 1, j - r:j + r + 1]
            mx, my = (w * px).sum(), (w * py).sum()
            vx = (w * (px - mx) ** 2).sum()
            vy = (w * (py - my) ** 2).sum()
            cxy = (w * (px - mx) * (py - my)).sum()
            out[i - r, j - r] = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return out


# ---------------------------------------------------------------- masked_mean

def test_masked_mean_known_values_and_background_ignored():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(2, 3, 4, 4)
    mask = torch.zeros(2, 1, 4, 4, dtype=torch.bool)
    mask[0, 0, 0, 0] = True
    mask[1, 0, 1:3, 1:3] = True
    want = torch.stack([x[0, :, 0, 0].mean(), x[1, :, 1:3, 1:3].mean()])
    assert torch.allclose(masked_mean(x, mask), want)
    y = x.clone()
    y[~mask.expand_as(x)] = float("nan")
    assert torch.allclose(masked_mean(y, mask), want)


def test_masked_mean_not_averaged_over_background():
    x = torch.ones(1, 3, 8, 8)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :2, :2] = 1
    assert masked_mean(x, mask).item() == 1.0  # not 4/64


def test_masked_mean_empty_mask_is_nan_and_broadcast():
    x = torch.rand(3, 2, 5, 5)
    m = torch.zeros(1, 1, 5, 5, dtype=torch.bool)
    assert torch.isnan(masked_mean(x, m)).all()
    m[..., 2, 2] = True
    assert torch.allclose(masked_mean(x, m), x[:, :, 2, 2].mean(1))
    assert torch.allclose(masked_mean(x, None), x.mean((1, 2, 3)))


def test_empty_mask_sample_gives_no_nan_gradient():
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    y = torch.rand(2, 3, 16, 16)
    mask = torch.ones(2, 1, 16, 16, dtype=torch.bool)
    mask[1] = False
    for per in (masked_mean((x - y).abs(), mask), ssim(x, y, mask)):
        assert torch.isnan(per[1]) and torch.isfinite(per[0])
        loss = torch.where(torch.tensor([True, False]), per, torch.zeros_like(per)).sum()
        (g,) = torch.autograd.grad(loss, x)
        assert torch.isfinite(g).all() and g[1].abs().sum() == 0 and g[0].abs().sum() > 0


def test_masked_mean_shape_errors():
    with pytest.raises(DataError, match=r"x: expected shape \(B C H W\)"):
        masked_mean(torch.zeros(3, 4, 4), None)
    with pytest.raises(DataError, match="mask: shape"):
        masked_mean(torch.zeros(2, 3, 4, 4), torch.ones(2, 1, 5, 4))


# ---------------------------------------------------------------- ssim

def test_ssim_identical_is_one():
    x = torch.rand(2, 3, 24, 24)
    assert torch.allclose(ssim(x, x), torch.ones(2), atol=1e-5)
    m = torch.rand(2, 1, 24, 24) > 0.5
    assert torch.allclose(ssim(x, x, m), torch.ones(2), atol=1e-5)


def test_ssim_constant_images_closed_form():
    a, b = 0.3, 0.7
    x = torch.full((1, 1, 16, 16), a, dtype=torch.float64)
    y = torch.full((1, 1, 16, 16), b, dtype=torch.float64)
    c1 = 0.01**2
    assert ssim(x, y).item() == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-9)


def test_ssim_map_matches_float64_reference_in_the_interior():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 1, 24, 26, generator=g, dtype=torch.float64)
    y = (x + 0.2 * torch.rand(1, 1, 24, 26, generator=g, dtype=torch.float64)).clamp(0, 1)
    ref = _ref_ssim_valid(x[0, 0].numpy(), y[0, 0].numpy())
    got = ssim_map(x, y)[0, 0, 5:-5, 5:-5].numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    # with a mask that covers every window of the interior, the interior map is unchanged
    mask = torch.ones(1, 1, 24, 26, dtype=torch.bool)
    mask[..., 0, :] = False  # only touches windows of border rows
    got_m = ssim_map(x, y, mask)[0, 0, 6:-5, 5:-5].numpy()
    np.testing.assert_allclose(got_m, ref[1:], rtol=1e-10, atol=1e-12)


def test_ssim_data_range_and_ordering():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 3, 32, 32, generator=g)
    n = torch.rand(1, 3, 32, 32, generator=g) - 0.5
    s = [ssim(x, x + a * n).item() for a in (0.01, 0.05, 0.2)]
    assert s[0] > s[1] > s[2]
    # scaling images and data range together leaves SSIM unchanged
    assert ssim(4 * x, 4 * (x + 0.05 * n), data_range=4.0).item() == pytest.approx(s[1], abs=1e-5)


def test_ssim_masked_ignores_background():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(2, 3, 20, 20, generator=g)
    y = torch.rand(2, 3, 20, 20, generator=g)
    mask = torch.zeros(2, 1, 20, 20, dtype=torch.bool)
    mask[:, :, 4:15, 3:17] = True
    a = ssim(x, y, mask)
    bg = ~mask.expand_as(x)
    x2, y2 = x.clone(), y.clone()
    x2[bg] = torch.rand(int(bg.sum()), generator=g)
    y2[bg] = float("nan")
    assert torch.allclose(ssim(x2, y2, mask), a, atol=1e-6)


def test_ssim_gradcheck_float64():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(1, 1, 7, 7, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.rand(1, 1, 7, 7, generator=g, dtype=torch.float64)
    mask = torch.ones(1, 1, 7, 7, dtype=torch.float64)
    mask[..., :2, :] = 0
    assert torch.autograd.gradcheck(lambda a: ssim(a, y, mask, window=5), (x,), fast_mode=True)


def test_ssim_rejects_even_window_and_mismatch():
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(DataError, match="window"):
        ssim(x, x, window=10)
    with pytest.raises(DataError, match="target: shape"):
        ssim(x, x[..., :8])


# ---------------------------------------------------------------- image_metrics

def test_image_metrics_identical_images():
    g = torch.rand(2, 3, 16, 16) * 3
    m = torch.ones(2, 1, 16, 16, dtype=torch.bool)
    r = image_metrics(g, g, m)
    assert set(r) == {"mae", "mse", "psnr", "ssim", "psnr_tonemapped", "ssim_tonemapped"}
    assert torch.all(r["psnr"] == PSNR_MAX_DB) and torch.all(r["psnr_tonemapped"] == PSNR_MAX_DB)
    assert torch.all(r["mae"] == 0)
    assert torch.allclose(r["ssim"], torch.ones(2), atol=1e-5)
    assert torch.allclose(r["ssim_tonemapped"], torch.ones(2), atol=1e-5)


def test_image_metrics_known_psnr_and_white_level():
    g = torch.rand(1, 3, 16, 16)
    m = torch.ones(1, 1, 16, 16, dtype=torch.bool)
    r = image_metrics(g + 0.1, g, m, white=1.0)
    assert r["mae"].item() == pytest.approx(0.1, abs=1e-6)
    assert r["psnr"].item() == pytest.approx(20.0, abs=1e-4)
    r2 = image_metrics(2 * (g + 0.1), 2 * g, m, white=2.0)  # PSNR is relative to the white level
    assert r2["psnr"].item() == pytest.approx(20.0, abs=1e-4)
    # default white = 99th percentile of gt over object pixels
    white = torch.quantile(g.flatten(), 0.99).item()
    rd = image_metrics(g + 0.05, g, m)
    re = image_metrics(g + 0.05, g, m, white=white)
    for k in rd:
        assert rd[k].item() == pytest.approx(re[k].item(), rel=1e-5), k
    assert rd["psnr"].item() == pytest.approx(10 * math.log10(white**2 / 0.0025), abs=1e-3)


def test_image_metrics_tonemapped_definition():
    g = torch.rand(1, 3, 8, 8) * 2
    p = g * 1.1
    m = torch.ones(1, 1, 8, 8, dtype=torch.bool)
    r = image_metrics(p, g, m, white=1.5)
    mse = ((tonemap(p, 1.5) - tonemap(g, 1.5)) ** 2).mean()
    assert r["psnr_tonemapped"].item() == pytest.approx(-10 * math.log10(mse.item()), abs=1e-3)
    want_ssim = ssim(tonemap(p, 1.5), tonemap(g, 1.5), m)
    assert r["ssim_tonemapped"].item() == pytest.approx(want_ssim.item(), abs=1e-6)


def test_image_metrics_are_masked():
    gen = torch.Generator().manual_seed(4)
    g = torch.rand(2, 3, 24, 24, generator=gen)
    p = g + 0.05 * torch.randn(2, 3, 24, 24, generator=gen)
    mask = torch.zeros(2, 1, 24, 24, dtype=torch.bool)
    mask[0, :, 5:20, 5:20] = True
    mask[1, :, 2:10, 8:22] = True
    a = image_metrics(p, g, mask)
    bg = ~mask.expand_as(g)
    p2, g2 = p.clone(), g.clone()
    p2[bg] = 100.0
    g2[bg] = torch.rand(int(bg.sum()), generator=gen) * 50
    b = image_metrics(p2, g2, mask)
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=1e-5, atol=1e-6), k


def test_image_metrics_shape_errors():
    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(DataError, match="mask"):
        image_metrics(x, x, torch.ones(1, 8, 8))
    with pytest.raises(DataError, match="pred_linear"):
        image_metrics(x[:, :1], x[:, :1], torch.ones(1, 1, 8, 8))


def test_aggregate_means_counts_and_nan():
    rows = [
        {"psnr": torch.tensor([20.0, 30.0]), "mae": torch.tensor([0.1, float("nan")])},
        {"psnr": torch.tensor([40.0]), "mae": torch.tensor([0.3]), "lpips": None},
    ]
    out = aggregate(rows)
    assert out == {"n": 3, "psnr": pytest.approx(30.0), "mae": pytest.approx(0.2)}
    assert aggregate([]) == {"n": 0}


# ---------------------------------------------------------------- stripe_energy

def test_stripe_energy_horizontal_vs_vertical_vs_smooth():
    h = w = 64
    gt = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(5))
    m = torch.ones(1, 1, h, w)
    rows = torch.arange(h, dtype=torch.float32).view(1, 1, h, 1)
    cols = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w)
    assert stripe_energy(gt + 0.05 * (-1) ** rows, gt, m).item() > 0.999
    assert stripe_energy(gt + 0.05 * torch.cos(math.pi * rows / 2), gt, m).item() > 0.999  # period 4
    assert stripe_energy(gt + 0.05 * (-1) ** cols, gt, m).item() < 1e-6
    assert stripe_energy(gt + 0.05 * torch.cos(2 * math.pi * rows / h), gt, m).item() < 1e-6
    assert stripe_energy(gt, gt, m).item() == 0.0


def test_stripe_energy_white_noise_reference_and_mask():
    gen = torch.Generator().manual_seed(6)
    gt = torch.zeros(64, 1, 64, 64)
    noise = torch.randn(64, 1, 64, 64, generator=gen)
    m = torch.ones(64, 1, 64, 64)
    assert stripe_energy(noise, gt, m).mean().item() == pytest.approx(0.5, abs=0.05)
    # stripes only in the background do not count
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 16:48, 16:48] = 1
    rows = torch.arange(64, dtype=torch.float32).view(1, 1, 64, 1)
    pred = torch.where(mask > 0, torch.zeros(()), 0.3 * (-1) ** rows).expand(1, 3, 64, 64)
    assert stripe_energy(pred, torch.zeros(1, 3, 64, 64), mask).item() == 0.0
