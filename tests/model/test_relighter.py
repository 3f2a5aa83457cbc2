import pytest
import torch

from neutex.config import config_from_dict, config_to_dict
from neutex.errors import DataError
from neutex.model import DiscriminatorConfig, ModelConfig, count_flops, descriptions, model_configs
from neutex.train.losses import masked_l1


def make_batch(B=2, H=32, W=32, seed=0):
    g = torch.Generator().manual_seed(seed)

    def unit(t):
        return t / t.norm(dim=1, keepdim=True)

    mask = torch.zeros(B, 1, H, W)
    mask[:, :, 4:-4, 6:-6] = 1
    normal = unit(torch.randn(B, 3, H, W, generator=g))
    light = unit(torch.randn(B, 3, generator=g))
    return {
        "grid": torch.rand(B, H, W, 2, generator=g) * 2 - 1,
        "normal": normal,
        "position": 0.5 * normal,
        "view_dir": unit(torch.randn(B, 3, H, W, generator=g)),
        "light_source": torch.cat([light, torch.zeros(B, 1)], 1),  # directional
        "light_intensity": torch.full((B, 3), 2.0),
        "mask": mask,
        "target": torch.rand(B, 3, H, W, generator=g) * 2,
    }


def tiny(conditioning="multiply", preset="exp1", **kw):
    return model_configs[preset].replace(conditioning=conditioning, texture_res=32, unet_depth=3, unet_width=8, **kw)


@pytest.mark.parametrize("conditioning,cin", [("multiply", 16), ("concat", 25)])
def test_shapes_both_modes(conditioning, cin):
    model = tiny(conditioning).setup("log")
    batch = make_batch()
    assert model.renderer_input(batch).shape == (2, cin, 32, 32)
    assert model(batch).shape == (2, 3, 32, 32)
    assert model(batch).dtype == torch.float32


def test_registry_variants():
    assert model_configs["exp1"].conditioning == "multiply" and model_configs["exp2"].conditioning == "concat"
    assert set(descriptions) == set(model_configs) == {"neutex", "exp1", "exp2"}
    assert model_configs["exp2"].setup("log").conditioning.out_channels == 25
    assert model_configs["exp1"].setup("log").conditioning.out_channels == 16
    for name in ("exp1", "exp2"):  # the origin's models: bare buffers, random texture, no shadows or residual
        c = model_configs[name]
        assert not c.uses_residual and not c.uses_photo_init and not c.needs_visibility and c.texture_res == 512
    assert ModelConfig() == model_configs["neutex"]


def test_config_roundtrip():
    cfg = tiny("multiply", channel_map=((3, 6, "normal"),), pyramid_levels=2)
    again = config_from_dict(ModelConfig, config_to_dict(cfg))
    assert again == cfg and again.channel_map == ((3, 6, "normal"),)
    cfg = ModelConfig(texture_res=32)
    assert config_from_dict(ModelConfig, config_to_dict(cfg)) == cfg


@pytest.mark.parametrize("conditioning,preset", [("multiply", "exp1"), ("concat", "exp1"), ("multiply", "neutex")])
def test_gradients_reach_texture_and_unet_only(conditioning, preset):
    model = tiny(conditioning, preset, pyramid_levels=2).setup("log")
    if preset == "neutex":  # the residual UNet starts at zero output weights: give the head a gradient path
        torch.nn.init.normal_(model.renderer.out.weight, std=0.1)
    batch = make_batch()
    model(batch).mean().backward()
    named = dict(model.named_parameters())
    assert any(k.startswith("texture.") for k in named) and any(k.startswith("renderer.") for k in named)
    assert set(k.split(".")[0] for k in named) == {"texture", "renderer"}  # conditioning has no parameters
    for name, p in named.items():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    for name in ("texture.levels.0", "texture.levels.1", "renderer.head.0.weight", "renderer.out.weight"):
        assert named[name].grad.abs().sum() > 0, name
    for key, t in batch.items():  # the batch is data: nothing flows into it
        assert not t.requires_grad and t.grad is None, key


def test_background_input_is_zero():
    model = tiny("concat").setup("log")
    batch = make_batch()
    x = model.renderer_input(batch)
    assert (x * (1 - batch["mask"])).abs().max() == 0


