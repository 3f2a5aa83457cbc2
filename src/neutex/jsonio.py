"""JSON files: the one reader (one-line errors naming the file; a default only for a file
that does not exist, never for a damaged one) and the one writer (strict JSON, atomically:
temp file + rename), for whole documents and for JSON-lines logs."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from neutex.errors import NeutexError


#: ``default`` of :func:`read_json_object` when a missing file is an error.
_REQUIRED: Any = object()


def read_json_object(path: str | Path, error: type[NeutexError] = NeutexError, hint: str = "",
                     default: dict[str, Any] = _REQUIRED) -> dict[str, Any]:
    """Read a JSON file whose top level must be an object.

    Args:
        path: the file.
        error: the :class:`~neutex.errors.NeutexError` subclass to raise.
        hint: the fix, shown by the CLI under the message.
        default: returned (a copy) when the file does not exist; without it a missing file is
            an error. A file that exists but cannot be read as a JSON object is always an error.

    Raises:
        error: file not found (without ``default``), not UTF-8, invalid JSON (with line and
            column), or not an object; one line that starts with the path.

    Examples:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> read_json_object(d / "none.json", default={})
        {}
        >>> _ = (d / "bad.json").write_text('{"a": 1,}')
        >>> read_json_object(d / "bad.json", default={})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        neutex.errors.NeutexError: .../bad.json: invalid JSON at line 1 column 9: Expecting property name enclosed in double quotes
    """
    path = Path(path)
    if not path.is_file():
        if default is not _REQUIRED:
            return dict(default)
        raise error(f"{path}: file not found", hint)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise error(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", hint) from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})", hint) from None
    if not isinstance(d, dict):
        raise error(f"{path}: expected a JSON object at the top level, got {type(d).__name__}", hint)
    return d


def read_json_lines(path: str | Path, error: type[NeutexError] = NeutexError) -> list[dict[str, Any]]:
    """The objects of a JSON-lines log (:func:`append_json_line`); ``[]`` when it does not exist.

    A torn *last* line (the process stopped while appending) is skipped; a damaged line
    anywhere else is an error.

    Raises:
        error: a line before the last that is not a JSON object, naming the file and line.

    Examples:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "m.jsonl"
        >>> _ = p.write_text('{"a": 1}\\n{"a": 2}\\n{"a"')
        >>> read_json_lines(p)
        [{'a': 1}, {'a': 2}]
    """
    path = Path(path)
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = []
    for i, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            if i == len(lines):
                break
            raise error(f"{path}: line {i}: invalid JSON at column {exc.colno}: {exc.msg}") from None
        if not isinstance(row, dict):
            raise error(f"{path}: line {i}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows


def finite_json(x: Any) -> Any:
    """Strict JSON values: non-finite floats (NaN, ±inf) become ``None`` (null), numpy arrays
    and scalars plain lists and numbers, paths strings, recursively.

    Examples:
        >>> finite_json({"a": float("nan"), "b": [1.0, float("inf")], "c": np.float32(2)})
        {'a': None, 'b': [1.0, None], 'c': 2.0}
    """
    if isinstance(x, np.ndarray):
        x = x.tolist()
    elif isinstance(x, np.generic):
        x = x.item()
    elif isinstance(x, Path):
        return str(x)
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: finite_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite_json(v) for v in x]
    return x


def _unwritable(o: Any) -> Any:
    raise TypeError(f"cannot write {type(o).__name__}")  # what finite_json left is not JSON


def _dumps(obj: Any, path: Path, indent: int | None) -> str:
    try:
        return json.dumps(finite_json(obj), indent=indent, default=_unwritable, allow_nan=False)
    except TypeError as exc:
        raise TypeError(f"{path.name}: {exc}") from None


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
    text = _dumps(obj, path, indent)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def append_json_line(path: str | Path, obj: Any) -> None:
    """Append ``obj`` as one strict-JSON line (as :func:`write_json_atomic` writes values) to a
    JSON-lines log; read it back with :func:`read_json_lines`."""
    path = Path(path)
    line = _dumps(obj, path, None)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
