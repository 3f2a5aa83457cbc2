"""capture.json's ``environments``: the structure checks name the culprit in one line."""

import pytest

from neutex.capture.environments import parse_environments
from neutex.errors import CaptureError

FRAME = {"camera": "c0", "image": "environments/sky/c0.exr"}


def _env(**over):
    return [{"name": "sky", "map": "envmaps/sky.exr", "frames": [FRAME], **over}]


def test_a_valid_list_parses_with_x_keys():
    (env,) = parse_environments(_env(x_note="mine", rotation_deg=30), {"c0"})
    assert (env.name, env.rotation_deg, [f.camera for f in env.frames]) == ("sky", 30.0, ["c0"])


@pytest.mark.parametrize("raw, message", [
    ("sky", "environments: expected a list"),
    ([3], r"environments\[0\]: expected an object"),
    ([{"name": "sky", "frames": [FRAME]}], r"environments\[0\]\.map: missing"),
    (_env(name=3), r"environments\[0\]\.name: expected a string"),
    (_env(spp=4), r"environments\[0\]\.spp: unknown key \(expected one of: frames, generator, map, name, "
                  r"rotation_deg; prefix your own metadata keys with 'x_'\)"),
    (_env(frames=[{"camera": "c0"}]), r"environments\[0\]\.frames\[0\]\.image: missing"),
    (_env(frames=[{**FRAME, "spp": 4}]), r"environments\[0\]\.frames\[0\]\.spp: unknown key"),
    (_env(frames=["c0"]), r"environments\[0\]\.frames\[0\]: expected an object"),
    (_env(frames=[{**FRAME, "camera": "c9"}]), r"environments\[0\]\.frames\[0\]\.camera: unknown camera id 'c9'"),
])
def test_a_bad_entry_names_its_path(raw, message):
    with pytest.raises(CaptureError, match=f"^{message}"):
        parse_environments(raw, {"c0"})
