import json
import math

import numpy as np
import pytest
import torch

from neutex.errors import DataError
from neutex.eval.metrics import masked_mean
from neutex.eval.temporal import (
    closes_loop,
    flag_jumps,
    frame_subsample,
    jump_index,
    jump_signal,
    light_curvature,
    log_luminance,
    match_events,
    peak_ratio,
    relative_log_luminance,
    temporal_difference_error,
    temporal_metrics,
)

KEYS = {
    "tde", "tde_rel", "jump_index", "jump_index_gt", "peak_ratio", "peak_ratio_gt",
    "patch_peak_p99", "worst_frame", "flagged_frames", "flagged_frames_gt", "curves",
    "flagged_frames_relative", "events_pred", "events_gt", "spurious_jumps", "missed_events",
    "n_spurious", "n_missed",
}
REL_CURVES = ("m_t_rel", "jump_t_rel", "threshold_t_rel")
STEP = 1.02  # a 2 % brightness step


def _sinusoid(T=240, res=16, amp=0.3, period=240):
    t = torch.arange(T, dtype=torch.float64)
    b = (1 + amp * torch.sin(2 * math.pi * t / period)).float()
    frames = b.view(T, 1, 1, 1) * torch.linspace(0.2, 1.0, res).view(1, 1, 1, res).expand(T, 3, res, res)
    return frames.contiguous(), torch.ones(res, res, dtype=torch.bool)


# ---------------------------------------------------------------- smooth sequences are not flagged

def test_smooth_sphere_sweep_is_not_flagged(sphere_seq):
    gt, mask = sphere_seq(360, 64)
    r = temporal_metrics(gt, gt, mask, fps=24)
    assert set(r) == KEYS
    assert r["flagged_frames"] == [] and r["flagged_frames_gt"] == []
    assert r["tde"] == 0.0 and r["tde_rel"] == 0.0
    assert r["jump_index"] == pytest.approx(r["jump_index_gt"]) and r["jump_index"] < 0.01
    assert r["peak_ratio"] < 3


@pytest.mark.parametrize("elevation,ambient", [(0.0, 0.0), (1.0, 0.02)])
def test_other_smooth_sweeps_are_not_flagged(sphere_seq, elevation, ambient):
    gt, mask = sphere_seq(360, 48, elevation=elevation, ambient=ambient)
    assert temporal_metrics(gt, None, mask, fps=24)["flagged_frames"] == []


def test_smooth_sinusoid_is_not_flagged():
    frames, mask = _sinusoid()
    r = temporal_metrics(frames, None, mask, fps=30)
    assert r["flagged_frames"] == []
    # ω² (a little more: the display white clips the brightest 1 % of pixel values, which
    # flattens the peak frames)
    assert r["jump_index"] == pytest.approx((2 * math.pi / 240) ** 2, rel=0.15)


# ---------------------------------------------------------------- a 2 % step is flagged exactly at k

@pytest.mark.parametrize("k", [1, 2, 57, 200, 358, 359])
def test_step_is_flagged_exactly_at_k(sphere_seq, k):
    gt, mask = sphere_seq(360, 48)
    pred = gt.clone()
    pred[k:] *= STEP
    r = temporal_metrics(pred, gt, mask, fps=24)
    assert [f["frame"] for f in r["flagged_frames"]] == [k]
    assert r["flagged_frames"][0]["time_s"] == pytest.approx(k / 24)
    # the dark floor ε = 0.1 × mean luminance damps the step a little: log((1.02 Y + ε) / (Y + ε))
    assert 0.5 * math.log(STEP) < r["flagged_frames"][0]["value"] <= math.log(STEP) * 1.01
    assert r["worst_frame"] == k
    assert r["flagged_frames_gt"] == []
    # the plotted curves use the same index: frame k holds the jump
    c = r["curves"]
    assert len(c["m_t"]) == len(c["dm_t"]) == len(c["tde_t"]) == len(c["jump_t"]) == 360
    assert all(len(c[n]) == 360 for n in REL_CURVES)
    assert c["dm_t"][0] is None and c["tde_t"][0] is None and c["jump_t_rel"][0] is None
    assert max(range(1, 360), key=lambda i: abs(c["jump_t_rel"][i])) == k
    assert c["m_t_rel"][k] - c["m_t_rel"][k - 1] == pytest.approx(r["flagged_frames"][0]["value"], abs=1e-5)
    assert max(range(1, 360), key=lambda i: abs(c["jump_t"][i])) == k
    assert max(range(1, 360), key=lambda i: c["tde_t"][i]) == k


