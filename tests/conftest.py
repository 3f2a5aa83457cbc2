import os

import pytest

os.environ.setdefault("EGL_PLATFORM", "surfaceless")


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: pass --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture(scope="session")
def egl():
    """Skip tests that rasterize where there is no EGL."""
    from neutex.errors import DependencyError
    from neutex.gbuffer import create_context

    try:
        create_context().release()
    except DependencyError as exc:
        pytest.skip(f"no EGL: {exc}")


#: what every test suite trains with: a few iterations of a tiny model, no perceptual loss.
TINY_BASE = {
    "loss": {"perceptual": "off"},
    "schedule": {"pairs_per_epoch": 4, "val_images": 2, "sweep_frames": 6, "log_every": 1, "probe_every": 2},
    "model": {"texture_res": 32, "unet_width": 4, "unet_depth": 2, "unet_max_width": 8},
    "threads": 1,
}


@pytest.fixture(scope="session")
def tiny_base():
    """Train-config overrides (nested dict, read-only) for suites that finish in well under a second."""
    return TINY_BASE


@pytest.fixture(scope="session")
def tiny_prepared(tmp_path_factory):
    """A prepared dataset (4 views x 8 lights at 32², split 3/4 x 3/4, a 12-frame ground-truth sweep)."""
    from neutex.data import write_synthetic_prepared

    return write_synthetic_prepared(tmp_path_factory.mktemp("prep") / "prepared", views=4, lights=8, res=32,
                                    view_fraction=0.75, light_fraction=0.75, sequence_frames=12)
