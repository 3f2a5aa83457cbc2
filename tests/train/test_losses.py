import re

import pytest
import torch

from neutex.errors import ConfigError, DataError, DependencyError
from neutex.model import DiscriminatorConfig
from neutex.train.config import LossConfig
from neutex.train.losses import (
    PerceptualLoss,
    feature_matching_loss,
    gan_discriminator_loss,
    gan_generator_loss,
    masked_l1,
)
from neutex.train.vgg import VGG19_FILENAME, VGG19Features, hub_weights_path, load_vgg_weights
from neutex.train.vgg_layers import VGG19_LAYERS

_CONVS = [(0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256), (12, 256, 256), (14, 256, 256),
          (16, 256, 256), (19, 256, 512), (21, 512, 512), (23, 512, 512), (25, 512, 512), (28, 512, 512),
          (30, 512, 512), (32, 512, 512), (34, 512, 512)]


def fake_vgg_file(path, upto=10**9):
    """A torchvision-layout VGG19 state dict with random tensors (convs up to index ``upto``,
    plus classifier keys that must be ignored)."""
    g = torch.Generator().manual_seed(0)
    sd = {}
    for i, cin, cout in _CONVS:
        if i <= upto:
            sd[f"features.{i}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * 0.05
            sd[f"features.{i}.bias"] = torch.randn(cout, generator=g) * 0.01
    sd["classifier.0.weight"] = torch.randn(8, 8, generator=g)
    sd["classifier.0.bias"] = torch.randn(8, generator=g)
    torch.save(sd, path)
    return sd


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """torch's hub cache pointed at an empty folder."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    assert not hub_weights_path().exists()
    return tmp_path


def make_batch(B=2, H=32, W=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(B, 1, H, W)
    mask[:, :, 4:-4, 5:-5] = 1
    return {
        "mask": mask,
        "target": torch.rand(B, 3, H, W, generator=g) * 2,
        **{k: torch.randn(B, 3, H, W, generator=g) for k in ("normal", "light_dir", "view_dir")},
    }


# ------------------------------------------------------------------ masked L1


def test_masked_l1_known_value_and_background_ignored():
    torch.manual_seed(0)
    pred, target = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    mask = torch.zeros(2, 1, 8, 8)
    mask[0, :, :4] = 1
    mask[1, :, 2:5, 2:5] = 1
    ref = torch.stack([(pred[b] - target[b]).abs()[:, mask[b, 0] > 0].mean() for b in range(2)]).mean()
    value = masked_l1(pred, target, mask)
    torch.testing.assert_close(value, ref)
    bg = mask == 0
    pred2, target2 = pred.clone(), target.clone()
    pred2[bg.expand_as(pred2)] = 1e6
    target2[bg.expand_as(target2)] = float("nan")
    torch.testing.assert_close(masked_l1(pred2, target2, mask), value)


def test_masked_l1_empty_mask_sample_is_skipped_and_gradient_finite():
    pred = torch.rand(2, 3, 4, 4, requires_grad=True)
    target = torch.zeros(2, 3, 4, 4)
    mask = torch.zeros(2, 1, 4, 4)
    mask[0] = 1
    loss = masked_l1(pred, target, mask)
    torch.testing.assert_close(loss, pred[0].mean())
    loss.backward()
    assert torch.isfinite(pred.grad).all() and pred.grad[1].abs().sum() == 0
    assert masked_l1(pred, target, torch.zeros(2, 1, 4, 4)).item() == 0.0


def test_masked_l1_shape_errors():
    with pytest.raises(DataError, match="target: shape"):
        masked_l1(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5), torch.ones(1, 1, 4, 4))
    with pytest.raises(DataError, match="mask: expected shape"):
        masked_l1(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4))


# ------------------------------------------------------------------ VGG weights


def test_vgg_weights_load_from_local_file_with_torchvision_keys(tmp_path, empty_hub):
    path = tmp_path / "vgg19.pth"
    sd = fake_vgg_file(path)
    cfg = LossConfig(perceptual="vgg", vgg_weights=path, vgg_layers=("relu2_2", "relu1_2"), vgg_layer_weights=(1, 1))
    loss = cfg.setup("cpu")
    assert loss.resolved == "vgg"
    own = loss.perceptual.vgg.state_dict()
    assert sorted(own) == sorted(f"features.{i}.{k}" for i in (0, 2, 5, 7) for k in ("weight", "bias"))
    for key, value in own.items():
        torch.testing.assert_close(value, sd[key], rtol=0, atol=0)
    assert not any(p.requires_grad for p in loss.perceptual.vgg.parameters())


def test_vgg_weights_from_hub_cache(empty_hub):
    hub = hub_weights_path()
    assert hub.name == VGG19_FILENAME and hub.parent.name == "checkpoints"
    hub.parent.mkdir(parents=True)
    sd = fake_vgg_file(hub, upto=7)
    assert load_vgg_weights(None).keys() == sd.keys()
    loss = LossConfig(perceptual="auto", vgg_layers=("relu1_2", "relu2_2"), vgg_layer_weights=(1, 1)).setup()
    assert loss.resolved == "vgg"


def test_vgg_weights_missing_layer_or_wrong_shape(tmp_path):
    path = tmp_path / "short.pth"
    fake_vgg_file(path, upto=2)
    with pytest.raises(DependencyError, match=r"missing features.5.weight .*--loss.vgg-weights"):
        VGG19Features(["relu2_2"]).load_weights(load_vgg_weights(path), str(path))
    bad = {"features.0.weight": torch.zeros(64, 1, 3, 3), "features.0.bias": torch.zeros(64)}
    with pytest.raises(DependencyError, match=r"features.0.weight has shape \(64, 1, 3, 3\)"):
        VGG19Features(["relu1_1"]).load_weights(bad)


def test_missing_weights_with_vgg_raise_with_howto(empty_hub):
    with pytest.raises(DependencyError) as info:
        LossConfig(perceptual="vgg").setup()
    msg = str(info.value)
    assert "--loss.vgg-weights" in msg and str(hub_weights_path()) in msg
    assert "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth" in msg
    assert "--perceptual auto" in info.value.hint
    with pytest.raises(DependencyError, match=re.escape(f"file not found: {empty_hub / 'nope.pth'}")):
        LossConfig(perceptual="vgg", vgg_weights=empty_hub / "nope.pth").setup()


def test_auto_falls_back_to_ssim_and_reports_it(empty_hub, capsys):
    loss = LossConfig(perceptual="auto").setup("cpu", encoding="log")
    assert loss.resolved == "ssim" and loss.perceptual is None
    assert "perceptual loss: auto -> ssim" in capsys.readouterr().err
    pytest.importorskip("neutex.eval.metrics")
    batch = make_batch()
    pred = torch.rand(2, 3, 32, 32, requires_grad=True)
    total, logs = loss.generator_loss(pred, batch)
    assert set(logs) == {"l1", "ssim"} and 0 < logs["ssim"] <= 2
    total.backward()
    assert torch.isfinite(pred.grad).all()


def test_random_warns_and_off_is_l1_only():
    with pytest.warns(UserWarning, match="random weights"):
        loss = LossConfig(perceptual="random", vgg_layers=("relu1_2", "relu2_2"), vgg_layer_weights=(1, 1)).setup(
            encoding="linear")
    assert loss.resolved == "random"
    batch = make_batch()
    pred = torch.rand(2, 3, 32, 32, requires_grad=True)
    total, logs = loss.generator_loss(pred, batch)
    assert set(logs) == {"l1", "perceptual"} and logs["perceptual"] > 0
    total.backward()
    assert pred.grad.abs().sum() > 0
    off = LossConfig(perceptual="off").setup(encoding="linear")
    total, logs = off.generator_loss(pred, batch)
    assert set(logs) == {"l1"} and total.item() == pytest.approx(logs["l1"])


def test_perceptual_loss_ignores_background_and_downsamples():
    torch.manual_seed(0)
    loss = PerceptualLoss(VGG19Features(["relu1_2", "relu2_2"]), (1.0, 0.5), resolution=16)
    pred, target = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    value = loss(pred, target, mask)
    assert value > 0
    torch.testing.assert_close(loss(pred + 3 * (1 - mask), target - (1 - mask), mask), value)
    torch.testing.assert_close(loss(target, target, mask), torch.tensor(0.0))


def test_target_comes_from_batch_encoding():
    loss = LossConfig(perceptual="off").setup(encoding="log")
    batch = make_batch()
    from neutex.color import encode_target

    enc = encode_target(batch["target"], "log")
    torch.testing.assert_close(loss.target(batch), enc)
    assert loss.target(dict(batch, target_encoded=enc * 0)).abs().max() == 0
    with pytest.raises(DataError, match="target_encoded"):
        LossConfig(perceptual="off").setup().target(batch)


def test_vgg_max_layer_and_config_checks():
    cfg = LossConfig(vgg_max_layer="relu3_4")
    assert [n for n, _ in cfg.used_vgg_layers()] == ["relu1_2", "relu2_2", "relu3_4"]
    with pytest.raises(ConfigError, match="2 weights for 5 layers"):
        LossConfig(vgg_layer_weights=(1.0, 1.0))
    with pytest.raises(ConfigError, match="unknown layer 'relu6_1'"):
        LossConfig(vgg_layers=("relu6_1",), vgg_layer_weights=(1.0,))
    with pytest.raises(ConfigError, match=r"loss.perceptual: 'lpips' is not one of"):
        LossConfig(perceptual="lpips")
    with pytest.raises(ConfigError, match="needs loss.gan"):
        LossConfig(feature_matching_weight=1.0)
    assert list(VGG19_LAYERS.values())[:4] == [1, 3, 6, 8] and VGG19_LAYERS["relu5_4"] == 35


# ------------------------------------------------------------------ GAN


def test_gan_loss_values():
    real, fake = torch.tensor([1.0, 0.5]), torch.tensor([0.0, -2.0])
    assert gan_generator_loss(fake, "lsgan").item() == pytest.approx((1 + 9) / 2)
    assert gan_generator_loss(fake, "hinge").item() == pytest.approx(1.0)
    assert gan_discriminator_loss(real, fake, "lsgan").item() == pytest.approx(0.5 * (0.125 + 2.0))
    assert gan_discriminator_loss(real, fake, "hinge").item() == pytest.approx((0 + 0.5) / 2 + (1 + 0) / 2)
    assert feature_matching_loss([torch.ones(3), torch.zeros(2)], [torch.zeros(3), torch.zeros(2)]).item() == 0.5
    with pytest.raises(ConfigError, match="unknown 'wgan'"):
        gan_generator_loss(fake, "wgan")


@pytest.mark.parametrize("kind", ["lsgan", "hinge"])
def test_generator_and_discriminator_sides(kind):
    torch.manual_seed(0)
    disc = DiscriminatorConfig(n_layers=2, width=8).setup()
    loss = LossConfig(perceptual="off", gan=True, gan_loss=kind, feature_matching_weight=1.0).setup(encoding="log")
    batch = make_batch(H=64, W=64)
    pred = torch.rand(2, 3, 64, 64, requires_grad=True)
    total, logs = loss.generator_loss(pred, batch, disc)
    assert set(logs) == {"l1", "gan_g", "fm"}
    total.backward()
    assert pred.grad.abs().sum() > 0
    assert all(p.grad is None for p in disc.parameters()) and all(p.requires_grad for p in disc.parameters())
    d_loss, d_logs = loss.discriminator_loss(disc, pred, batch)
    d_loss.backward()
    assert set(d_logs) == {"d_loss", "d_real", "d_fake"}
    assert all(p.grad is not None for p in disc.parameters())
    with pytest.raises(ConfigError, match="no discriminator"):
        loss.generator_loss(pred, batch, None)


def test_vgg_weights_legacy_file_format(tmp_path):
    """torchvision's 2017 weight files use torch's legacy (non-zip) format: no mmap, still loads."""
    path = tmp_path / "legacy.pth"
    torch.save({"features.0.weight": torch.ones(64, 3, 3, 3), "features.0.bias": torch.zeros(64)}, path,
               _use_new_zipfile_serialization=False)
    vgg = VGG19Features(["relu1_1"])
    vgg.load_weights(load_vgg_weights(path))
    assert vgg.features[0].weight.sum() == 64 * 27