def test_step_on_sinusoid_without_gt():
    frames, mask = _sinusoid()
    frames[150:] *= STEP
    r = temporal_metrics(frames, None, mask, fps=30)
    assert [f["frame"] for f in r["flagged_frames"]] == [150]
    assert r["flagged_frames"][0]["time_s"] == pytest.approx(5.0)
    for key in ("tde", "tde_rel", "worst_frame", "jump_index_gt", "peak_ratio_gt", "flagged_frames_gt"):
        assert r[key] is None, key
    assert r["curves"]["tde_t"] is None and r["curves"]["m_t_gt"] is None


def test_step_is_flagged_through_moderate_flicker(sphere_seq):
    gt, mask = sphere_seq(360, 48)
    gen = torch.Generator().manual_seed(0)
    pred = gt * (1 + 0.002 * torch.randn(360, 1, 1, 1, generator=gen))
    pred[290:] *= 1.03
    r = temporal_metrics(pred, gt, mask, fps=24)
    assert [f["frame"] for f in r["flagged_frames"]] == [290]
    assert r["jump_index"] > 10 * r["jump_index_gt"]


def test_a_single_frame_spike_is_flagged_twice():
    m = torch.linspace(0.0, 0.5, 100)
    m[40] += 0.05  # frame 40 pops up and frame 41 drops back
    flags, _, _ = flag_jumps(m, fps=10)
    assert [(f["frame"], f["value"] > 0) for f in flags] == [(40, True), (41, False)]


# ---------------------------------------------------------------- scale invariance

def test_scaling_the_sequence_changes_no_scale_free_measure(sphere_seq):
    gt, mask = sphere_seq(120, 48)
    pred = gt.clone()
    pred[60:] *= STEP
    a = temporal_metrics(pred, gt, mask, fps=24)
    b = temporal_metrics(7.0 * pred, 7.0 * gt, mask, fps=24)
    for key in ("jump_index", "jump_index_gt", "peak_ratio", "peak_ratio_gt", "patch_peak_p99", "tde_rel"):
        assert b[key] == pytest.approx(a[key], rel=1e-4), key
    assert b["tde"] == pytest.approx(7.0 * a["tde"], rel=1e-5)
    assert [f["frame"] for f in b["flagged_frames"]] == [f["frame"] for f in a["flagged_frames"]] == [60]
    for key in ("flagged_frames_relative", "events_pred", "events_gt", "spurious_jumps", "missed_events"):
        assert _frames(b[key]) == _frames(a[key]), key
    assert b["curves"]["jump_t_rel"][1:] == pytest.approx(a["curves"]["jump_t_rel"][1:], abs=1e-6)


def test_jump_index_scale_free_and_known_values():
    gen = torch.Generator().manual_seed(1)
    lum = 1 + 0.2 * torch.rand(300, generator=gen, dtype=torch.float64)
    assert jump_index(log_luminance(5 * lum)).item() == pytest.approx(jump_index(log_luminance(lum)).item(), rel=1e-12)
    noise = torch.randn(64, 4000, generator=gen, dtype=torch.float64)
    assert jump_index(noise).mean().item() == pytest.approx(3.0, rel=0.02)  # white-noise flicker
    assert jump_index(torch.zeros(10)).item() == 0.0
    assert jump_index(torch.tensor([0.0, 1.0] * 100)).item() == pytest.approx(4.0, rel=0.01)


