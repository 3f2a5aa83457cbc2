"""JSON files, read with one-line errors and written atomically (temp file + rename)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

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


def json_default(o: Any) -> Any:
    """``json.dumps(default=...)`` for what neutex writes besides plain Python: numpy arrays and
    scalars, paths."""
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__}")


def finite_json(x: Any) -> Any:
    """Strict JSON values: non-finite floats (NaN, ±inf) become ``None`` (null), numpy arrays
    and scalars plain lists and numbers, recursively.

    Examples:
        >>> finite_json({"a": float("nan"), "b": [1.0, float("inf")], "c": np.float32(2)})
        {'a': None, 'b': [1.0, None], 'c': 2.0}
    """
    if isinstance(x, np.ndarray):
        x = x.tolist()
    elif isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: finite_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite_json(v) for v in x]
    return x


def write_json_atomic(path: str | Path, obj: Any, indent: int | None = 1) -> Path:
    """Write ``obj`` as strict JSON to ``path`` atomically; a crash leaves the old file or none.
    Numpy arrays and scalars and paths are written as lists, numbers and strings; NaN and
    infinities as null (:func:`finite_json`).

    Raises:
        TypeError: a value JSON cannot hold; the message starts with the file name.

    Examples:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> p = write_json_atomic(d / "a.json", {"x": np.float32(0.5), "v": np.arange(2), "p": Path("f")})
        >>> p.read_text().replace("\\n", "").replace(" ", "")
        '{"x":0.5,"v":[0,1],"p":"f"}'
        >>> write_json_atomic(d / "b.json", {"s": {1}})
        Traceback (most recent call last):
        TypeError: b.json: cannot write set
        >>> sorted(f.name for f in d.iterdir())
        ['a.json']
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        text = json.dumps(finite_json(obj), indent=indent, default=json_default, allow_nan=False)
    except TypeError as exc:
        raise TypeError(f"{path.name}: {exc}") from None
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)
    return path
