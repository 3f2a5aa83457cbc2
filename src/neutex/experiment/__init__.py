"""Experiment suites: variants of a training config run on one capture, evaluated and compared
in one report (``neutex experiment``, ``neutex demo``). See docs/experiments.md.

Every name is imported on first use (:func:`neutex.lazy.lazy_exports`), so
``import neutex.experiment`` stays light.
"""

from __future__ import annotations

from neutex.lazy import lazy_exports

_LAZY = {
    "load_suite": "neutex.experiment.suite",
    "resolve_variants": "neutex.experiment.suite",
    "Scale": "neutex.experiment.suite",
    "SCALES": "neutex.experiment.suite",
    "SplitSpec": "neutex.experiment.suite",
    "suite_from_dict": "neutex.experiment.suite",
    "suite_to_dict": "neutex.experiment.suite",
    "SuiteConfig": "neutex.experiment.suite",
    "suites": "neutex.experiment.suite",
    "validate_suite": "neutex.experiment.suite",
    "VariantSpec": "neutex.experiment.suite",
    "run_suite": "neutex.experiment.runner",
    "SuiteResult": "neutex.experiment.runner",
    "winners": "neutex.experiment.runner",
    "ExperimentCommand": "neutex.experiment.command",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
