"""capture.json (format ``neutex-capture/1``): typed records, reader, validator and writer.

The capture is the portable, raw input of neutex: cameras (OpenCV convention), lights, the
mesh, and one image per (camera, light) frame, plus optional ground-truth ``sequences``
(videos with a fixed camera and a continuous list of lights). See docs/capture.md.

Validation names the field at fault, e.g. ``frames[12].image: file not found: images/a.exr``.
Unknown keys are errors (a misspelt ``camera_convention`` must not be dropped silently); keys
starting with ``x_`` are free for the user's own metadata and ignored.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from neutex.capture.environments import Environment, parse_environments
from neutex.capture.imageio import read_array_file, read_image
from neutex.capture.keys import FILE_NAME_PART, check_keys
from neutex.errors import CaptureError
from neutex.jsonio import read_json_object, write_json_atomic

FORMAT = "neutex-capture/1"

#: OpenGL/Blender camera axes (x right, y up, z backwards) -> OpenCV (x right, y down, z forward).
_GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])
CONVENTIONS = ("opencv", "opengl", "blender")
#: the per-view G-buffers, in the order the rasterizer returns and prepared/arrays stores them.
GBUFFER_KEYS = ("uv", "normal", "position", "mask", "depth")
GBUFFER_REQUIRED = ("normal", "uv", "mask")

_TOP_KEYS = {"format", "color_space", "up", "mesh", "camera_convention", "cameras", "lights", "frames",
             "sequences", "generator", "environments"}
_CAMERA_KEYS = {"id", "model", "width", "height", "K", "scale", "center", "world_to_camera", "camera_to_world",
                "convention", "gbuffer"}
_LIGHT_KEYS = {"id", "type", "intensity", "position", "direction"}
_FRAME_KEYS = {"camera", "light", "image", "mask"}
_SEQUENCE_KEYS = {"name", "camera", "fps", "lights", "frames"}


@dataclass
class Camera:
    """One camera. Pinhole cameras use ``K``; orthographic ones ``scale`` and ``center``.

    ``world_to_camera`` is a rigid 4x4 transform in the OpenCV convention (x right, y down,
    z forward), whatever convention capture.json used. Pixel centres are at integer
    coordinates: a centred camera has ``cx = (W - 1) / 2``. An orthographic camera maps camera
    coordinates to pixels as ``(u, v) = (sx * x + cx, sy * y + cy)``.
    """

    id: str
    width: int
    height: int
    world_to_camera: np.ndarray  # (4, 4) float64
    model: Literal["pinhole", "orthographic"] = "pinhole"
    K: np.ndarray | None = None  # (3, 3) float64, pinhole only
    scale: tuple[float, float] | None = None  # pixels per world unit, orthographic only
    center: tuple[float, float] | None = None  # principal point in pixels, orthographic only
    gbuffer: dict[str, str] | None = None  # given G-buffer files (normal, uv, mask[, position, depth]), relative

    @property
    def camera_to_world(self) -> np.ndarray:
        """(4, 4) inverse of ``world_to_camera``."""
        return np.linalg.inv(self.world_to_camera)

    @property
    def center_world(self) -> np.ndarray:
        """(3,) camera centre in world space (for orthographic cameras: a point on the axis)."""
        return self.camera_to_world[:3, 3]

    @property
    def forward_world(self) -> np.ndarray:
        """(3,) unit viewing direction (camera +z) in world space."""
        return self.camera_to_world[:3, 2] / np.linalg.norm(self.camera_to_world[:3, 2])

    @property
    def source(self) -> np.ndarray:
        """``(4,)`` homogeneous viewpoint (see :func:`neutex.geometry.directions_to`): the centre
        ``(x, y, z, 1)`` of a pinhole camera, the direction towards an orthographic one
        (−forward, ``w = 0``).

        Examples:
            >>> Camera("o", 2, 2, np.eye(4), "orthographic", scale=(1.0, 1.0), center=(0.5, 0.5)).source.tolist()
            [-0.0, -0.0, -1.0, 0.0]
        """
        if self.model == "pinhole":
            return np.r_[self.center_world, 1.0]
        return np.r_[-self.forward_world, 0.0]

    def project(self, points_world: np.ndarray) -> np.ndarray:
        """World points ``(..., 3)`` -> pixel coordinates ``(..., 2)`` (column, row); pixel
        centres at integers. For pinhole cameras, points must be in front (z > 0)."""
        p = np.asarray(points_world, float)
        pc = p @ self.world_to_camera[:3, :3].T + self.world_to_camera[:3, 3]
        if self.model == "pinhole":
            K = np.asarray(self.K)
            uvw = pc @ K.T
            return uvw[..., :2] / uvw[..., 2:3]
        s, c = np.asarray(self.scale, float), np.asarray(self.center, float)
        return pc[..., :2] * s + c

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "model": self.model, "width": self.width, "height": self.height}
        if self.model == "pinhole":
            d["K"] = np.asarray(self.K).tolist()
        else:
            d["scale"] = [float(v) for v in (self.scale or (1.0, 1.0))]
            d["center"] = [float(v) for v in (self.center or ((self.width - 1) / 2, (self.height - 1) / 2))]
        d["world_to_camera"] = np.asarray(self.world_to_camera).tolist()
        if self.gbuffer:
            d["gbuffer"] = dict(self.gbuffer)
        return d


@dataclass
class Light:
    """A point light (``position``, RGB radiant intensity W/sr) or a directional light
    (``direction``: unit vector from the surface towards the light; RGB irradiance)."""

    id: str
    type: Literal["point", "directional"]
    intensity: np.ndarray  # (3,)
    position: np.ndarray | None = None  # (3,) world, point lights
    direction: np.ndarray | None = None  # (3,) unit, directional lights

    @property
    def source(self) -> np.ndarray:
        """``(4,)`` homogeneous source (see :func:`neutex.geometry.directions_to`): ``(x, y, z, 1)``
        for a point light, ``(dx, dy, dz, 0)`` for a directional one.

        Examples:
            >>> Light("L", "point", np.ones(3), position=np.array([0.0, 0.0, 3.0])).source.tolist()
            [0.0, 0.0, 3.0, 1.0]
        """
        if self.type == "point":
            return np.r_[np.asarray(self.position, float), 1.0]
        return np.r_[np.asarray(self.direction, float), 0.0]

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "point":
            d["position"] = np.asarray(self.position, float).tolist()
        else:
            d["direction"] = np.asarray(self.direction, float).tolist()
        d["intensity"] = np.asarray(self.intensity, float).tolist()
        return d


@dataclass
class Frame:
    """One photograph: a camera, a light, the image file and an optional mask file.

    ``mask`` is the validity mask of this image (1 = pixel usable in loss and metrics; e.g.
    the object minus saturated pixels); it is combined (AND) with the view's object mask.
    """

    camera: str
    light: str
    image: str
    mask: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = {"camera": self.camera, "light": self.light, "image": self.image}
        if self.mask:
            d["mask"] = self.mask
        return d


@dataclass
class Sequence:
    """A ground-truth video: fixed camera, ordered continuous list of lights, one frame each.

    ``frames`` may be files rendered for the purpose (never trained on) or captured frames'
    image paths (a row of a light grid).
    """

    name: str
    camera: str
    lights: list[str]
    frames: list[str]
    fps: float = 30.0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "camera": self.camera, "fps": self.fps, "lights": list(self.lights), "frames": list(self.frames)}


@dataclass
class Capture:
    """A whole capture. Paths inside are relative to ``root`` (the folder of capture.json)."""

    root: Path
    cameras: list[Camera]
    lights: list[Light]
    frames: list[Frame]
    mesh: str | None = None
    color_space: Literal["linear", "srgb"] = "linear"
    up: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 1.0]))
    sequences: list[Sequence] = field(default_factory=list)
    generator: dict[str, Any] = field(default_factory=dict)  # how it was made (synth settings, importer)
    environments: list[Environment] = field(default_factory=list)  # env-map ground truth

    def camera(self, cam_id: str) -> Camera:
        return self._cams()[cam_id]

    def light(self, light_id: str) -> Light:
        return self._lights()[light_id]

    def _cams(self) -> dict[str, Camera]:
        return {c.id: c for c in self.cameras}

    def _lights(self) -> dict[str, Light]:
        return {l.id: l for l in self.lights}

    @property
    def stage_light_ids(self) -> list[str]:
        """Ids of lights used by at least one frame, in ``lights`` order (sweep-only lights excluded)."""
        used = {f.light for f in self.frames}
        return [l.id for l in self.lights if l.id in used]

    @property
    def frame_camera_ids(self) -> list[str]:
        """Ids of cameras with at least one frame, in ``cameras`` order."""
        used = {f.camera for f in self.frames}
        return [c.id for c in self.cameras if c.id in used]

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"format": FORMAT, "color_space": self.color_space, "up": np.asarray(self.up, float).tolist()}
        if self.mesh:
            d["mesh"] = self.mesh
        d["cameras"] = [c.to_json() for c in self.cameras]
        d["lights"] = [l.to_json() for l in self.lights]
        d["frames"] = [f.to_json() for f in self.frames]
        if self.sequences:
            d["sequences"] = [s.to_json() for s in self.sequences]
        if self.generator:
            d["generator"] = self.generator
        if self.environments:
            d["environments"] = [e.to_json() for e in self.environments]
        return d


# ----------------------------------------------------------------------------- parsing


def _err(where: str, msg: str) -> CaptureError:
    return CaptureError(f"{where}: {msg}")


def _sub(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object", bool: "true/false"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _get(d: dict, key: str, where: str, kind: type | tuple[type, ...] | None = None, default: Any = ...):
    if key not in d:
        if default is ...:
            raise _err(_sub(where, key), "missing")
        return default
    v = d[key]
    if kind is not None:
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = isinstance(v, kinds) and not (isinstance(v, bool) and bool not in kinds)  # true is not an int
        if not ok:
            raise _err(_sub(where, key), f"expected {_type_name(kind)}, got {json.dumps(v)[:40]}")
    return v


def _matrix(v: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise _err(where, f"expected a numeric array of shape {shape}") from None
    if a.shape != shape:
        raise _err(where, f"expected shape {shape}, got {a.shape}")
    if not np.isfinite(a).all():
        raise _err(where, "contains NaN or inf")
    return a


def check_rigid(m: np.ndarray, where: str, tol: float = 1e-4) -> None:
    """Raise unless ``m`` (4, 4) is a rigid transform: orthonormal rotation, det +1, last row 0 0 0 1."""
    r = m[:3, :3]
    if not np.allclose(m[3], [0, 0, 0, 1], atol=tol):
        raise _err(where, f"last row must be [0, 0, 0, 1], got {m[3].tolist()}")
    if not np.allclose(r @ r.T, np.eye(3), atol=tol) or abs(np.linalg.det(r) - 1) > tol:
        raise _err(where, f"not a rigid transform (rotation part is not orthonormal with det +1: det "
                   f"{np.linalg.det(r):.4g}; scale, shear or a mirror is not allowed)")


def _parse_camera(d: Any, i: int, convention: str) -> Camera:
    where = f"cameras[{i}]"
    if not isinstance(d, dict):
        raise _err(where, "expected an object")
    check_keys(d, _CAMERA_KEYS, where)
    cid = _get(d, "id", where, str)
    model = _get(d, "model", where, str, "pinhole")
    width = _get(d, "width", where, int)
    height = _get(d, "height", where, int)
    if width <= 0 or height <= 0:
        raise _err(f"{where}.width", f"image size must be positive, got {width}x{height}")
    conv = _get(d, "convention", where, str, convention)
    if conv not in CONVENTIONS:
        raise _err(f"{where}.convention", f"unknown convention {conv!r} ({', '.join(CONVENTIONS)})")
    has_w2c, has_c2w = "world_to_camera" in d, "camera_to_world" in d
    if has_w2c == has_c2w:
        raise _err(where, "give exactly one of world_to_camera and camera_to_world")
    key = "world_to_camera" if has_w2c else "camera_to_world"
    m = _matrix(d[key], (4, 4), f"{where}.{key}")
    check_rigid(m, f"{where}.{key}")
    w2c = m if has_w2c else np.linalg.inv(m)
    if conv in ("opengl", "blender"):
        # OpenGL/Blender camera axes are (x right, y up, z backwards); OpenCV's are
        # (x right, y down, z forward): flip the camera's y and z axes, once, here.
        w2c = _GL_TO_CV @ w2c
    gbuffer = _get(d, "gbuffer", where, dict, None)
    if gbuffer is not None:
        for k, v in gbuffer.items():
            if k not in GBUFFER_KEYS:
                raise _err(f"{where}.gbuffer.{k}", f"unknown G-buffer ({', '.join(GBUFFER_KEYS)})")
            if not isinstance(v, str):
                raise _err(f"{where}.gbuffer.{k}", "expected a file path (string)")
        for k in GBUFFER_REQUIRED:
            if k not in gbuffer:
                raise _err(f"{where}.gbuffer.{k}", f"missing (a given G-buffer needs {', '.join(GBUFFER_REQUIRED)})")
    if model == "pinhole":
        K = _matrix(_get(d, "K", where), (3, 3), f"{where}.K")
        if K[0, 0] <= 0 or K[1, 1] <= 0 or not np.allclose(K[2], [0, 0, 1]) or K[1, 0] != 0:
            raise _err(f"{where}.K", "expected [[fx,s,cx],[0,fy,cy],[0,0,1]] with fx, fy > 0")
        return Camera(cid, width, height, w2c, "pinhole", K=K, gbuffer=gbuffer)
    if model == "orthographic":
        scale_raw = _get(d, "scale", where)
        if isinstance(scale_raw, (int, float)) and not isinstance(scale_raw, bool):
            scale_raw = [scale_raw, scale_raw]
        scale = _matrix(scale_raw, (2,), f"{where}.scale")
        center = _matrix(_get(d, "center", where, None, [(width - 1) / 2, (height - 1) / 2]), (2,), f"{where}.center")
        if (scale <= 0).any():
            raise _err(f"{where}.scale", "must be positive (pixels per world unit)")
        return Camera(cid, width, height, w2c, "orthographic", scale=(float(scale[0]), float(scale[1])),
                      center=(float(center[0]), float(center[1])), gbuffer=gbuffer)
    raise _err(f"{where}.model", f"unknown camera model {model!r} (pinhole, orthographic)")


def _parse_light(d: Any, i: int) -> Light:
    where = f"lights[{i}]"
    if not isinstance(d, dict):
        raise _err(where, "expected an object")
    check_keys(d, _LIGHT_KEYS, where)
    lid = _get(d, "id", where, str)
    ltype = _get(d, "type", where, str)
    raw = _get(d, "intensity", where, None, [1.0, 1.0, 1.0])
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = [raw, raw, raw]  # a grey light
    inten = _matrix(raw, (3,), f"{where}.intensity")
    if (inten < 0).any():
        raise _err(f"{where}.intensity", "must be non-negative")
    if ltype == "point":
        pos = _matrix(_get(d, "position", where), (3,), f"{where}.position")
        return Light(lid, "point", inten, position=pos)
    if ltype == "directional":
        dirn = _matrix(_get(d, "direction", where), (3,), f"{where}.direction")
        n = np.linalg.norm(dirn)
        if n < 1e-8:
            raise _err(f"{where}.direction", "must be non-zero")
        return Light(lid, "directional", inten, direction=dirn / n)
    raise _err(f"{where}.type", f"unknown light type {ltype!r} (point, directional)")


def _check_unique(kind: str, ids: list[str]) -> None:
    seen: dict[str, int] = {}
    for i, x in enumerate(ids):
        if x in seen:
            raise _err(f"{kind}[{i}]", f"duplicate {'name' if kind == 'sequences' else 'id'} {x!r} (also {kind}[{seen[x]}])")
        seen[x] = i


def parse_capture(d: Any, root: Path) -> Capture:
    """Build a :class:`Capture` from parsed JSON, checking structure and references (no file IO).

    Camera poses given in the OpenGL/Blender convention (``camera_convention`` at the top
    level, or ``convention`` per camera) are converted to OpenCV here; the returned capture is
    always OpenCV.
    """
    if not isinstance(d, dict):
        raise CaptureError("capture.json: expected a JSON object at the top level")
    fmt = d.get("format")
    if fmt != FORMAT:
        raise _err("format", f"expected {FORMAT!r}, got {json.dumps(fmt)}")
    check_keys(d, _TOP_KEYS, "")
    color_space = _get(d, "color_space", "", str, "linear")
    if color_space not in ("linear", "srgb"):
        raise _err("color_space", f"expected 'linear' or 'srgb', got {color_space!r}")
    up = _matrix(_get(d, "up", "", None, [0, 0, 1]), (3,), "up")
    if np.linalg.norm(up) < 1e-8:
        raise _err("up", "must be non-zero")
    convention = _get(d, "camera_convention", "", str, "opencv")
    if convention not in CONVENTIONS:
        raise _err("camera_convention", f"unknown convention {convention!r} ({', '.join(CONVENTIONS)})")
    cams_raw = _get(d, "cameras", "", list)
    if not cams_raw:
        raise _err("cameras", "at least one camera is required")
    cameras = [_parse_camera(c, i, convention) for i, c in enumerate(cams_raw)]
    lights = [_parse_light(l, i) for i, l in enumerate(_get(d, "lights", "", list))]
    _check_unique("cameras", [c.id for c in cameras])
    _check_unique("lights", [l.id for l in lights])
    cam_ids = {c.id for c in cameras}
    light_ids = {l.id for l in lights}
    frames = []
    pairs: dict[tuple[str, str], int] = {}
    for i, f in enumerate(_get(d, "frames", "", list)):
        where = f"frames[{i}]"
        if not isinstance(f, dict):
            raise _err(where, "expected an object")
        check_keys(f, _FRAME_KEYS, where)
        fr = Frame(_get(f, "camera", where, str), _get(f, "light", where, str), _get(f, "image", where, str),
                   _get(f, "mask", where, str, None))
        if fr.camera not in cam_ids:
            raise _err(f"{where}.camera", f"unknown camera id {fr.camera!r}")
        if fr.light not in light_ids:
            raise _err(f"{where}.light", f"unknown light id {fr.light!r}")
        if (fr.camera, fr.light) in pairs:
            raise _err(where, f"duplicate frame for camera {fr.camera!r} and light {fr.light!r} "
                       f"(also frames[{pairs[(fr.camera, fr.light)]}])")
        pairs[(fr.camera, fr.light)] = i
        frames.append(fr)
    if not frames:
        raise _err("frames", "at least one frame is required")
    by_image = {fr.image: (i, fr) for i, fr in enumerate(frames)}
    sequences = []
    for i, s in enumerate(_get(d, "sequences", "", list, [])):
        where = f"sequences[{i}]"
        if not isinstance(s, dict):
            raise _err(where, "expected an object")
        check_keys(s, _SEQUENCE_KEYS, where)
        seq = Sequence(_get(s, "name", where, str), _get(s, "camera", where, str), list(_get(s, "lights", where, list)),
                       list(_get(s, "frames", where, list)), float(_get(s, "fps", where, (int, float), 30.0)))
        if not FILE_NAME_PART.match(seq.name):
            raise _err(f"{where}.name", f"{seq.name!r}: use only letters, digits, '_', '-' and '.'")
        if seq.fps <= 0:
            raise _err(f"{where}.fps", f"must be positive, got {seq.fps}")
        if seq.camera not in cam_ids:
            raise _err(f"{where}.camera", f"unknown camera id {seq.camera!r}")
        for j, lid in enumerate(seq.lights):
            if not isinstance(lid, str) or lid not in light_ids:
                raise _err(f"{where}.lights[{j}]", f"unknown light id {lid!r}")
        for j, p in enumerate(seq.frames):
            if not isinstance(p, str):
                raise _err(f"{where}.frames[{j}]", "expected a file path (string)")
        if len(seq.lights) != len(seq.frames):
            raise _err(f"{where}.frames", f"{len(seq.frames)} frames for {len(seq.lights)} lights")
        if len(seq.lights) < 3:
            raise _err(f"{where}.lights", "a sequence needs at least 3 frames")
        for j, (lid, p) in enumerate(zip(seq.lights, seq.frames)):
            if p in by_image:  # a captured frame reused: it must be that frame's camera and light
                k, fr = by_image[p]
                if (fr.camera, fr.light) != (seq.camera, lid):
                    raise _err(f"{where}.frames[{j}]", f"{p} is frames[{k}].image (camera {fr.camera!r}, light "
                               f"{fr.light!r}), but the sequence gives camera {seq.camera!r}, light {lid!r}")
        sequences.append(seq)
    _check_unique("sequences", [s.name for s in sequences])
    mesh = _get(d, "mesh", "", str, None)
    if mesh is None:
        for i, c in enumerate(cameras):
            if not c.gbuffer:
                raise _err("mesh", f"missing, and cameras[{i}] ({c.id}) gives no gbuffer; one of the two is required")
    environments = parse_environments(d.get("environments", []), cam_ids)
    return Capture(Path(root), cameras, lights, frames, mesh, color_space, up / np.linalg.norm(up), sequences,
                   dict(_get(d, "generator", "", dict, {})), environments)


def load_capture(path: str | Path) -> Capture:
    """Read and structurally validate ``capture.json`` (a file or the folder holding it).

    Raises:
        CaptureError: one line, ``<capture.json path>: <field>: <problem>``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "capture.json"
    d = read_json_object(path, CaptureError)
    try:
        return parse_capture(d, path.parent)
    except CaptureError as exc:
        raise CaptureError(f"{path}: {exc}") from None


