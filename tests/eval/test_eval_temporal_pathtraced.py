"""The relative jump detector on real path-traced ground-truth sweeps (Mitsuba, the demo egg at
32², 60 frames): Monte-Carlo noise, dark frames with the light behind the object, glints."""

import math

import numpy as np
import pytest
import torch

from neutex.eval.temporal import closes_loop, temporal_metrics

pytest.importorskip("mitsuba")

STEP = 1.02
STEP_FRAMES = (5, 15, 25, 30, 40, 50, 58)


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    from neutex.capture import load_capture, read_image, read_mask
    from neutex.synth import preset_config, synthesize

    cfg = preset_config("demo", views=2, lights_per_face=1, res=32, sweep_frames=60, texture_res=128)
    cap = load_capture(synthesize(cfg, tmp_path_factory.mktemp("synth") / "cap", progress=False))
    out = []
    for s in cap.sequences:
        mask = torch.from_numpy(read_mask(cap.root / "masks" / f"{s.camera}.png")).bool()
        frames = np.stack([read_image(cap.root / f) for f in s.frames]).astype(np.float32)
        gt = torch.from_numpy(frames).permute(0, 3, 1, 2) * mask
        src = np.array([[*cap.light(l).position, 1.0] for l in s.lights])
        out.append((s.name, gt, mask, closes_loop(src)))
    assert len(out) == 2
    return out


def test_a_clean_copy_of_a_path_traced_sweep_flags_nothing(sweeps):
    for name, gt, mask, periodic in sweeps:
        assert periodic, name  # one full turn of the light
        r = temporal_metrics(gt.clone(), gt, mask, fps=30, periodic=periodic)
        assert r["flagged_frames"] == [] and r["n_spurious"] == r["n_missed"] == 0, name


def test_every_2_percent_step_is_found_at_its_frame_on_a_path_traced_sweep(sweeps):
    for name, gt, mask, periodic in sweeps:
        lum = gt.mean((1, 2, 3))
        assert lum.min() < 0.1 * lum.mean()  # the sweep has dark frames (light behind the object)
        for k in STEP_FRAMES:
            for step in (STEP, 1 / STEP):
                pred = gt.clone()
                pred[k:] *= step
                r = temporal_metrics(pred, gt, mask, fps=30, periodic=periodic)
                assert [f["frame"] for f in r["flagged_frames"]] == [k], (name, k, step)
                assert abs(r["flagged_frames"][0]["value"]) > 0.5 * math.log(STEP)
        pred = gt.clone()
        for k in STEP_FRAMES:
            pred[k:] *= STEP
        r = temporal_metrics(pred, gt, mask, fps=30, periodic=periodic)
        assert [f["frame"] for f in r["flagged_frames"]] == list(STEP_FRAMES), name