def test_peak_ratio_and_jump_signal():
    m = torch.linspace(0, 1, 101)  # constant step 0.01
    assert peak_ratio(m).item() == pytest.approx(1.0, rel=1e-4)
    m2 = m.clone()
    m2[50:] += 0.04
    assert peak_ratio(m2).item() == pytest.approx(5.0, rel=1e-3)
    e = jump_signal(m2)
    assert e.shape == (100,)
    assert int(e.abs().argmax()) + 1 == 50
    assert e[49].item() == pytest.approx(0.04, abs=1e-5)
    assert e.abs().sort().values[-2].item() < 1e-5


def test_flag_threshold_uses_local_mad_and_floor():
    m = torch.linspace(0, 1, 101)
    flags, thr, _ = flag_jumps(m, fps=10, floor=0.005)
    assert flags == [] and torch.allclose(thr, torch.full((100,), 0.005))  # MAD ~ 0: the floor applies
    gen = torch.Generator().manual_seed(2)
    noisy = m + 0.01 * torch.randn(101, generator=gen)
    _, thr2, e = flag_jumps(noisy, fps=10, threshold_k=5.0, mad_half_window=8)
    assert torch.equal(e, jump_signal(noisy))
    win = e[30 - 8:30 + 9]  # frame 31's window, centred on entry 30
    mad = (win - win.median()).abs().median().item()
    assert thr2[30].item() == pytest.approx(5.0 * 1.4826 * mad, rel=1e-5)
    # the window is shifted inwards at the ends
    assert thr2[0].item() == thr2[8].item() and thr2[-1].item() == thr2[-9].item()


def test_noisy_dark_stretch_raises_only_its_own_threshold():
    # a smooth sweep whose middle third is dark and noisy (Monte-Carlo noise of a path tracer
    # when the light is behind the object): no frame is flagged, and a 2 % step in the lit
    # part is still found exactly
    gen = torch.Generator().manual_seed(5)
    m = torch.sin(torch.arange(240.0) / 40)
    m[80:160] += 0.02 * torch.randn(80, generator=gen)
    assert flag_jumps(m, fps=24)[0] == []
    m[200:] += math.log(STEP)
    assert [f["frame"] for f in flag_jumps(m, fps=24)[0]] == [200]


def test_periodic_loop_needs_no_extrapolation_at_the_ends():
    # one turn of the light in 120 frames; the sequence starts and ends where m curves
    t = torch.arange(120, dtype=torch.float64)
    m = torch.sin(2 * math.pi * t / 120 + 1.3)
    assert flag_jumps(m, fps=30, periodic=True)[0] == []
    e_open = jump_signal(m).abs()
    e_loop = jump_signal(m, periodic=True).abs()
    assert e_loop[-1] < 0.5 * e_open[-1] and e_loop[0] < 0.5 * e_open[0]  # no extrapolation error
    for k in (1, 60, 109):  # a 2 % pop for 10 frames (a loop returns): both edges found exactly
        popped = m.clone()
        popped[k:k + 10] += math.log(STEP)
        assert [f["frame"] for f in flag_jumps(popped, fps=30, periodic=True)[0]] == [k, k + 10], k


def test_closes_loop_and_frame_subsample():
    a = 2 * math.pi * torch.arange(120, dtype=torch.float64) / 120
    ring = torch.stack([2 * torch.cos(a), 2 * torch.sin(a), torch.full_like(a, 1.2), torch.ones_like(a)], 1).numpy()
    assert closes_loop(ring) and closes_loop(ring[frame_subsample(120, 48)])  # stride 3: 40 frames
    assert not closes_loop(ring[frame_subsample(119, 40)[:-1]])
    assert not closes_loop(ring[:100])  # part of a turn
    assert not closes_loop(np.concatenate([ring, ring]))  # two turns
    directional = ring.copy()
    directional[:, 3] = 0
    assert closes_loop(directional)
    assert frame_subsample(120, 48).tolist() == list(range(0, 120, 3))
    with pytest.raises(DataError, match="max_frames"):
        frame_subsample(10, 0)


