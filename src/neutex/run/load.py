"""A run rebuilt from its folder alone (nerfstudio's ``eval_setup``): config, dataset, model
with a checkpoint's weights, device, precision and the shadow caster its inputs need. Used by
``neutex eval``, ``neutex render``, the report, the experiment runner and the viewer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neutex.capture.mesh import load_mesh
from neutex.config import config_from_dict, config_to_dict
from neutex.data.prepared import PreparedData
from neutex.device import autocast_dtype, pick_device
from neutex.errors import CheckpointError, ConfigError
from neutex.gbuffer.shadow import ShadowCaster
from neutex.jsonio import read_json_lines, read_json_object
from neutex.model.config import ORIGIN_MODEL
from neutex.run.checkpoint import load_checkpoint, resolve_checkpoint, state_dict_mismatch
from neutex.run.predict import FrameRenderer
from neutex.train.config import TrainConfig, changed_settings


def open_shadows(data, needed: bool, log=None):
    """A :class:`~neutex.gbuffer.ShadowCaster` for ``data``'s mesh when the model needs cast
    shadows; None when it does not, or when the dataset has no mesh (G-buffers given directly,
    e.g. DiLiGenT): then the cues carry attached shadows only (n·l), and ``log`` says so."""
    if not needed:
        return None
    if data.mesh_path is None:
        if log is not None:
            log("shadows: the dataset has no mesh (its G-buffers were given), so the radiance cues carry attached "
                "shadows only")
        return None
    return ShadowCaster(load_mesh(data.mesh_path))


def upgrade_config_dict(d: dict[str, Any]) -> dict[str, Any]:
    """A run's config dict from an older neutex, made loadable: models without an ``inputs``
    list were the origin's three buffers (exp1 / exp2), with no cues, shadows or residual.

    Examples:
        >>> upgrade_config_dict({"model": {"conditioning": "concat"}})["model"]["preset"]
        'exp2'
    """
    m = d.get("model")
    if isinstance(m, dict) and "inputs" not in m:
        origin = {k: ORIGIN_MODEL[k] for k in ("inputs", "texture_init", "shadows", "residual")}
        m = {**origin, "inputs": list(origin["inputs"]), **m}
        m.setdefault("preset", "exp2" if m.get("conditioning") == "concat" else "exp1")
        if m.get("conditioning") == "concat":
            m.pop("channel_map", None)  # recorded for every run then, but nothing was multiplied
        if m.get("multiplied_init_mean") is None:
            m.pop("multiplied_init_mean", None)
        d = {**d, "model": m}
    return d


@dataclass
class LoadedRun:
    """A run rebuilt from its folder: ``cfg`` (TrainConfig), ``extra`` (the rest of
    config.json), ``data``, ``model`` (eval mode, on ``device``), the ``checkpoint`` file and
    its ``epoch``, the ``white`` level, the autocast dtype ``amp`` and the ``shadows`` caster."""

    run: Path
    cfg: Any
    extra: dict[str, Any]
    data: PreparedData
    model: torch.nn.Module
    checkpoint: Path
    epoch: int
    white: float
    device: torch.device
    amp: torch.dtype | None = None
    shadows: Any = None

    @property
    def encoding(self) -> str:
        return self.cfg.data.encoding

    def renderer(self, batch_size: int = 8, amp: torch.dtype | None | str = "run") -> FrameRenderer:
        """A :class:`FrameRenderer` for this run's model (precision of the run unless ``amp`` is given)."""
        return FrameRenderer(self.model, self.encoding, self.device, self.amp if amp == "run" else amp, batch_size,
                             self.shadows)


def read_run_config(run: str | Path):
    """``(TrainConfig, config.json as a dict)`` of a run folder.

    Raises:
        CheckpointError: no config.json; ConfigError: an unreadable or invalid one (naming the key).
    """
    cfg_path = Path(run) / "config.json"
    if not cfg_path.is_file():
        raise CheckpointError(f"{cfg_path}: not a run folder (no config.json)")
    extra = read_json_object(cfg_path, ConfigError)
    d = upgrade_config_dict(extra.get("config", extra))
    return config_from_dict(TrainConfig, d, where=cfg_path.name), extra


def settings_changed(run: str | Path, cfg: TrainConfig) -> list[str]:
    """``"field: run -> now"`` for each setting of ``cfg`` that differs from the run folder's
    config.json (upgraded and filled with today's defaults first); ``[]`` when they agree.

    Raises:
        CheckpointError: no config.json; ConfigError: an unreadable or invalid one.
    """
    return changed_settings(config_to_dict(read_run_config(run)[0]), cfg)


def load_run(run: str | Path, checkpoint: str | int = "best", device: str = "auto",
             data_path: str | Path | None = None, log=None) -> LoadedRun:
    """Rebuild a run from ``RUN/config.json`` and one of its checkpoints.

    The EMA weights are used when the run trained with ``remedies.ema`` (they are what
    validation saw). ``data_path`` overrides the prepared dataset's location.

    Raises:
        CheckpointError: not a run folder, no such checkpoint, or weights that do not fit the config.
    """
    run = Path(run)
    cfg, extra = read_run_config(run)
    if data_path:  # the user's choice is used or refused, never swapped for another dataset
        path = Path(data_path)
    else:  # the absolute path recorded at training time, else the configured (maybe relative) one
        path = Path(extra.get("data", {}).get("path", cfg.data.path))
        if not path.exists():
            path = Path(cfg.data.path)
    data = PreparedData.open(path)
    dev = pick_device(device)
    ck_path = resolve_checkpoint(run, checkpoint)
    st = load_checkpoint(ck_path)
    model = cfg.model.setup(cfg.data.encoding)
    weights = st["ema"] if st.get("ema") else st["model"]
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise CheckpointError(f"{ck_path}: weights do not match the run's config ({state_dict_mismatch(exc)})") from None
    model = model.to(dev).eval()
    white = float(st.get("white", extra.get("resolved", {}).get("white_level", data.white_level)))
    shadows = open_shadows(data, cfg.model.needs_visibility, log)
    return LoadedRun(run, cfg, extra, data, model, ck_path, int(st["epoch"]), white, dev,
                     autocast_dtype(cfg.precision, dev), shadows)


def read_metrics(run: str | Path) -> list[dict[str, Any]]:
    """The rows of ``RUN/metrics.jsonl`` (``[]`` before the first; a torn last line, from an
    interruption, is skipped; a damaged line before it is a :class:`CheckpointError`)."""
    return read_json_lines(Path(run) / "metrics.jsonl", CheckpointError)
