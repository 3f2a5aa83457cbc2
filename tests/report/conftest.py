"""Fixtures of tests/report: one small real experiment (two tiny variants, one with the GAN)
rendered into a report once per session."""

import pytest

TINY_BASE = {
    "loss": {"perceptual": "off"},
    "schedule": {"pairs_per_epoch": 4, "val_images": 2, "sweep_frames": 6, "log_every": 1, "probe_every": 2},
    "model": {"texture_res": 32, "unet_width": 4, "unet_depth": 2, "unet_max_width": 8},
    "threads": 1,
}


@pytest.fixture(scope="session")
def small_report(tmp_path_factory):
    """``(DIR, summary)`` of a finished tiny experiment with its report."""
    from rich.console import Console

    from neutex.data import write_synthetic_prepared
    from neutex.experiment.runner import run_suite
    from neutex.experiment.suite import suite_from_dict

    root = tmp_path_factory.mktemp("report")
    prepared = write_synthetic_prepared(root / "prepared", views=4, lights=8, res=32, view_fraction=0.75,
                                        light_fraction=0.75, sequence_frames=12)
    suite = suite_from_dict({"name": "browser", "description": "two tiny variants",
                             "split": {"view_fraction": 0.75, "light_fraction": 0.75}, "base": TINY_BASE,
                             "variants": {"multiply": {"model.conditioning": "multiply"},
                                          "multiply_gan": {"model.conditioning": "multiply", "loss.gan": True,
                                                           "disc": {"width": 4, "n_layers": 1}}}})
    res = run_suite(suite, root / "exp", prepared, "tiny", console=Console(stderr=True, width=120), progress=False)
    return res.out, res.summary