def test_one_glint_pixel_is_not_a_jump(sphere_seq):
    # a single pixel at 100x white (a grazing specular glint of a path tracer) is one white
    # pixel on a display; without the display-white clip it doubles the frame's mean luminance
    gt, mask = sphere_seq(120, 48)
    ys, xs = torch.nonzero(mask, as_tuple=True)
    glint = gt.clone()
    k = int(gt.mean((1, 2, 3)).argsort()[60])  # a frame of median brightness
    glint[k, :, ys[0], xs[0]] = 100.0 * gt.amax()
    r = temporal_metrics(glint, None, mask, fps=24)
    assert r["flagged_frames"] == []
    assert r["jump_index"] == pytest.approx(temporal_metrics(gt, None, mask, fps=24)["jump_index"], rel=0.2)


# ---------------------------------------------------------------- relative detector, spurious jumps, missed events

STEP_FRAMES = (30, 45, 60, 90)


def _frames(flags):
    return [f["frame"] for f in flags]


def _shadowed(sphere_seq, T=120, res=48, start=50, stop=80, dark=0.3, noise=0.0):
    """The sphere sweep with a real event: a hard cast shadow (30 % light) falls on the left of
    the view at frame ``start`` (a ~35 % brightness drop), its edge moves right, and it lifts at
    ``stop``. ``noise``: per-pixel, per-frame relative noise (Monte-Carlo-like)."""
    gt, mask = sphere_seq(T, res)
    x = torch.linspace(-1, 1, res).view(1, 1, res)
    t = torch.arange(T, dtype=torch.float32).view(T, 1, 1)
    edge = -0.3 + 0.6 * (t - start) / (stop - start)
    gt = gt * torch.where((t >= start) & (t < stop) & (x < edge), dark, 1.0)[:, None]
    if noise:
        gen = torch.Generator().manual_seed(7)
        gt = gt * (1 + noise * torch.randn(gt.shape, generator=gen)).clamp_min(0)
    return gt, mask


@pytest.fixture(params=["smooth", "shadow", "shadow+noise"])
def sweep(request, sphere_seq):
    if request.param == "smooth":
        return sphere_seq(120, 48)
    return _shadowed(sphere_seq, noise=0.05 if request.param == "shadow+noise" else 0.0)


def test_the_shadow_sweep_has_its_own_events(sphere_seq):
    gt, mask = _shadowed(sphere_seq)
    r = temporal_metrics(gt, gt, mask, fps=24, periodic=True)
    assert _frames(r["events_gt"]) == _frames(r["flagged_frames_gt"]) == [50, 80]
    assert r["events_gt"][0]["value"] < -0.3 and r["events_gt"][1]["value"] > 0.3


@pytest.mark.parametrize("step", [1.02, 1 / 1.02, 1.05])
@pytest.mark.parametrize("k", STEP_FRAMES)
def test_relative_detector_finds_each_step_at_its_frame(sweep, step, k):
    # the per-sequence detector on the shadowed sweep misses 2 % at 45 and 60 (the shadow's own
    # jumps and noise raise its local bar); relative to the truth, they cancel
    gt, mask = sweep
    pred = gt.clone()
    pred[k:] *= step
    r = temporal_metrics(pred, gt, mask, fps=24, periodic=True)
    assert _frames(r["flagged_frames_relative"]) == [k]
    assert r["flagged_frames"] == r["flagged_frames_relative"]
    assert r["flagged_frames"][0]["value"] == pytest.approx(math.log(step), rel=0.02)
    assert r["flagged_frames"][0]["time_s"] == pytest.approx(k / 24)


@pytest.mark.parametrize("step", [1.02, 1.05])
def test_relative_detector_finds_all_steps_at_once(sweep, step):
    gt, mask = sweep
    pred = gt.clone()
    for k in STEP_FRAMES:
        pred[k:] *= step
    for periodic in (True, False):
        r = temporal_metrics(pred, gt, mask, fps=24, periodic=periodic)
        assert _frames(r["flagged_frames"]) == list(STEP_FRAMES)


