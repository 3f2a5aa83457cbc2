"""capture.json (format ``neutex-capture/1``): typed records, reader, validator and writer.

The capture is the portable, raw input of neutex: cameras (OpenCV convention), lights, the
mesh, and one image per (camera, light) frame, plus optional ground-truth ``sequences``
(videos with a fixed camera and a continuous list of lights). See docs/capture.md.

Validation names the field at fault, e.g. ``frames[12].image: file not found: images/a.exr``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from neutex.errors import CaptureError

FORMAT = "neutex-capture/1"


@dataclass
class Camera:
    """One camera. Pinhole cameras use ``K``; orthographic ones ``scale`` and ``center``.

    ``world_to_camera`` is a rigid 4x4 transform in the OpenCV convention (x right, y down,
    z forward). Pixel centres are at integer coordinates: a centred camera has
    ``cx = (W - 1) / 2``.
    """

    id: str
    width: int
    height: int
    world_to_camera: np.ndarray  # (4, 4) float64
    model: Literal["pinhole", "orthographic"] = "pinhole"
    K: np.ndarray | None = None  # (3, 3) float64, pinhole only
    scale: tuple[float, float] | None = None  # pixels per world unit, orthographic only
    center: tuple[float, float] | None = None  # principal point in pixels, orthographic only
    gbuffer: dict[str, str] | None = None  # given G-buffer files (normal, uv, mask), relative

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

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "model": self.model, "width": self.width, "height": self.height}
        if self.model == "pinhole":
            d["K"] = np.asarray(self.K).tolist()
        else:
            d["scale"] = list(self.scale or (1.0, 1.0))
            d["center"] = list(self.center or ((self.width - 1) / 2, (self.height - 1) / 2))
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
    """One photograph: a camera, a light, the image file and an optional mask file."""

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
    generator: dict[str, Any] = field(default_factory=dict)  # how it was made (synth settings)

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
        return d


# ----------------------------------------------------------------------------- parsing


def _err(where: str, msg: str) -> CaptureError:
    return CaptureError(f"{where}: {msg}")


def _get(d: dict, key: str, where: str, kind: type | tuple[type, ...] | None = None, default: Any = ...):
    if key not in d:
        if default is ...:
            raise _err(f"{where}.{key}" if where else key, "missing")
        return default
    v = d[key]
    if kind is not None and not isinstance(v, kind):
        raise _err(f"{where}.{key}" if where else key, f"expected {getattr(kind, '__name__', kind)}, got {type(v).__name__}")
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
        raise _err(where, "not a rigid transform (rotation part is not orthonormal with det +1; "
                   "scale or shear is not allowed)")


def _parse_camera(d: Any, i: int, convention: str) -> Camera:
    where = f"cameras[{i}]"
    if not isinstance(d, dict):
        raise _err(where, "expected an object")
    cid = _get(d, "id", where, str)
    model = _get(d, "model", where, str, "pinhole")
    width = _get(d, "width", where, int)
    height = _get(d, "height", where, int)
    if width <= 0 or height <= 0:
        raise _err(f"{where}.width", f"image size must be positive, got {width}x{height}")
    w2c = _matrix(_get(d, "world_to_camera", where), (4, 4), f"{where}.world_to_camera")
    check_rigid(w2c, f"{where}.world_to_camera")
    conv = _get(d, "convention", where, str, convention)
    if conv in ("opengl", "blender"):
        # OpenGL/Blender cameras look down -z with y up; flip y and z once, here.
        w2c = np.diag([1.0, -1.0, -1.0, 1.0]) @ w2c
    elif conv != "opencv":
        raise _err(f"{where}.convention", f"unknown convention {conv!r} (opencv, opengl, blender)")
    gbuffer = _get(d, "gbuffer", where, dict, None)
    if model == "pinhole":
        K = _matrix(_get(d, "K", where), (3, 3), f"{where}.K")
        if K[0, 0] <= 0 or K[1, 1] <= 0 or not np.allclose(K[2], [0, 0, 1]):
            raise _err(f"{where}.K", "expected [[fx,0,cx],[0,fy,cy],[0,0,1]] with fx, fy > 0")
        return Camera(cid, width, height, w2c, "pinhole", K=K, gbuffer=gbuffer)
    if model == "orthographic":
        scale = _matrix(_get(d, "scale", where), (2,), f"{where}.scale")
        center = _matrix(_get(d, "center", where, None, [(width - 1) / 2, (height - 1) / 2]), (2,), f"{where}.center")
        if (scale <= 0).any():
            raise _err(f"{where}.scale", "must be positive (pixels per world unit)")
        return Camera(cid, width, height, w2c, "orthographic", scale=tuple(scale), center=tuple(center), gbuffer=gbuffer)
    raise _err(f"{where}.model", f"unknown camera model {model!r} (pinhole, orthographic)")


def _parse_light(d: Any, i: int) -> Light:
    where = f"lights[{i}]"
    if not isinstance(d, dict):
        raise _err(where, "expected an object")
    lid = _get(d, "id", where, str)
    ltype = _get(d, "type", where, str)
    inten = _matrix(_get(d, "intensity", where, None, [1.0, 1.0, 1.0]), (3,), f"{where}.intensity")
    if np.isscalar(d.get("intensity")):
        inten = np.full(3, float(d["intensity"]))
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


def parse_capture(d: Any, root: Path) -> Capture:
    """Build a :class:`Capture` from parsed JSON, checking structure and references (no file IO)."""
    if not isinstance(d, dict):
        raise CaptureError("capture.json: expected a JSON object at the top level")
    fmt = d.get("format")
    if fmt != FORMAT:
        raise _err("format", f"expected {FORMAT!r}, got {fmt!r}")
    color_space = _get(d, "color_space", "", str, "linear")
    if color_space not in ("linear", "srgb"):
        raise _err("color_space", f"expected 'linear' or 'srgb', got {color_space!r}")
    up = _matrix(_get(d, "up", "", None, [0, 0, 1]), (3,), "up")
    if np.linalg.norm(up) < 1e-8:
        raise _err("up", "must be non-zero")
    convention = _get(d, "camera_convention", "", str, "opencv")
    cams_raw = _get(d, "cameras", "", list)
    if not cams_raw:
        raise _err("cameras", "at least one camera is required")
    cameras = [_parse_camera(c, i, convention) for i, c in enumerate(cams_raw)]
    lights = [_parse_light(l, i) for i, l in enumerate(_get(d, "lights", "", list))]
    for kind, items in (("cameras", cameras), ("lights", lights)):
        seen: dict[str, int] = {}
        for i, it in enumerate(items):
            if it.id in seen:
                raise _err(f"{kind}[{i}].id", f"duplicate id {it.id!r} (also {kind}[{seen[it.id]}])")
            seen[it.id] = i
    cam_ids = {c.id for c in cameras}
    light_ids = {l.id for l in lights}
    frames = []
    pairs: dict[tuple[str, str], int] = {}
    for i, f in enumerate(_get(d, "frames", "", list)):
        where = f"frames[{i}]"
        if not isinstance(f, dict):
            raise _err(where, "expected an object")
        fr = Frame(_get(f, "camera", where, str), _get(f, "light", where, str), _get(f, "image", where, str), _get(f, "mask", where, str, None))
        if fr.camera not in cam_ids:
            raise _err(f"{where}.camera", f"unknown camera id {fr.camera!r}")
        if fr.light not in light_ids:
            raise _err(f"{where}.light", f"unknown light id {fr.light!r}")
        if (fr.camera, fr.light) in pairs:
            raise _err(where, f"duplicate frame for camera {fr.camera!r} and light {fr.light!r} (also frames[{pairs[(fr.camera, fr.light)]}])")
        pairs[(fr.camera, fr.light)] = i
        frames.append(fr)
    if not frames:
        raise _err("frames", "at least one frame is required")
    sequences = []
    for i, s in enumerate(_get(d, "sequences", "", list, [])):
        where = f"sequences[{i}]"
        seq = Sequence(_get(s, "name", where, str), _get(s, "camera", where, str), list(_get(s, "lights", where, list)),
                       list(_get(s, "frames", where, list)), float(_get(s, "fps", where, (int, float), 30.0)))
        if seq.camera not in cam_ids:
            raise _err(f"{where}.camera", f"unknown camera id {seq.camera!r}")
        for j, lid in enumerate(seq.lights):
            if lid not in light_ids:
                raise _err(f"{where}.lights[{j}]", f"unknown light id {lid!r}")
        if len(seq.lights) != len(seq.frames):
            raise _err(f"{where}.frames", f"{len(seq.frames)} frames for {len(seq.lights)} lights")
        if len(seq.lights) < 3:
            raise _err(f"{where}.lights", "a sequence needs at least 3 frames")
        sequences.append(seq)
    mesh = _get(d, "mesh", "", str, None)
    if mesh is None:
        for i, c in enumerate(cameras):
            if not c.gbuffer:
                raise _err("mesh", f"missing, and cameras[{i}] ({c.id}) gives no gbuffer; one of the two is required")
    return Capture(Path(root), cameras, lights, frames, mesh, color_space, up / np.linalg.norm(up), sequences,
                   dict(_get(d, "generator", "", dict, {})))


def load_capture(path: str | Path) -> Capture:
    """Read and structurally validate ``capture.json`` (a file or the folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "capture.json"
    if not path.is_file():
        raise CaptureError(f"{path}: file not found")
    try:
        d = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CaptureError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    return parse_capture(d, path.parent)


def validate_files(cap: Capture, check_pixels: bool = True, progress=None) -> None:
    """Check that every referenced file exists and every image matches its camera.

    Args:
        cap: a parsed capture.
        check_pixels: also decode every image (size, NaN/inf, truncation); slower.
        progress: optional callable ``progress(i, n)``.

    Raises:
        CaptureError: naming the field, e.g. ``frames[12].image: file not found: images/a.exr``.
    """
    from neutex.capture.imageio import read_image

    if cap.mesh and not (cap.root / cap.mesh).is_file():
        raise _err("mesh", f"file not found: {cap.mesh}")
    cams = cap._cams()
    items: list[tuple[str, str, str]] = []  # (where, relpath, camera id)
    for i, f in enumerate(cap.frames):
        items.append((f"frames[{i}].image", f.image, f.camera))
        if f.mask:
            items.append((f"frames[{i}].mask", f.mask, f.camera))
    for i, s in enumerate(cap.sequences):
        items += [(f"sequences[{i}].frames[{j}]", p, s.camera) for j, p in enumerate(s.frames)]
    for i, c in enumerate(cap.cameras):
        for k, p in (c.gbuffer or {}).items():
            items.append((f"cameras[{i}].gbuffer.{k}", p, c.id))
    seen: set[str] = set()
    for n, (where, rel, cid) in enumerate(items):
        if progress:
            progress(n, len(items))
        full = cap.root / rel
        if not full.is_file():
            raise _err(where, f"file not found: {rel}")
        if not check_pixels or rel in seen or ".gbuffer." in where:
            continue
        seen.add(rel)
        try:
            img = read_image(full, cap.color_space)
        except CaptureError as exc:
            raise _err(where, str(exc)) from None
        cam = cams[cid]
        if img.shape[:2] != (cam.height, cam.width):
            raise _err(where, f"{rel} is {img.shape[1]}x{img.shape[0]}, camera {cid} is {cam.width}x{cam.height}")


def save_capture(cap: Capture, path: str | Path | None = None) -> Path:
    """Write ``capture.json`` atomically (default: ``cap.root / 'capture.json'``)."""
    path = Path(path) if path else cap.root / "capture.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(cap.to_json(), indent=1))
    tmp.replace(path)
    return path


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
