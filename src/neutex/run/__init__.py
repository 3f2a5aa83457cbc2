"""A run: its folder (config, checkpoints, metrics), rebuilt for use; predicting with its model;
and the one evaluator. Everything above training — eval, render, report, experiments — reaches
a trained model through here.

Every name is imported on first use (:func:`neutex.lazy.lazy_exports`), so
``import neutex.run`` stays light.
"""

from __future__ import annotations

from neutex.lazy import lazy_exports

_LAZY = {
    "epoch_checkpoint_name": "neutex.run.checkpoint",
    "load_checkpoint": "neutex.run.checkpoint",
    "resolve_checkpoint": "neutex.run.checkpoint",
    "rng_state": "neutex.run.checkpoint",
    "save_checkpoint": "neutex.run.checkpoint",
    "set_rng_state": "neutex.run.checkpoint",
    "latest_checkpoint": "neutex.run.checkpoint",
    "remove_stale_temp_files": "neutex.run.checkpoint",
    "kill_point": "neutex.run.checkpoint",
    "FrameRenderer": "neutex.run.predict",
    "predict_linear": "neutex.run.predict",
    "render_view": "neutex.run.predict",
    "load_run": "neutex.run.load",
    "LoadedRun": "neutex.run.load",
    "open_shadows": "neutex.run.load",
    "read_metrics": "neutex.run.load",
    "read_run_config": "neutex.run.load",
    "upgrade_config_dict": "neutex.run.load",
    "held_out_psnr": "neutex.run.evaluate",
    "measure_frames": "neutex.run.evaluate",
    "measure_pairs": "neutex.run.evaluate",
    "measure_sweep": "neutex.run.evaluate",
    "sample_pairs": "neutex.run.evaluate",
    "sweep_jobs": "neutex.run.evaluate",
    "SweepJob": "neutex.run.evaluate",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
