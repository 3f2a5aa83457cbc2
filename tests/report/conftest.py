"""Fixtures of tests/report: one small real experiment (two tiny variants, one with the GAN)
rendered into a report once per session."""

import pytest

@pytest.fixture(scope="session")
def small_report(tmp_path_factory, tiny_prepared, tiny_base):
    """``(DIR, summary)`` of a finished tiny experiment with its report."""
    from rich.console import Console

    from neutex.experiment.runner import run_suite
    from neutex.experiment.suite import suite_from_dict

    root = tmp_path_factory.mktemp("report")
    suite = suite_from_dict({"name": "browser", "description": "two tiny variants",
                             "split": {"view_fraction": 0.75, "light_fraction": 0.75}, "base": tiny_base,
                             "variants": {"multiply": {"model.conditioning": "multiply"},
                                          "multiply_gan": {"model.conditioning": "multiply", "loss.gan": True,
                                                           "disc": {"width": 4, "n_layers": 1}}}})
    res = run_suite(suite, root / "exp", tiny_prepared, "tiny", console=Console(stderr=True, width=120), progress=False)
    return res.out, res.summary