def test_a_clean_copy_flags_nothing(sweep):
    gt, mask = sweep
    r = temporal_metrics(gt.clone(), gt, mask, fps=24, periodic=True)
    assert r["flagged_frames"] == r["flagged_frames_relative"] == []
    assert r["spurious_jumps"] == r["missed_events"] == [] and r["n_spurious"] == r["n_missed"] == 0
    assert r["events_pred"] == r["events_gt"] == r["flagged_frames_gt"]
    assert r["curves"]["threshold_t_rel"][1:] == [pytest.approx(0.01)] * 119  # the floor: nothing to cancel


def test_a_noisy_drifting_copy_flags_nothing_and_steps_still_show(sweep):
    # a slow 10 % brightness drift, 0.1 % frame flicker and 2 % per-pixel noise of its own (with
    # k = 5, a 2 % step is found whatever the draw up to ~0.15 % flicker: σ(e) ≈ 1.5 σ(flicker))
    gt, mask = sweep
    gen = torch.Generator().manual_seed(1)
    drift = 1 + 0.1 * torch.sin(2 * math.pi * torch.arange(120.0) / 120)
    flicker = 1 + 0.001 * torch.randn(120, generator=gen)
    pred = gt * (drift * flicker).view(120, 1, 1, 1) * (1 + 0.02 * torch.randn(gt.shape, generator=gen))
    r = temporal_metrics(pred, gt, mask, fps=24, periodic=True)
    assert r["flagged_frames"] == [] and r["n_spurious"] == 0
    for k in STEP_FRAMES:
        stepped = pred.clone()
        stepped[k:] *= STEP
        assert _frames(temporal_metrics(stepped, gt, mask, fps=24, periodic=True)["flagged_frames"]) == [k], k


def test_a_constant_gain_cancels(sweep):
    gt, mask = sweep
    r = temporal_metrics(1.3 * gt, gt, mask, fps=24)
    assert r["flagged_frames"] == [] and max(abs(v) for v in r["curves"]["jump_t_rel"][1:]) < 1e-5


def test_a_prediction_without_the_truths_event_misses_it(sphere_seq):
    gt, mask = _shadowed(sphere_seq)
    smooth, _ = sphere_seq(120, 48)  # the "far too smooth" model: no shadow at all
    r = temporal_metrics(smooth, gt, mask, fps=24, periodic=True)
    assert _frames(r["missed_events"]) == [50, 80] and r["n_missed"] == 2
    assert r["spurious_jumps"] == [] and r["n_spurious"] == 0
    assert _frames(r["flagged_frames"]) == [50, 80]  # relative to the truth, the missing event is a jump
    assert r["missed_events"] == r["events_gt"]  # the ground truth's flag dicts, unchanged


def test_an_extra_step_is_a_spurious_jump(sphere_seq):
    gt, mask = _shadowed(sphere_seq)
    pred = gt.clone()
    pred[20:] *= 1.05
    r = temporal_metrics(pred, gt, mask, fps=24, periodic=True)
    assert _frames(r["events_pred"]) == [20, 50, 80]
    assert _frames(r["spurious_jumps"]) == [20] and r["n_spurious"] == 1
    assert r["missed_events"] == [] and r["n_missed"] == 0
    assert _frames(r["flagged_frames"]) == [20]
    assert r["spurious_jumps"][0] == r["events_pred"][0]


def test_an_event_one_frame_late_is_neither_spurious_nor_missed(sphere_seq):
    gt, mask = _shadowed(sphere_seq)
    late, _ = _shadowed(sphere_seq, start=51, stop=81)  # the truth's shadow, one frame late
    r = temporal_metrics(late, gt, mask, fps=24, periodic=True)
    assert _frames(r["events_pred"]) == [51, 81] and _frames(r["events_gt"]) == [50, 80]
    assert r["n_spurious"] == r["n_missed"] == 0


