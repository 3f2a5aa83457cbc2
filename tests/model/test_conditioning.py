import pytest
import torch

from neutex.errors import ConfigError
from neutex.model import Conditioning, ModelConfig, condition_features, model_configs, plan_slots


def _inputs(B=2, H=4, W=5):
    g = torch.Generator().manual_seed(1)
    return {k: torch.randn(B, 3, H, W, generator=g) for k in ("normal", "light_dir", "view_dir", "diffuse")}


def test_origin_exp1_channel_map_is_pinned():
    """exp1: channels 0-2 x normal, 3-5 x light_dir, 6-8 x view_dir, 9-15 unchanged."""
    cfg = model_configs["exp1"]
    assert cfg.inputs == ("normal", "light_dir", "view_dir") and cfg.conditioning == "multiply"
    slots = cfg.slots()
    assert [(s.name, s.how, s.start, s.stop) for s in slots] == [
        ("normal", "multiply", 0, 3), ("light_dir", "multiply", 3, 6), ("view_dir", "multiply", 6, 9)]
    ins = _inputs()
    features = torch.randn(2, 16, 4, 5)
    out = Conditioning(16, slots)(features, ins)
    assert out.shape == (2, 16, 4, 5)
    torch.testing.assert_close(out[:, 0:3], features[:, 0:3] * ins["normal"])
    torch.testing.assert_close(out[:, 3:6], features[:, 3:6] * ins["light_dir"])
    torch.testing.assert_close(out[:, 6:9], features[:, 6:9] * ins["view_dir"])
    torch.testing.assert_close(out[:, 9:], features[:, 9:])
    torch.testing.assert_close(condition_features(features, ins, slots), out)
    # the explicit origin channel map gives the same plan
    explicit = ModelConfig(**{**cfg.__dict__, "channel_map": ((0, 3, "normal"), (3, 6, "light_dir"), (6, 9, "view_dir"))})
    assert explicit.slots() == slots


def test_origin_exp2_concat_order_and_count():
    ins = _inputs()
    features = torch.randn(2, 16, 4, 5)
    cond = Conditioning(16, model_configs["exp2"].slots())
    out = cond(features, ins)
    assert out.shape == (2, 25, 4, 5) and cond.out_channels == 25
    torch.testing.assert_close(out, torch.cat([features, ins["normal"], ins["light_dir"], ins["view_dir"]], 1))


def test_custom_channel_map_and_mixed_ways():
    ins = _inputs()
    features = torch.randn(2, 8, 4, 5)
    slots = plan_slots(["normal", "view_dir", "light_dir:concat"], "multiply", 8, ((5, 8, "normal"), (0, 3, "view_dir")))
    out = Conditioning(8, slots)(features, ins)
    assert out.shape == (2, 11, 4, 5)
    torch.testing.assert_close(out[:, 5:8], features[:, 5:8] * ins["normal"])
    torch.testing.assert_close(out[:, 0:3], features[:, 0:3] * ins["view_dir"])
    torch.testing.assert_close(out[:, 3:5], features[:, 3:5])
    torch.testing.assert_close(out[:, 8:], ins["light_dir"])


def test_one_channel_input_multiplies_several_channels():
    cos = torch.rand(1, 1, 2, 2)
    slots = plan_slots(["cosine"], "multiply", 4, ((1, 4, "cosine"),))
    out = condition_features(torch.ones(1, 4, 2, 2), {"cosine": cos}, slots)
    torch.testing.assert_close(out[:, 1:], cos.expand(1, 3, 2, 2))
    torch.testing.assert_close(out[:, :1], torch.ones(1, 1, 2, 2))


def test_unknown_mode_and_input_raise():
    with pytest.raises(ConfigError, match=r"model.conditioning: 'add' is not one of \['multiply', 'concat'\]"):
        ModelConfig(conditioning="add")
    with pytest.raises(ConfigError, match=r"model.inputs: unknown input 'albedo' \(known: normal, light_dir"):
        ModelConfig(inputs=("albedo",))
    with pytest.raises(ConfigError, match=r"'normal:add': unknown way 'add'"):
        ModelConfig(inputs=("normal:add",))
    with pytest.raises(ConfigError, match=r"model.inputs: 'normal' listed twice"):
        ModelConfig(inputs=("normal", "normal:concat"))


def test_channel_map_cross_field_checks():
    origin = dict(inputs=("normal", "light_dir", "view_dir"), residual=False, texture_init="random")
    with pytest.raises(ConfigError, match=r"^model.channel_map: channel 14 used twice \(light_dir and view_dir\)$"):
        ModelConfig(channel_map=((0, 3, "normal"), (12, 15, "light_dir"), (14, 17, "view_dir")), texture_channels=32,
                    **origin)
    with pytest.raises(ConfigError, match="channel 16 \\(for normal\\) is beyond texture_channels=16"):
        ModelConfig(channel_map=((14, 17, "normal"),), **origin)
    with pytest.raises(ConfigError, match="channel 8 \\(for view_dir\\) is beyond texture_channels=8"):
        ModelConfig(texture_channels=8, **origin)
    with pytest.raises(ConfigError, match="'albedo' is not a multiplied input"):
        ModelConfig(channel_map=((0, 3, "albedo"),), **origin)
    with pytest.raises(ConfigError, match="stop - start must be 3"):
        ModelConfig(channel_map=((0, 2, "normal"),), **origin)
    # concat uses no texture channels for the inputs, so a small texture is fine there
    assert ModelConfig(texture_channels=8, conditioning="concat", **origin).texture_channels == 8


def test_residual_and_photo_init_need_a_multiplied_radiance_cue():
    cfg = ModelConfig(conditioning="concat")
    assert not cfg.uses_residual and not cfg.uses_photo_init
    assert ModelConfig().uses_residual and ModelConfig().uses_photo_init
    with pytest.raises(ConfigError, match="model.residual: needs a radiance cue"):
        ModelConfig(conditioning="concat", residual=True)
    with pytest.raises(ConfigError, match="model.texture_init: photo needs a radiance cue"):
        ModelConfig(inputs=("normal",), texture_init="photo")
