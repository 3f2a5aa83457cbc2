"""Helpers shared by test folders (imported as ``testkit``: tests/ is on sys.path through its
conftest). Fixtures stay in the conftest files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path


def set_at(path: list, value) -> Callable[[dict], None]:
    """An edit for :func:`edit_json`: set the value at ``path`` (keys and list indices)."""
    def fn(d):
        obj = d
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value
    return fn


def edit_json(path: Path, fn: Callable[[dict], None]) -> None:
    """Apply ``fn`` to the parsed JSON file (in place) and write it back."""
    d = json.loads(Path(path).read_text())
    fn(d)
    Path(path).write_text(json.dumps(d, indent=1))