def test_without_gt_the_relative_keys_are_none(sweep):
    gt, mask = sweep
    r = temporal_metrics(gt, None, mask, fps=24)
    for key in ("flagged_frames_relative", "events_gt", "spurious_jumps", "missed_events", "n_spurious", "n_missed"):
        assert r[key] is None, key
    assert r["flagged_frames"] == r["events_pred"]
    assert all(r["curves"][c] is None for c in REL_CURVES)


def test_a_step_in_a_glint_dominated_dark_frame_is_measured_exactly(sphere_seq):
    # frames 50-70 almost black (1 % light) with a few grazing glints at 50x the display white:
    # clipped at the white they carry most of those frames' display brightness. Each sweep
    # clipped at its own white would not scale them (2 % reads ~0.5 %); the shared clip weight
    # keeps the ratio exact
    gt, mask = sphere_seq(120, 48)
    gt[50:71] *= 0.01
    ys, xs = torch.nonzero(mask, as_tuple=True)
    gt[50:71, :, ys[:3], xs[:3]] = 50 * gt.amax()
    for k in (55, 60, 70):
        pred = gt.clone()
        pred[k:] *= STEP
        r = temporal_metrics(pred, gt, mask, fps=24)
        assert _frames(r["flagged_frames"]) == [k]
        assert r["flagged_frames"][0]["value"] == pytest.approx(math.log(STEP), rel=0.1)


def test_relative_log_luminance_known_values():
    g = torch.tensor([1.0, 2.0, 4.0, 0.5, 0.0, 0.0, 1.0], dtype=torch.float64)
    s = torch.tensor([1.0, 1.0, 1.1, 1.1, 1.1, 1.1, 1.1], dtype=torch.float64)
    r = relative_log_luminance(s * g, g)
    assert r[0] == 0 and abs(r[1]) < 1e-12 and r.shape == (7,)
    q = min(2.0 / g.mean().item(), 2.0 / (s * g).mean().item())  # the darker of frames 1, 2 in either sweep
    assert r[2].item() == pytest.approx(q / (q + 1e-3) * math.log(1.1), rel=1e-9)  # Δr damped by w
    assert torch.allclose(r[2:4], r[2].expand(2)) and torch.isfinite(r).all()
    assert torch.equal(r[4:], r[3].expand(3))  # black frames: w = 0, nothing changes
    assert torch.allclose(relative_log_luminance(7 * s * g, 3 * g), r)  # scale-free
    with pytest.raises(DataError, match="lum_gt"):
        relative_log_luminance(g, g[None])


def test_match_events():
    assert match_events([5, 20, 21, 60], [6, 40, 59]) == ([20, 21], [40])
    assert match_events([5], [7]) == ([5], [7])
    assert match_events([5], [7], tolerance=2) == ([], [])
    assert match_events([], [3]) == ([], [3]) and match_events([3], []) == ([3], [])
    assert match_events([], []) == ([], [])


# ---------------------------------------------------------------- tDE

def test_tde_known_values_and_masked_mean_equivalence():
    gen = torch.Generator().manual_seed(3)
    gt = torch.rand(10, 3, 8, 8, generator=gen)
    pred = gt + 0.1 * torch.rand(10, 3, 8, 8, generator=gen)
    mask = torch.rand(8, 8, generator=gen) > 0.3
    tde, rel, per = temporal_difference_error(pred, gt, mask)
    m4 = mask[None, None]
    want = masked_mean(((pred[1:] - pred[:-1]) - (gt[1:] - gt[:-1])).abs(), m4)
    den = masked_mean((gt[1:] - gt[:-1]).abs(), m4).mean()
    assert torch.allclose(per, want, atol=1e-6)
    assert tde == pytest.approx(want.mean().item(), rel=1e-5)
    assert rel == pytest.approx(want.mean().item() / den.item(), rel=1e-5)


