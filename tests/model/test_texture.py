import pytest
import torch
import torch.nn.functional as F

from neutex.errors import ConfigError, DataError
from neutex.geometry import uv_to_grid
from neutex.model import NeuralTexture, model_configs, sample_texture


def test_shapes_single_and_pyramid():
    grid = torch.rand(2, 5, 7, 2) * 2 - 1
    assert sample_texture(torch.rand(16, 8, 8), grid).shape == (2, 16, 5, 7)
    assert sample_texture([torch.rand(4, 8, 8), torch.rand(4, 4, 4), torch.rand(4, 2, 2)], grid).shape == (2, 4, 5, 7)


def test_texel_centres_hit_exact_values():
    """uv at a texel centre (OBJ convention, v up) returns exactly that texel: no half-texel slip."""
    Ht, Wt = 4, 6
    tex = torch.arange(2 * Ht * Wt, dtype=torch.float32).reshape(2, Ht, Wt)
    rows, cols = torch.meshgrid(torch.arange(Ht), torch.arange(Wt), indexing="ij")
    uv = torch.stack([(cols + 0.5) / Wt, 1 - (rows + 0.5) / Ht], -1)[None]  # (1, Ht, Wt, 2)
    out = sample_texture(tex, uv_to_grid(uv))
    torch.testing.assert_close(out[0], tex)


def test_matches_per_item_reference_and_pyramid_is_a_sum():
    torch.manual_seed(0)
    levels = [torch.randn(3, 8, 8), torch.randn(3, 4, 4)]
    grid = torch.rand(3, 4, 5, 2) * 2.4 - 1.2  # also outside [-1, 1]: border padding
    ref = sum(
        torch.cat([F.grid_sample(t[None], grid[b:b + 1], mode="bilinear", padding_mode="border", align_corners=False)
                   for b in range(3)])
        for t in levels
    )
    torch.testing.assert_close(sample_texture(levels, grid), ref)


def test_gradcheck_float64():
    torch.manual_seed(0)
    tex = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    grid = (torch.rand(2, 2, 3, 2, dtype=torch.float64) * 1.6 - 0.8).requires_grad_()
    assert torch.autograd.gradcheck(sample_texture, (tex, grid))
    coarse = torch.randn(2, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, g: sample_texture([a, b], g), (tex, coarse, grid))


def test_bad_shapes_raise():
    with pytest.raises(DataError, match=r"grid: expected shape \(B H W 2\)"):
        sample_texture(torch.rand(4, 8, 8), torch.rand(1, 5, 5, 3))
    with pytest.raises(DataError, match=r"texture\[1\]: 3 channels"):
        sample_texture([torch.rand(4, 8, 8), torch.rand(3, 4, 4)], torch.rand(1, 2, 2, 2))


def test_neural_texture_init_and_params():
    torch.manual_seed(0)
    tex = NeuralTexture(channels=16, resolution=64, levels=3, init_std=0.1)
    assert [tuple(p.shape) for p in tex.levels] == [(16, 64, 64), (16, 32, 32), (16, 16, 16)]
    assert tex.levels[0].abs().max() == 0 and tex.levels[1].abs().max() == 0
    assert 0.08 < tex.levels[2].std().item() < 0.12
    assert sorted(tex.state_dict()) == ["levels.0", "levels.1", "levels.2"]
    single = NeuralTexture(4, 16)
    assert single.levels[0].std() > 0
    assert tex.collapsed().shape == (16, 64, 64)


def test_init_mean_per_channel_and_multiplied_channels_start_at_one():
    torch.manual_seed(0)
    tex = NeuralTexture(3, 32, levels=2, init_std=0.1, init_mean=[1.0, 0.0, -2.0])
    assert tex.levels[0].abs().max() == 0  # finer levels still start at zero
    assert tex.levels[1].mean((1, 2)).tolist() == pytest.approx([1.0, 0.0, -2.0], abs=0.03)
    with pytest.raises(ConfigError, match="init_mean has 2 values for 3 channels"):
        NeuralTexture(3, 8, init_mean=[0.0, 1.0])
    exp1 = model_configs["exp1"].replace(texture_res=32)
    means = exp1.setup("log").texture.levels[0].mean((1, 2))
    assert means[:9].tolist() == pytest.approx([1.0] * 9, abs=0.03)  # normal, light, view channels
    assert means[9:].abs().max() < 0.03
    concat = exp1.replace(conditioning="concat").setup("log").texture.levels[0].mean((1, 2))
    assert concat.abs().max() < 0.03
    zero = exp1.replace(multiplied_init_mean=0.0).setup("log").texture.levels[0].mean((1, 2))
    assert zero.abs().max() < 0.03


def test_neural_texture_bad_config():
    with pytest.raises(ConfigError, match="not divisible"):
        NeuralTexture(16, 100, levels=4)


def test_neural_texture_gradient_reaches_all_levels():
    tex = NeuralTexture(4, 16, levels=2)
    tex(torch.rand(1, 8, 8, 2) * 2 - 1).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in tex.levels)


def test_sampling_stays_float32_under_autocast():
    tex = NeuralTexture(4, 512)
    grid = torch.rand(1, 8, 8, 2) * 2 - 1
    ref = tex(grid)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = tex(grid)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
