import numpy as np
import pytest
import torch

from neutex.data import PreparedData, geometry_batch
from neutex.errors import DataError
from neutex.model.config import model_configs
from neutex.run.predict import FrameRenderer, predict_linear, render_view
from neutex.render.lights import circle_light_sources
from neutex.render.video import to_uint8


@pytest.fixture(scope="module")
def data(sphere_data):
    return PreparedData.open(sphere_data)


class _Wrapped(torch.nn.Module):
    """Not a Relighter: takes the generic (no shared light-independent input) path."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, batch):
        return self.inner(batch)


def _reference(model, data, view, src, encoding="log"):
    inten = torch.from_numpy(np.broadcast_to(data.default_intensity, (len(src), 3)).copy())
    b = geometry_batch(data, torch.full((len(src),), view), torch.as_tensor(src, dtype=torch.float32),
                       light_intensities=inten)
    return predict_linear(model, b, encoding)


def _tiny(preset="neutex", **kw):
    return model_configs[preset].replace(texture_res=16, unet_depth=2, unet_width=8, texture_init_std=0.5, **kw)


@pytest.mark.parametrize("preset", ["exp1", "exp2", "neutex"])
@pytest.mark.parametrize("wrap", [False, True])
def test_sweep_equals_per_frame_geometry_batch(data, preset, wrap):
    torch.manual_seed(0)
    model = _tiny(preset).setup("log").eval()
    if preset == "neutex":  # a residual model starts at its base: perturb the UNet to test it too
        torch.nn.init.normal_(model.renderer.out.weight, std=0.1)
    if wrap:
        model = _Wrapped(model)
    src = circle_light_sources(7, 3.0, 20.0, data.up)
    src[3] = [0.3, -0.5, 0.8, 0.0]  # a directional light among the points
    with torch.no_grad():
        ref = _reference(model, data, 2, src)
        out = torch.cat(list(FrameRenderer(model, "log", batch_size=3).sweep(data, 2, src)))
        fn = render_view(model, data, 2, src, "log", batch_size=4)
    assert out.shape == (7, 3, 32, 32)
    assert float(ref.abs().max()) > 0
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fn, ref, rtol=1e-5, atol=1e-6)


def test_frames_of_many_views_and_bf16(data):
    torch.manual_seed(1)
    model = _tiny().setup("linear").eval()
    views = np.array([3, 1, 2, 2, 0])
    src = circle_light_sources(5, 3.0, 40.0, data.up)
    with torch.no_grad():
        inten = torch.from_numpy(np.broadcast_to(data.default_intensity, (5, 3)).copy())
        b = geometry_batch(data, torch.from_numpy(views), torch.from_numpy(src).float(), light_intensities=inten)
        # the slice fast path (one consecutive run of views) equals plain indexing
        run = torch.arange(1, 4)
        fast = geometry_batch(data, run, torch.from_numpy(src[:3]).float())
        slow = geometry_batch(data, run[[0, 2, 1]], torch.from_numpy(src[:3]).float()[[0, 2, 1]])
        for k in fast:
            torch.testing.assert_close(fast[k][[0, 2, 1]], slow[k], rtol=1e-5, atol=1e-6)
        ref = predict_linear(model, b, "linear")
        out = torch.cat(list(FrameRenderer(model, "linear", batch_size=2).frames(data, views, src)))
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
        ref16 = predict_linear(model, b, "linear", torch.bfloat16)
        sweep16 = torch.cat(list(FrameRenderer(model, "linear", "cpu", torch.bfloat16, 5).sweep(data, 2, src)))
        b2 = geometry_batch(data, torch.full((5,), 2), torch.from_numpy(src).float(), light_intensities=inten)
        torch.testing.assert_close(sweep16, predict_linear(model, b2, "linear", torch.bfloat16), rtol=1e-5, atol=1e-6)
    assert ref16.shape == ref.shape


def test_frame_renderer_errors(data):
    model = _tiny().setup("log").eval()
    r = FrameRenderer(model, "log")
    with pytest.raises(DataError, match="view: index 9 out of range"):
        list(r.sweep(data, 9, np.zeros((2, 4))))
    with pytest.raises(DataError, match="sources: expected shape"):
        list(r.sweep(data, 0, np.zeros((2, 3))))
    with pytest.raises(DataError, match="3 sources for 2 views"):
        list(r.frames(data, [0, 1], np.zeros((3, 4))))
    with pytest.raises(DataError, match="batch_size"):
        FrameRenderer(model, "log", batch_size=0)


def test_to_uint8_tensor_matches_numpy():
    x = torch.rand(4, 3, 8, 8) * 3
    a = to_uint8(x, white=2.0, exposure=0.5)
    b = to_uint8(x.permute(0, 2, 3, 1).numpy(), white=2.0, exposure=0.5)
    assert a.shape == (4, 8, 8, 3) and a.dtype == np.uint8
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