def test_tde_constant_gt_gives_no_relative_value():
    gt = torch.ones(5, 3, 4, 4)
    tde, rel, _ = temporal_difference_error(gt * 1.0, gt, torch.ones(4, 4, dtype=torch.bool))
    assert tde == 0.0 and rel is None


def test_tde_across_chunk_boundaries(monkeypatch, sphere_seq):
    import neutex.eval.temporal as temporal

    gt, mask = sphere_seq(50, 24)
    pred = gt.clone()
    pred[33:] *= STEP
    full = temporal_difference_error(pred, gt, mask)
    monkeypatch.setattr(temporal, "CHUNK_FRAMES", 7)
    chunked = temporal_difference_error(pred, gt, mask)
    assert torch.allclose(full[2], chunked[2], atol=1e-7)
    assert int(chunked[2].argmax()) + 1 == 33


# ---------------------------------------------------------------- masked

def test_background_changes_nothing(sphere_seq):
    gt, mask = sphere_seq(60, 32)
    pred = gt.clone()
    pred[30:] *= STEP
    a = temporal_metrics(pred, gt, mask, fps=24)
    gen = torch.Generator().manual_seed(4)
    bg = ~mask
    pred2, gt2 = pred.clone(), gt.clone()
    pred2[:, :, bg] = torch.rand(60, 3, int(bg.sum()), generator=gen) * 10
    gt2[:, :, bg] = float("nan")
    b = temporal_metrics(pred2, gt2, mask, fps=24)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


# ---------------------------------------------------------------- local pops

def _pop(gt, mask, y0, x0, size, frame, factor):
    pred = gt.clone()
    pred[frame:, :, y0:y0 + size, x0:x0 + size] *= factor
    return pred


def test_local_pop_is_caught_by_the_patch_measure_not_the_global_one(sphere_seq):
    gt, mask = sphere_seq(240, 128)
    base = temporal_metrics(gt, None, mask, fps=24)
    pred = gt.clone()
    pred[30:, :, 40:48, 72:88] *= 1.15  # two lit 8x8 tiles pop by 15 % at frame 30
    r = temporal_metrics(pred, None, mask, fps=24)
    assert r["patch_peak_p99"] > 5 * base["patch_peak_p99"]
    assert r["patch_peak_p99"] > 0.1
    # the global measures barely move: a < 0.5 % step, not flagged, peak ratio within 2 %
    assert abs(r["curves"]["jump_t"][30]) < 0.004
    assert r["flagged_frames"] == []
    assert r["peak_ratio"] == pytest.approx(base["peak_ratio"], rel=0.02)
    at = r["curves"]["patch_peak_at"]
    assert at["frame"] == 30 and at["x"] in (72, 80) and at["y"] == 40


def test_single_tile_pop_caught_at_low_resolution(sphere_seq):
    gt, mask = sphere_seq(120, 64)  # ~40 tiles: one 8x8 tile is above the 99th percentile
    base = temporal_metrics(gt, None, mask, fps=24)
    r = temporal_metrics(_pop(gt, mask, 24, 40, 8, 15, 1.3), None, mask, fps=24)
    assert r["patch_peak_p99"] > 10 * base["patch_peak_p99"]
    assert r["curves"]["patch_peak_at"] == {"frame": 15, "time_s": pytest.approx(15 / 24), "x": 40, "y": 24}


# ---------------------------------------------------------------- output and errors

def test_output_is_strict_json(sphere_seq):
    gt, mask = sphere_seq(40, 24)
    for g in (gt, None):
        r = temporal_metrics(gt * 1.01, g, mask, fps=24)
        json.dumps(r, allow_nan=False)
    # a black prediction (a broken model) or truth: no ratio, nothing flagged, still strict JSON
    for p, g in ((torch.zeros_like(gt), gt), (gt, torch.zeros_like(gt))):
        r = temporal_metrics(p, g, mask, fps=24)
        json.dumps(r, allow_nan=False)
        assert r["flagged_frames_relative"] == []
    json.dumps(temporal_metrics(gt - 0.5, gt, mask, fps=24), allow_nan=False)  # negative values


