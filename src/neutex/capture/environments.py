"""capture.json's optional ``environments``: ground-truth images of the object under an HDR
environment map (docs/capture.md)::

    "environments": [
      {"name": "sky", "map": "envmaps/sky.exr", "rotation_deg": 0.0,
       "frames": [{"camera": "cam00", "image": "environments/sky/cam00.exr"}, ...],
       "generator": {"spp": 256, ...}}
    ]

``map`` is a lat-long HDR map in neutex's convention (:mod:`neutex.envmap.latlong`) in the
capture's radiance units, turned ``rotation_deg`` about the capture's ``up``; each frame is one
camera's image under it. They are never trained on: ``neutex eval`` scores relighting with
the map against them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from neutex.capture.keys import FILE_NAME_PART, check_keys
from neutex.errors import CaptureError

_ENV_KEYS = {"name", "map", "rotation_deg", "frames", "generator"}
_ENV_FRAME_KEYS = {"camera", "image"}


@dataclass
class EnvironmentFrame:
    """One camera's ground-truth image under an environment map."""

    camera: str
    image: str

    def to_json(self) -> dict[str, Any]:
        return {"camera": self.camera, "image": self.image}


@dataclass
class Environment:
    """An environment map and the capture's views rendered (or photographed) under it."""

    name: str
    map: str
    rotation_deg: float = 0.0
    frames: list[EnvironmentFrame] = field(default_factory=list)
    generator: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "map": self.map, "rotation_deg": float(self.rotation_deg),
                             "frames": [f.to_json() for f in self.frames]}
        if self.generator:
            d["generator"] = self.generator
        return d


def _check_object(d: Any, allowed: set[str], strings: tuple[str, ...], where: str) -> None:
    """``d`` is an object with only ``allowed`` keys (or ``x_`` ones) and a string at each of ``strings``."""
    if not isinstance(d, dict):
        raise CaptureError(f"{where}: expected an object")
    check_keys(d, allowed, where)
    for key in strings:
        if not isinstance(d.get(key), str):
            raise CaptureError(f"{where}.{key}: {'missing' if key not in d else 'expected a string'}")


def parse_environments(raw: Any, cam_ids: set[str]) -> list[Environment]:
    """Parse and check capture.json's ``environments`` list (structure and references; no file IO).

    Raises:
        CaptureError: naming the field, e.g. ``environments[0].frames[1].camera: unknown camera id 'c9'``.

    Examples:
        >>> envs = parse_environments([{"name": "sky", "map": "sky.exr", "frames": [{"camera": "c0", "image": "a.exr"}]}],
        ...                           {"c0"})
        >>> envs[0].name, envs[0].rotation_deg, envs[0].frames[0].camera
        ('sky', 0.0, 'c0')
    """
    if not isinstance(raw, list):
        raise CaptureError("environments: expected a list")
    out: list[Environment] = []
    names: dict[str, int] = {}
    for i, e in enumerate(raw):
        where = f"environments[{i}]"
        _check_object(e, _ENV_KEYS, ("name", "map"), where)
        if not FILE_NAME_PART.match(e["name"]):
            raise CaptureError(f"{where}.name: {e['name']!r}: use only letters, digits, '_', '-' and '.'")
        if e["name"] in names:
            raise CaptureError(f"{where}.name: duplicate name {e['name']!r} (also environments[{names[e['name']]}])")
        names[e["name"]] = i
        rot = e.get("rotation_deg", 0.0)
        if isinstance(rot, bool) or not isinstance(rot, (int, float)) or rot != rot or abs(rot) == float("inf"):
            raise CaptureError(f"{where}.rotation_deg: expected a finite number")
        frames_raw = e.get("frames")
        if not isinstance(frames_raw, list) or not frames_raw:
            raise CaptureError(f"{where}.frames: expected a non-empty list of {{camera, image}}")
        frames, seen = [], set()
        for j, f in enumerate(frames_raw):
            fw = f"{where}.frames[{j}]"
            _check_object(f, _ENV_FRAME_KEYS, ("camera", "image"), fw)
            if f["camera"] not in cam_ids:
                raise CaptureError(f"{fw}.camera: unknown camera id {f['camera']!r}")
            if f["camera"] in seen:
                raise CaptureError(f"{fw}.camera: {f['camera']!r} has two images under {e['name']!r}")
            seen.add(f["camera"])
            frames.append(EnvironmentFrame(f["camera"], f["image"]))
        gen = e.get("generator", {})
        if not isinstance(gen, dict):
            raise CaptureError(f"{where}.generator: expected an object")
        out.append(Environment(e["name"], e["map"], float(rot), frames, dict(gen)))
    return out
