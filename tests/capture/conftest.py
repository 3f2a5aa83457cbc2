"""Fixtures of tests/capture: see capture_builders.py."""

from capture_builders import capture_dir, diligent_dir  # noqa: F401  (fixtures)