def test_missing_key_and_bad_shape():
    model = tiny().setup("log")
    batch = make_batch()
    del batch["view_dir"]
    with pytest.raises(DataError, match="batch: missing key 'view_dir' \\(renderer inputs need"):
        model(batch)
    batch = make_batch()
    batch["position"] = batch["position"][:, :, :16]
    with pytest.raises(DataError, match=r"position: expected shape \(2 3 32 32\)"):
        model(batch)


@pytest.mark.parametrize("conditioning", ["multiply", "concat"])
def test_few_steps_reduce_the_loss(conditioning):
    torch.manual_seed(0)
    model = tiny(conditioning).setup("log")
    batch = make_batch(B=1)
    target = batch["target"] * 0.5
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss = masked_l1(model(batch), target, batch["mask"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses


@pytest.mark.parametrize("conditional,cin", [(True, 12), (False, 3)])
def test_discriminator(conditional, cin):
    disc = DiscriminatorConfig(n_layers=2, width=8, conditional=conditional).setup()
    assert disc.in_channels == cin
    batch = make_batch(H=64, W=64)
    scores = disc.score(batch["target"], batch)
    assert scores.shape == (2, 1, 14, 14)
    # the background is masked: changing it changes nothing
    other = batch["target"] + 5 * (1 - batch["mask"])
    torch.testing.assert_close(disc.score(other, batch), scores)


def test_count_flops_of_a_conv():
    conv = torch.nn.Conv2d(4, 8, 3, padding=1, bias=False)
    assert count_flops(conv, torch.zeros(1, 4, 10, 10)) == 2 * 4 * 8 * 9 * 100


def test_shading_cue_adds_the_lambert_cosine_channel():
    plain = tiny().setup("log")
    cued = tiny(shading_cue=True).setup("log")
    batch = make_batch(B=2, H=8, W=8)
    x0, x1 = plain.renderer_input(batch), cued.renderer_input(batch)
    assert x1.shape[1] == x0.shape[1] + 1
    n, l = batch["normal"], batch["light_source"][:, :3, None, None]
    assert torch.allclose(x1[:, -1:], (n * l).sum(1, keepdim=True).clamp_min(0) * batch["mask"], atol=1e-6)
    assert cued(batch).shape == (2, 3, 8, 8)


def test_residual_model_starts_at_its_physically_based_base():
    """prediction = encode(Σ texture x radiance cue) + UNet, the UNet's output layer zeroed."""
    from neutex.color import decode_target
    from neutex.model.pixel_geometry import compute_inputs

    model = ModelConfig(texture_res=32, unet_depth=3, unet_width=8).setup("log")
    batch = make_batch(B=1)
    pred = decode_target(model(batch), "log")
    feats = model.sample_features(batch["grid"])
    cues = compute_inputs(batch, [s.name for s in model.base_slots])
    base = sum(feats[:, s.start:s.stop] * cues[s.name] for s in model.base_slots).clamp_min(0)
    m = batch["mask"].bool().expand_as(base)
    torch.testing.assert_close(pred[m], base[m], rtol=1e-4, atol=1e-5)


def test_an_input_registered_in_a_test_reaches_the_unet():
    from neutex.model.inputs import INPUTS, register_input

    @register_input("test_half_cosine", 1, True, "a test input")
    def _half(g):
        return 0.5 * g.n_dot_l.clamp_min(0) * g.mask

    try:
        model = tiny(inputs=("normal", "test_half_cosine:concat")).setup("log")
        batch = make_batch(B=1, H=8, W=8)
        x = model.renderer_input(batch)
        assert x.shape[1] == 17 and model.renderer.head[0].in_channels == 17
        n, l = batch["normal"], batch["light_source"][:, :3, None, None]
        torch.testing.assert_close(x[:, -1:], 0.5 * (n * l).sum(1, keepdim=True).clamp_min(0) * batch["mask"])
        assert model(batch).shape == (1, 3, 8, 8)
    finally:
        del INPUTS["test_half_cosine"]


@pytest.mark.parametrize("H,W", [(512, 612), (50, 70), (48, 48)])
def test_any_image_size_forward_backward(H, W):
    model = ModelConfig(texture_res=32, unet_depth=5, unet_width=4, unet_max_width=8).setup("log")
    torch.nn.init.normal_(model.renderer.out.weight, std=0.1)
    batch = make_batch(B=1, H=H, W=W)
    out = model(batch)
    assert out.shape == (1, 3, H, W)
    masked_l1(out, batch["target"], batch["mask"]).backward()
    assert model.renderer.head[0].weight.grad.abs().sum() > 0