# ----------------------------------------------------------------------------- files


def _problem(exc: CaptureError) -> str:
    return getattr(exc, "problem", None) or str(exc)


def read_camera_gbuffer(cap: Capture, camera: Camera | str, where: str | None = None) -> dict[str, np.ndarray]:
    """Read and check the G-buffers a camera gives directly (``cameras[i].gbuffer``).

    Args:
        cap: the capture (files are relative to ``cap.root``).
        camera: the camera or its id; it must have a ``gbuffer``.
        where: field name used in errors (default ``cameras[i].gbuffer``).

    Returns:
        ``normal`` ``(H, W, 3)`` float32 world space, unit on the mask; ``uv`` ``(H, W, 2)``
        float32 in [0, 1]², v up; ``mask`` ``(H, W)`` bool; and, when given, ``position``
        ``(H, W, 3)`` float32 world space and ``depth`` ``(H, W)`` float32 camera z.

    Raises:
        CaptureError: ``cameras[0].gbuffer.normal: gbuffer/normal.exr: ...``.
    """
    cam = cap.camera(camera) if isinstance(camera, str) else camera
    if not cam.gbuffer:
        raise ValueError(f"camera {cam.id!r} gives no gbuffer")
    if where is None:
        where = f"cameras[{[c.id for c in cap.cameras].index(cam.id)}].gbuffer"
    channels = {"normal": (3,), "uv": (2, 3), "mask": (1, 2, 3, 4), "position": (3,), "depth": (1,)}
    out: dict[str, np.ndarray] = {}
    for key in GBUFFER_KEYS:
        if key not in cam.gbuffer:
            continue
        rel = cam.gbuffer[key]
        full = cap.root / rel
        if not full.is_file():
            raise _err(f"{where}.{key}", f"file not found: {rel}")
        try:
            arr = read_array_file(full)
        except CaptureError as exc:
            raise _err(f"{where}.{key}", f"{rel}: {_problem(exc)}") from None
        if arr.shape[:2] != (cam.height, cam.width):
            raise _err(f"{where}.{key}", f"{rel} is {arr.shape[1]}x{arr.shape[0]}, camera {cam.id} is {cam.width}x{cam.height}")
        if arr.shape[2] not in channels[key]:
            raise _err(f"{where}.{key}", f"{rel} has {arr.shape[2]} channels, expected {' or '.join(map(str, channels[key]))}")
        if key == "mask":
            out[key] = (arr[..., :3] if arr.shape[2] >= 3 else arr[..., :1]).max(-1) > 0.5  # alpha ignored
        elif key == "uv":
            out[key] = np.ascontiguousarray(arr[..., :2])
        elif key == "depth":
            out[key] = arr[..., 0]
        else:
            out[key] = arr
    m = out["mask"]
    if not m.any():
        raise _err(f"{where}.mask", f"{cam.gbuffer['mask']}: the mask is empty")
    norms = np.linalg.norm(out["normal"][m], axis=-1)
    bad = np.abs(norms - 1) > 1e-2
    if bad.any():
        raise _err(f"{where}.normal", f"{cam.gbuffer['normal']}: {int(bad.sum())} object pixels have no unit normal "
                   f"(lengths {norms[bad].min():.3g}..{norms[bad].max():.3g})")
    uv = out["uv"][m]
    if (uv < -1e-3).any() or (uv > 1 + 1e-3).any():
        raise _err(f"{where}.uv", f"{cam.gbuffer['uv']}: uv outside [0, 1] on the object (range {uv.min():.3g}..{uv.max():.3g})")
    return out


