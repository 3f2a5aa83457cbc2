"""JSON files, read with one-line errors and written atomically (temp file + rename)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from neutex.errors import NeutexError


def read_json_object(path: str | Path, error: type[NeutexError] = NeutexError, hint: str = "") -> dict[str, Any]:
    """Read a JSON file whose top level must be an object.

    Raises:
        error: file not found, invalid JSON (with line and column), or not an object; the
            message starts with the path.
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: file not found", hint)
    try:
        d = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise error(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", hint) from None
    if not isinstance(d, dict):
        raise error(f"{path}: expected a JSON object at the top level, got {type(d).__name__}", hint)
    return d


def write_json_atomic(path: str | Path, obj: Any, indent: int | None = 1) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically; a crash leaves the old file or none."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=indent))
    tmp.replace(path)
    return path
