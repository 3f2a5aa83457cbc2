"""Errors for bad input. Each message is one line: the culprit, then the problem.

The CLI catches only :class:`NeutexError` (one red line, exit 2); anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations


class NeutexError(Exception):
    """Base class for every error caused by the user's input, files or config."""

    hint: str = ""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint


class CaptureError(NeutexError):
    """A capture (capture.json, its mesh or images) is missing, malformed or inconsistent."""


class ConfigError(NeutexError):
    """A config value is invalid or two values contradict each other."""


class DataError(NeutexError):
    """A prepared dataset is missing, malformed, or does not match what is asked of it."""


class CheckpointError(NeutexError):
    """A checkpoint or run folder cannot be read."""


class TrainingError(NeutexError):
    """Training cannot go on (e.g. a non-finite loss)."""


class DependencyError(NeutexError):
    """An optional dependency, weight file or system library is missing."""