def _file_fields(cap: Capture) -> list[tuple[str, str, str | None]]:
    """``(field, path, camera id)`` of every file capture.json names: the mesh, given G-buffers,
    frame images and masks, sequence frames, environment maps and their frames; paths as written
    (relative to ``cap.root``). The camera id is set for the images checked against a camera's
    size (frames, masks, sequence and environment frames), None for the rest."""
    out: list[tuple[str, str, str | None]] = [("mesh", cap.mesh, None)] if cap.mesh else []
    for i, c in enumerate(cap.cameras):
        out += [(f"cameras[{i}].gbuffer.{k}", p, None) for k, p in (c.gbuffer or {}).items()]
    for i, f in enumerate(cap.frames):
        out.append((f"frames[{i}].image", f.image, f.camera))
        if f.mask:
            out.append((f"frames[{i}].mask", f.mask, f.camera))
    for i, s in enumerate(cap.sequences):
        out += [(f"sequences[{i}].frames[{j}]", p, s.camera) for j, p in enumerate(s.frames)]
    for i, e in enumerate(cap.environments):
        out.append((f"environments[{i}].map", e.map, None))
        out += [(f"environments[{i}].frames[{j}].image", f.image, f.camera) for j, f in enumerate(e.frames)]
    return out


def check_paths_inside(cap: Capture) -> None:
    """Raise unless every file capture.json names resolves inside the capture folder.

    Paths are relative to the folder of capture.json; one that leaves it (``..``, an absolute
    path, a symlink pointing out) would silently read another capture's files.

    Raises:
        CaptureError: ``frames[3].image: ../other/images/L005.exr resolves outside the capture
            folder (...)``, with a hint naming ``--allow-outside-paths``.
    """
    root = cap.root.resolve()
    for where, rel, _ in _file_fields(cap):
        p = Path(rel)
        full = (cap.root / p).resolve()  # an absolute p stays itself
        if not full.is_relative_to(root):
            if p.is_absolute():
                how = "an absolute path"
            elif not Path(os.path.normpath(cap.root.absolute() / p)).is_relative_to(cap.root.absolute()):
                how = "'..' leads out of it"
            else:
                how = f"a symlink to {full}"
            raise CaptureError(f"{where}: {rel} is outside the capture folder ({how})",
                               hint="paths in capture.json are read inside its folder: move the file there, or "
                                    "pass --allow-outside-paths to read it where it is")


