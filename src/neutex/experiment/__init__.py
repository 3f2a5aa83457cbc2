"""Experiment suites: variants of a training config run on one capture, evaluated and compared
in one report (``neutex experiment``, ``neutex demo``). See docs/experiments.md."""

from __future__ import annotations

import importlib
from typing import Any

from neutex.experiment.suite import (
    SCALES,
    Scale,
    SplitSpec,
    SuiteConfig,
    VariantSpec,
    load_suite,
    resolve_variants,
    suite_from_dict,
    suite_to_dict,
    suites,
    validate_suite,
)

_LAZY = {
    "run_suite": "neutex.experiment.runner",
    "SuiteResult": "neutex.experiment.runner",
    "winners": "neutex.experiment.runner",
    "ExperimentCommand": "neutex.experiment.command",
}

__all__ = ["SCALES", "Scale", "SplitSpec", "SuiteConfig", "VariantSpec", "load_suite", "resolve_variants",
           "suite_from_dict", "suite_to_dict", "suites", "validate_suite", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'neutex.experiment' has no attribute {name!r}")
