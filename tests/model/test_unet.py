import pytest
import torch
from torch import nn

from neutex.errors import ConfigError, DataError
from neutex.model import ModelConfig, UNet, count_flops, model_configs, output_activation_for


@pytest.mark.parametrize("depth,H,W", [(1, 8, 6), (3, 32, 16), (4, 48, 64)])
def test_shapes(depth, H, W):
    net = UNet(16, depth=depth, width=4, max_width=16)
    assert net(torch.randn(2, 16, H, W)).shape == (2, 3, H, W)


def test_any_size_is_padded_and_cropped_back():
    net = UNet(16, depth=3, width=8)
    x = torch.randn(1, 16, 36, 30)
    y = net(x)
    assert y.shape == (1, 3, 36, 30)
    # the crop is of the padded result: the same as padding by hand
    xp = torch.nn.functional.pad(x, (0, 2, 0, 4))
    torch.testing.assert_close(y, net(xp)[..., :36, :30])
    with pytest.raises(DataError, match=r"unet input: expected \(B, C, H, W\)"):
        net(torch.randn(16, 36, 30))


def test_no_transposed_convolutions():
    net = ModelConfig(texture_res=16).setup("log").renderer
    assert not any(isinstance(m, (nn.ConvTranspose2d, nn.ConvTranspose1d)) for m in net.modules())


@pytest.mark.parametrize("norm", ["none", "batch", "instance", "group"])
@pytest.mark.parametrize("upsample", ["bilinear", "nearest"])
def test_norms_and_upsampling_run(norm, upsample):
    net = UNet(8, depth=2, width=8, norm=norm, upsample=upsample)
    assert net(torch.randn(2, 8, 16, 16)).shape == (2, 3, 16, 16)


@pytest.mark.parametrize("decoder", ["conv_upsample", "upsample_conv"])
def test_decoder_orders_run_and_share_parameters(decoder):
    net = UNet(16, depth=3, width=8, decoder=decoder)
    assert net(torch.randn(2, 16, 32, 24)).shape == (2, 3, 32, 24)
    other = UNet(16, depth=3, width=8, decoder="upsample_conv" if decoder == "conv_upsample" else "conv_upsample")
    assert [p.shape for p in net.parameters()] == [p.shape for p in other.parameters()]


def test_conv_before_upsample_costs_less_than_half_at_256():
    """The origin's exp1 renderer (multiply: 16 inputs, depth 5, width 32): 9.0 vs 21.9 GFLOP per 256² frame."""
    x = torch.zeros(1, 16, 256, 256, device="meta")
    exp1 = model_configs["exp1"].replace(texture_res=16)
    fast = count_flops(exp1.setup("log").renderer.to("meta"), x) / 1e9
    slow = count_flops(exp1.replace(decoder="upsample_conv").setup("log").renderer.to("meta"), x) / 1e9
    assert fast == pytest.approx(9.0, abs=0.15) and slow == pytest.approx(21.9, abs=0.15)


def test_bad_choices_raise():
    with pytest.raises(ConfigError, match="unknown normalisation 'layer'"):
        UNet(8, norm="layer")
    with pytest.raises(ConfigError, match=r"model.norm: 'layer' is not one of"):
        ModelConfig(norm="layer")
    with pytest.raises(ConfigError, match="unknown order 'transposed'"):
        UNet(8, decoder="transposed")
    with pytest.raises(ConfigError, match=r"model.decoder: 'x' is not one of"):
        ModelConfig(decoder="x")
    with pytest.raises(ConfigError, match="unknown target encoding 'gamma'"):
        output_activation_for("gamma")


def test_output_activation_matches_encoding():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 16, 16) * 50  # large inputs push pre-activations far out
    outs = {}
    for enc in ("linear", "log", "srgb"):
        model = model_configs["exp1"].replace(texture_res=16, unet_depth=2, unet_width=8).setup(enc)
        for p in model.renderer.out.parameters():
            nn.init.normal_(p, std=1.0)
        outs[enc] = model.renderer(x)
    assert (outs["linear"] >= 0).all() and outs["linear"].max() > 1  # softplus: >= 0, unbounded
    assert outs["log"].min() < 0 and outs["log"].max() > 1           # identity: may exceed [0, 1]
    assert (outs["srgb"] >= 0).all() and (outs["srgb"] <= 1).all()    # sigmoid
    assert [output_activation_for(e) for e in ("linear", "log", "srgb")] == ["softplus", "identity", "sigmoid"]


def test_channels_last_and_bf16_autocast():
    torch.manual_seed(0)
    net = UNet(16, depth=2, width=8)
    x = torch.randn(1, 16, 16, 16)
    ref = net(x)
    net_cl = net.to(memory_format=torch.channels_last)
    out_cl = net_cl(x)
    torch.testing.assert_close(out_cl, ref, rtol=1e-4, atol=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out_bf = net_cl(x)
    assert out_bf.dtype == torch.float32
    assert (out_bf - ref).abs().max() < 0.1 * ref.abs().max() + 0.05