def validate_files(cap: Capture, check_pixels: bool = True, progress=None, allow_outside: bool = False) -> None:
    """Check that every referenced file is inside the capture folder, exists, and every image
    matches its camera.

    Args:
        cap: a parsed capture.
        check_pixels: also decode every image, mask and G-buffer (size, NaN/inf, truncation);
            slower.
        progress: optional callable ``progress(i, n)``.
        allow_outside: accept files outside the capture folder (:func:`check_paths_inside`).

    Raises:
        CaptureError: naming the field and the file, e.g.
            ``frames[12].image: file not found: images/cam00/L012.exr`` or
            ``frames[3].image: images/a.png is 64x48, camera cam00 is 128x96``.
    """
    if not allow_outside:
        check_paths_inside(cap)
    fields = _file_fields(cap)
    for where, rel, _ in fields:
        if not (cap.root / rel).is_file():
            raise _err(where, f"file not found: {rel}")
    cams = cap._cams()
    items = [(where, rel, cid) for where, rel, cid in fields if cid is not None]  # checked against a camera
    if not check_pixels:
        return
    n_total = len(items) + sum(1 for c in cap.cameras if c.gbuffer)
    for i, c in enumerate(cap.cameras):
        if c.gbuffer:
            read_camera_gbuffer(cap, c, f"cameras[{i}].gbuffer")
    sizes: dict[str, tuple[int, int]] = {}
    for n, (where, rel, cid) in enumerate(items):
        if progress:
            progress(n, n_total)
        if rel not in sizes:
            try:
                img = read_image(cap.root / rel, cap.color_space)
            except CaptureError as exc:
                raise _err(where, f"{rel}: {_problem(exc)}") from None
            sizes[rel] = img.shape[:2]
        cam = cams[cid]
        h, w = sizes[rel]
        if (h, w) != (cam.height, cam.width):
            raise _err(where, f"{rel} is {w}x{h}, camera {cid} is {cam.width}x{cam.height}")


