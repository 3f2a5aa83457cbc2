import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("_render_conftest", Path(__file__).parents[1] / "render" / "conftest.py")
_render = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_render)


@pytest.fixture(scope="session")
def viewer_run(tmp_path_factory, egl):
    """A mesh capture (3 views x 4 lights at 32², a 6-frame sequence), prepared, and an untrained run."""
    from neutex.data.prepare import PrepareConfig, prepare_capture

    root = tmp_path_factory.mktemp("viewer")
    cap = _render.make_capture(root / "capture", views=3, lights=4, res=32, seq_frames=6)
    data = prepare_capture(PrepareConfig(cap, root / "prepared", progress=False))
    return _render.make_run(root / "run", data)
