"""Tiny runs for the render tests: a prepared dataset (analytic sphere, or a real capture with a
mesh, prepared) and a run folder with a freshly initialised small model, written in code."""

from pathlib import Path

import numpy as np
import pytest
import torch

from neutex.capture import Capture, Frame, Light, Sequence, save_capture, write_exr

from testkit import ring_cameras, write_uv_icosphere


def make_run(root: Path, data: Path, encoding: str = "log", precision: str = "fp32", seed: int = 0,
             white: float = 0.5, **model) -> Path:
    """A run folder (config.json + checkpoints/best.pt, last.pt, epoch-0001.pt) with an untrained model."""
    from neutex.config import save_config
    from neutex.model.config import ModelConfig
    from neutex.run.checkpoint import save_checkpoint
    from neutex.train.config import DataConfig, TrainConfig

    model = {"texture_res": 16, "unet_depth": 2, "unet_width": 8, "texture_init_std": 0.5, **model}
    cfg = TrainConfig(out=root, data=DataConfig(path=Path(data), encoding=encoding), model=ModelConfig(**model),
                      precision=precision, device="cpu")
    torch.manual_seed(seed)
    net = cfg.model.setup(encoding)
    root.mkdir(parents=True, exist_ok=True)
    save_config(cfg, root / "config.json", {"data": {"path": str(Path(data).resolve())},
                                            "resolved": {"white_level": white}})
    for name in ("best.pt", "last.pt", "epoch-0001.pt"):
        save_checkpoint({"model": net.state_dict(), "epoch": 1, "white": white}, root / "checkpoints" / name)
    return root


def make_capture(root: Path, views: int = 3, lights: int = 4, res: int = 32, seq_frames: int = 0) -> Path:
    """A capture of an icosphere with spherical uvs (OBJ), pinhole cameras on a ring, point
    lights, constant images; optionally a ground-truth sequence at the first camera."""
    root = Path(root)
    write_uv_icosphere(root / "mesh.obj")
    cams = ring_cameras(res, np.linspace(0, 2 * np.pi, views, endpoint=False))
    rng = np.random.default_rng(1)
    lts = [Light(f"L{i:03d}", "point", np.full(3, 5.0), position=3 * d / np.linalg.norm(d))
           for i, d in enumerate(rng.normal(size=(lights, 3)))]
    frames = []
    for vi, c in enumerate(cams):
        for li, light in enumerate(lts):
            rel = f"images/{c.id}/{light.id}.exr"
            write_exr(root / rel, np.full((res, res, 3), 0.1 + 0.05 * (vi + li), np.float32))
            frames.append(Frame(c.id, light.id, rel))
    seqs = []
    if seq_frames:
        sl = [Light(f"S{t:03d}", "point", np.full(3, 5.0), position=[3 * np.cos(a), 3 * np.sin(a), 1.0])
              for t, a in enumerate(np.linspace(0, 2 * np.pi, seq_frames, endpoint=False))]
        lts += sl
        rels = []
        for t in range(seq_frames):
            rel = f"sweeps/S{t:03d}.exr"
            write_exr(root / rel, np.full((res, res, 3), 0.2 + 0.1 * np.sin(t), np.float32))
            rels.append(rel)
        seqs.append(Sequence("sweep_cam00", cams[0].id, [light.id for light in sl], rels, fps=24.0))
    save_capture(Capture(root, cams, lts, frames, mesh="mesh.obj", sequences=seqs))
    return root / "capture.json"


@pytest.fixture(scope="session")
def sphere_data(tmp_path_factory) -> Path:
    """Analytic prepared dataset (no mesh): 4 orthographic views x 8 lights at 32², a 12-frame sequence."""
    from neutex.data.synthetic import write_synthetic_prepared

    return write_synthetic_prepared(tmp_path_factory.mktemp("sphere") / "prepared", views=4, lights=8, res=32,
                                    sequence_frames=12)


@pytest.fixture(scope="session")
def sphere_run(sphere_data, tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("run") / "run", sphere_data)


@pytest.fixture(scope="session")
def mesh_data(tmp_path_factory, egl) -> Path:
    """A capture with a mesh, prepared (needs EGL): 3 pinhole views x 4 lights at 32²."""
    from neutex.data.prepare import PrepareConfig, prepare_capture

    root = tmp_path_factory.mktemp("meshcap")
    cap = make_capture(root / "capture")
    return prepare_capture(PrepareConfig(cap, root / "prepared", progress=False))


@pytest.fixture(scope="session")
def mesh_run(mesh_data, tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("meshrun") / "run", mesh_data)


@pytest.fixture(scope="session")
def run_maker():
    """:func:`make_run` itself."""
    return make_run


@pytest.fixture(scope="session")
def capture_maker():
    """:func:`make_capture` itself."""
    return make_capture
