"""The experiment report: a static HTML page with its plots, image grids and videos
(``DIR/report.html`` + ``DIR/report_files/``), written from an experiment's summary.

Names that need torch or matplotlib are imported on first use.
"""

from __future__ import annotations

from neutex.lazy import lazy_exports

_LAZY = {
    "render_report_media": "neutex.report.media",
    "choose_fixed_pairs": "neutex.report.media",
    "labelled_grid": "neutex.report.media",
    "write_report_html": "neutex.report.html",
    "render_html": "neutex.report.html",
    "bucket_rows": "neutex.report.html",
    "summary_lines": "neutex.report.html",
    "plot_bucket_bars": "neutex.report.figures",
    "plot_stripes": "neutex.report.figures",
    "plot_temporal_epochs": "neutex.report.figures",
    "plot_training_loss": "neutex.report.figures",
    "plot_val_psnr": "neutex.report.figures",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
