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
