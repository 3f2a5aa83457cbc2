"""The experiment report: a static HTML page with its plots, image grids and videos
(``DIR/report.html`` + ``DIR/report_files/``), written from an experiment's summary.

Every name is imported on first use (:func:`neutex.lazy.lazy_exports`), so
``import neutex.report`` stays light.
"""

from __future__ import annotations

from neutex.lazy import lazy_exports

_LAZY = {
    "choose_fixed_pairs": "neutex.report.media",
    "labelled_grid": "neutex.report.media",
    "render_report_media": "neutex.report.media",
    "sweep_videos": "neutex.report.media",
    "bucket_rows": "neutex.report.html",
    "render_html": "neutex.report.html",
    "summary_lines": "neutex.report.html",
    "write_report_html": "neutex.report.html",
    "plot_bucket_bars": "neutex.report.figures",
    "plot_stripes": "neutex.report.figures",
    "plot_temporal_epochs": "neutex.report.figures",
    "plot_training_loss": "neutex.report.figures",
    "plot_val_psnr": "neutex.report.figures",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