def test_accepts_float16_numpy(sphere_seq):
    gt, mask = sphere_seq(120, 24)
    pred = gt.clone()
    pred[20:] *= STEP
    r = temporal_metrics(pred.half().numpy(), gt.half().numpy(), mask.numpy(), fps=24)
    assert r["worst_frame"] == 20 and [f["frame"] for f in r["flagged_frames"]] == [20]


def test_errors():
    x = torch.rand(5, 3, 8, 8)
    m = torch.ones(8, 8, dtype=torch.bool)
    with pytest.raises(DataError, match=r"pred: expected shape \(T 3 H W\)"):
        temporal_metrics(x[:, :2], None, m, fps=24)
    with pytest.raises(DataError, match="fps"):
        temporal_metrics(x, None, m, fps=0)
    with pytest.raises(DataError, match="mask: no object pixel"):
        temporal_metrics(x, None, torch.zeros(8, 8, dtype=torch.bool), fps=24)
    with pytest.raises(DataError, match="gt: shape"):
        temporal_metrics(x, x[:4], m, fps=24)
    y = x.clone()
    y[2, 0, 3, 3] = float("nan")
    with pytest.raises(DataError, match="pred: non-finite"):
        temporal_metrics(y, None, m, fps=24)


# ---------------------------------------------------------------- light-space curvature

def test_rotate_sources():
    from neutex.render.lights import rotate_sources as _rot

    def rotate_sources(src, up, angle):
        return _rot(src, up, torch.full((src.shape[0],), angle, dtype=src.dtype))

    up = torch.tensor([0.0, 0.0, 2.0])
    s = torch.tensor([[1.0, 0.0, 0.3, 1.0], [0.0, 1.0, 0.5, 0.0]])
    r = rotate_sources(s, up, math.pi / 2)
    assert torch.allclose(r, torch.tensor([[0.0, 1.0, 0.3, 1.0], [-1.0, 0.0, 0.5, 0.0]]), atol=1e-6)
    assert torch.allclose(rotate_sources(r, up, -math.pi / 2), s, atol=1e-6)


def test_curvature_is_order_delta_on_a_smooth_renderer(sphere_renderer):
    calls = []

    def render(src):
        calls.append(src.shape[0])
        return sphere_renderer(src, res=32)

    up = torch.tensor([0.0, 0.0, 1.0])
    lights = torch.tensor([[math.cos(a), math.sin(a), 0.6, 0.0] for a in (0.3, 1.0, 1.7, 2.2, 2.6)])
    k1 = light_curvature(render, lights, up, 0.04, batch_size=2)
    k2 = light_curvature(render, lights, up, 0.02, batch_size=2)
    assert max(calls) <= 6 and len(k1["per_light"]) == 5
    ratio = torch.tensor(k1["per_light"]) / torch.tensor(k2["per_light"])
    assert torch.all((ratio > 1.7) & (ratio < 2.3)), ratio
    assert k1["mean"] < 0.2


def test_curvature_is_order_one_on_a_step():
    def render(src):  # brightness jumps when the light's azimuth crosses 1 rad
        az = torch.atan2(src[:, 1], src[:, 0])
        return (1.0 + 0.2 * (az > 1.0).float()).view(-1, 1, 1, 1).expand(-1, 3, 8, 8)

    up = torch.tensor([0.0, 0.0, 1.0])
    lights = torch.tensor([[math.cos(0.99), math.sin(0.99), 0.0, 0.0]])
    for delta in (0.04, 0.02):
        assert light_curvature(render, lights, up, delta)["mean"] == pytest.approx(1.0, abs=1e-4)


@pytest.mark.slow
def test_speed_360_frames_256(sphere_seq):
    import time

    gt, mask = sphere_seq(360, 256)
    pred = gt * 1.01
    t0 = time.perf_counter()
    temporal_metrics(pred, gt, mask, fps=24)
    assert time.perf_counter() - t0 < 5.0
