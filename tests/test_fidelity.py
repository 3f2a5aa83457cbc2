"""Fidelity regression: the default model must relight better than the nearest photograph.

A tiny path-traced scene (the glossy, speckled demo egg at 32², 4 views x 24 lights), the
default model trained for a few hundred steps with a fixed seed, then the novel-light bucket
scored beside the nearest-light baseline on tone-mapped PSNR and SSIM. A change that breaks
relighting — the cues, the shadows, the photo texture, the residual — fails CI here.
"""

import numpy as np
import pytest
import torch

from neutex.eval.baseline import NearestLightBaseline
from neutex.run.evaluate import measure_pairs
from neutex.run.load import load_run


@pytest.fixture(scope="module")
def glossy_prepared(tmp_path_factory, egl):
    from neutex.data.prepare import PrepareConfig, prepare_capture
    from neutex.synth.config import preset_config
    from neutex.synth.render import synthesize

    root = tmp_path_factory.mktemp("glossy")
    cfg = preset_config("demo", views=4, lights_per_face=2, res=32, spp=8, sweep_frames=0)
    cap = synthesize(cfg, root / "cap", progress=False)
    return prepare_capture(PrepareConfig(cap, root / "prep", progress=False))


def test_default_model_beats_the_nearest_light_on_novel_lights(glossy_prepared, tmp_path):
    from neutex.config import config_from_dict
    from neutex.train.config import TrainConfig
    from neutex.train.trainer import Trainer

    cfg = config_from_dict(TrainConfig, {
        "out": str(tmp_path / "run"), "data": {"path": str(glossy_prepared)}, "seed": 0, "threads": 1,
        "loss": {"perceptual": "off"},
        "model": {"unet_depth": 3, "unet_width": 8, "unet_max_width": 32},
        "schedule": {"epochs": 2, "pairs_per_epoch": 100, "val_images": 2, "sweep_frames": 4,
                     "log_every": 50, "probe_every": 10**6},
    })
    torch.manual_seed(0)
    run = Trainer(cfg).train()
    loaded = load_run(run, "last", "cpu")
    assert loaded.cfg.model.preset == "neutex" and loaded.cfg.model.uses_residual
    data = loaded.data
    pairs = data.pairs("novel_light")
    assert len(pairs) >= 6
    model, base = measure_pairs(loaded.renderer(8), data, pairs, loaded.white, NearestLightBaseline(data))
    print({k: (round(model[k], 3), round(base[k], 3)) for k in ("psnr", "psnr_tonemapped", "ssim")})
    assert model["psnr_tonemapped"] > base["psnr_tonemapped"] + 1.0
    assert model["ssim"] > base["ssim"]
    assert np.isfinite(model["psnr"]) and model["psnr"] > base["psnr"]
