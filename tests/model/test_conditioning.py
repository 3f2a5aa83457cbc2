import pytest
import torch

from neutex.errors import ConfigError
from neutex.model import Conditioning, ModelConfig, condition_features


def _buffers(B=2, H=4, W=5):
    g = torch.Generator().manual_seed(1)
    return [torch.randn(B, 3, H, W, generator=g) for _ in range(3)]


def test_default_channel_map_is_pinned():
    """exp1: channels 0-2 x normal, 3-5 x light_dir, 6-8 x view_dir, 9-15 unchanged."""
    assert ModelConfig().channel_map == ((0, 3, "normal"), (3, 6, "light_dir"), (6, 9, "view_dir"))
    normal, light_dir, view_dir = _buffers()
    features = torch.randn(2, 16, 4, 5)
    out = Conditioning("multiply", 16, ModelConfig().channel_map)(features, normal, light_dir, view_dir)
    assert out.shape == (2, 16, 4, 5)
    torch.testing.assert_close(out[:, 0:3], features[:, 0:3] * normal)
    torch.testing.assert_close(out[:, 3:6], features[:, 3:6] * light_dir)
    torch.testing.assert_close(out[:, 6:9], features[:, 6:9] * view_dir)
    torch.testing.assert_close(out[:, 9:], features[:, 9:])
    # the pure function's default is the same map
    torch.testing.assert_close(condition_features(features, normal, light_dir, view_dir, "multiply"), out)


def test_custom_channel_map():
    normal, light_dir, view_dir = _buffers()
    features = torch.randn(2, 8, 4, 5)
    cond = Conditioning("multiply", 8, ((5, 8, "normal"), (0, 3, "view_dir")))
    out = cond(features, normal, light_dir, view_dir)
    torch.testing.assert_close(out[:, 5:8], features[:, 5:8] * normal)
    torch.testing.assert_close(out[:, 0:3], features[:, 0:3] * view_dir)
    torch.testing.assert_close(out[:, 3:5], features[:, 3:5])


def test_concat_order_and_count():
    normal, light_dir, view_dir = _buffers()
    features = torch.randn(2, 16, 4, 5)
    cond = Conditioning("concat", 16)
    out = cond(features, normal, light_dir, view_dir)
    assert out.shape == (2, 25, 4, 5) and cond.out_channels == 25
    torch.testing.assert_close(out, torch.cat([features, normal, light_dir, view_dir], 1))


def test_unknown_mode_raises():
    b = _buffers()
    with pytest.raises(ConfigError, match="unknown mode 'add'"):
        condition_features(torch.zeros(2, 16, 4, 5), *b, "add")
    with pytest.raises(ConfigError, match=r"model.conditioning: 'add' is not one of \['multiply', 'concat'\]"):
        ModelConfig(conditioning="add")


def test_channel_map_cross_field_checks():
    with pytest.raises(ConfigError, match=r"^model.channel_map: channel 14 used twice$"):
        ModelConfig(channel_map=((0, 3, "normal"), (12, 15, "light_dir"), (14, 17, "view_dir")), texture_channels=32)
    with pytest.raises(ConfigError, match="channel 16 is beyond texture_channels=16"):
        ModelConfig(channel_map=((14, 17, "normal"),))
    with pytest.raises(ConfigError, match="channel 8 is beyond texture_channels=8"):
        ModelConfig(texture_channels=8)
    with pytest.raises(ConfigError, match="unknown buffer 'albedo'"):
        ModelConfig(channel_map=((0, 3, "albedo"),))
    with pytest.raises(ConfigError, match="stop - start must be 3"):
        ModelConfig(channel_map=((0, 2, "normal"),))
    # concat ignores the channel map, so a small texture is fine there
    assert ModelConfig(texture_channels=8, conditioning="concat").texture_channels == 8