def save_capture(cap: Capture, path: str | Path | None = None) -> Path:
    """Write ``capture.json`` atomically (default: ``cap.root / 'capture.json'``); cameras are
    written in the OpenCV convention."""
    return write_json_atomic(Path(path) if path else cap.root / "capture.json", cap.to_json())


def look_at(eye, target, up) -> np.ndarray:
    """OpenCV world_to_camera (4, 4) for a camera at ``eye`` looking at ``target``; image y is
    down, so ``up`` points towards the top of the image."""
    eye, target, up = (np.asarray(v, float) for v in (eye, target, up))
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:
        x = np.cross(z, [1.0, 0, 0] if abs(z[0]) < 0.9 else [0, 1.0, 0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    r = np.stack([x, y, z])
    m = np.eye(4)
    m[:3, :3] = r
    m[:3, 3] = -r @ eye
    return m


def pinhole_K(width: int, height: int, fov_deg: float) -> np.ndarray:
    """(3, 3) intrinsics with horizontal field of view ``fov_deg`` and the principal point at
    the image centre, ``((W-1)/2, (H-1)/2)`` (pixel centres at integer coordinates)."""
    fx = (width / 2) / math.tan(math.radians(fov_deg) / 2)
    return np.array([[fx, 0, (width - 1) / 2], [0, fx, (height - 1) / 2], [0, 0, 1.0]])
