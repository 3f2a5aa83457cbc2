"""The one JSON reader and writer: a default only for a missing file, one-line errors naming
the file for a damaged one, strict JSON out, JSON-lines logs that survive a torn last line."""

import json

import numpy as np
import pytest

from neutex.errors import DataError, NeutexError
from neutex.jsonio import append_json_line, read_json_lines, read_json_object, write_json_atomic


def test_missing_file_gives_the_default_only_when_one_is_asked_for(tmp_path):
    assert read_json_object(tmp_path / "none.json", default={"a": 1}) == {"a": 1}
    with pytest.raises(DataError, match=r"none\.json: file not found$"):
        read_json_object(tmp_path / "none.json", DataError)


@pytest.mark.parametrize("text, problem", [
    ('{"a": 1,', r"invalid JSON at line 1 column \d+"),
    ("[1, 2]", "expected a JSON object at the top level, got list"),
    (b"\xff\xfe{}", "not UTF-8 text"),
])
def test_a_damaged_file_is_an_error_naming_it_even_with_a_default(tmp_path, text, problem):
    path = tmp_path / "damaged.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(DataError, match=problem) as info:
        read_json_object(path, DataError, default={})
    msg = str(info.value)
    assert msg.startswith(str(path)) and "\n" not in msg


def test_written_json_is_strict_and_reads_back(tmp_path):
    path = write_json_atomic(tmp_path / "a.json", {"nan": float("nan"), "x": np.float32(0.25), "v": np.arange(3)})
    assert json.loads(path.read_text()) == {"nan": None, "x": 0.25, "v": [0, 1, 2]}
    assert read_json_object(path) == {"nan": None, "x": 0.25, "v": [0, 1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temporary file left


def test_json_lines_skip_only_a_torn_last_line(tmp_path):
    path = tmp_path / "m.jsonl"
    assert read_json_lines(path) == []
    for i in range(3):
        append_json_line(path, {"i": i, "loss": float("inf") if i == 1 else 0.5})
    assert read_json_lines(path) == [{"i": 0, "loss": 0.5}, {"i": 1, "loss": None}, {"i": 2, "loss": 0.5}]
    path.write_text(path.read_text() + '{"i": 3, "lo')  # interrupted while appending
    assert [r["i"] for r in read_json_lines(path)] == [0, 1, 2]
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "garbage", *lines[1:]]) + "\n")
    with pytest.raises(NeutexError, match=r"m\.jsonl: line 2: invalid JSON"):
        read_json_lines(path)
