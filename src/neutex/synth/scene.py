"""Mitsuba scene dictionaries, built by pure functions (no Mitsuba import; testable without
rendering). :func:`to_mitsuba` turns the plain dict into what ``mi.load_dict`` takes.

Camera convention. A capture camera is OpenCV (x right, y down, z forward) with pinhole ``K``
and pixel centres at integer coordinates. Mitsuba's ``perspective`` sensor looks down its
local +z with local +x pointing to the image *left* and +y to the image *top*, so its
``to_world`` is ``camera_to_world @ diag(-1, -1, 1, 1)``. Mitsuba samples pixel ``i`` over the
continuous interval ``[i, i + 1)`` (centre ``i + 0.5``) and puts the optical axis at ``W / 2``,
which is exactly ``cx = (W - 1) / 2`` in the integer-centre convention; an off-centre principal
point becomes ``principal_point_offset_x = -(cx - (W - 1) / 2) / W`` (a fraction of the film,
measured along Mitsuba's left-pointing x; likewise y).
``fov`` is the horizontal field of view, ``2 atan(W / (2 fx))``. Square pixels only (fx = fy).

Pixel filters. Beauty images use a box filter (each pixel is the average over its own square
footprint, whose centroid is the pixel centre). AOV renders (uv, normal, position, depth,
masks) use a *non-jittered* ``stratified`` sampler with a box filter: at 1 spp the one sample
sits exactly on the pixel centre, the same point a rasterizer samples.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from neutex.capture.schema import Camera
from neutex.errors import CaptureError

#: The AOV string for Mitsuba's ``aov`` integrator; channel order of the rendered tensor.
AOVS = "uv:uv,nn:sh_normal,p:position,dd:depth"
AOV_CHANNELS = {"uv": slice(0, 2), "normal": slice(2, 5), "position": slice(5, 8), "depth": slice(8, 9)}

#: OpenCV camera axes -> Mitsuba sensor axes.
CV_TO_MITSUBA = np.diag([-1.0, -1.0, 1.0, 1.0])


def sensor_dict(camera: Camera, sampler: dict[str, Any], near: float = 0.01, far: float = 100.0) -> dict[str, Any]:
    """A Mitsuba ``perspective`` sensor matching a pinhole capture camera exactly.

    Args:
        camera: a pinhole :class:`~neutex.capture.Camera` (OpenCV world_to_camera, K).
        sampler: the sampler dict, e.g. ``{"type": "independent", "sample_count": 16}``.

    Returns:
        A plain dict; ``to_world`` is a ``(4, 4)`` numpy array (see :func:`to_mitsuba`).

    Raises:
        CaptureError: not a pinhole camera, or fx != fy.

    Examples:
        >>> from neutex.capture import look_at, pinhole_K
        >>> cam = Camera("c", 64, 64, look_at([0, -3, 0], [0, 0, 0], [0, 0, 1]), K=pinhole_K(64, 64, 40.0))
        >>> d = sensor_dict(cam, {"type": "independent", "sample_count": 1})
        >>> round(d["fov"], 6), d["fov_axis"], d["principal_point_offset_x"] == 0
        (40.0, 'x', True)
    """
    if camera.model != "pinhole" or camera.K is None:
        raise CaptureError(f"camera {camera.id}: only pinhole cameras can be rendered with Mitsuba (got {camera.model})")
    K = np.asarray(camera.K, float)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    if abs(fx - fy) > 1e-6 * fx or abs(K[0, 1]) > 1e-9:
        raise CaptureError(f"camera {camera.id}.K: Mitsuba needs square pixels and no skew (fx={fx}, fy={fy})")
    w, h = camera.width, camera.height
    to_world = np.linalg.inv(np.asarray(camera.world_to_camera, float)) @ CV_TO_MITSUBA
    return {
        "type": "perspective",
        "fov": math.degrees(2 * math.atan(w / (2 * fx))),
        "fov_axis": "x",
        # Mitsuba's offsets are measured along its own (left, up) axes: negated.
        "principal_point_offset_x": float(-(cx - (w - 1) / 2) / w),
        "principal_point_offset_y": float(-(cy - (h - 1) / 2) / h),
        "near_clip": near,
        "far_clip": far,
        "to_world": to_world,
        "film": {"type": "hdrfilm", "width": w, "height": h, "rfilter": {"type": "box"},
                 "pixel_format": "rgb", "component_format": "float32"},
        "sampler": dict(sampler),
    }


def sensor_key(camera_id: str) -> str:
    """The scene-dict key (and Mitsuba object id) of a camera's sensor."""
    return f"sensor_{camera_id}"


def mesh_dict(mesh_file: str | Path, bsdf: dict[str, Any] | None = None) -> dict[str, Any]:
    """A shape loading ``mesh_file`` (``.obj`` or ``.ply``) with its own normals and uvs."""
    mesh_file = Path(mesh_file)
    kind = {".obj": "obj", ".ply": "ply"}.get(mesh_file.suffix.lower())
    if kind is None:
        raise CaptureError(f"mesh: {mesh_file.name}: Mitsuba reads .obj or .ply meshes")
    d: dict[str, Any] = {"type": kind, "filename": str(mesh_file), "face_normals": False}
    if bsdf is not None:
        d["bsdf"] = bsdf
    return d


def material_dict(albedo_file: str | Path, roughness_file: str | Path, specular: float = 0.5,
                  metallic: float = 0.0) -> dict[str, Any]:
    """A spatially varying ``principled`` BSDF: albedo bitmap (sRGB PNG, decoded to linear),
    roughness bitmap (raw values), constant specular and metallic."""
    tex = {"type": "bitmap", "filter_type": "bilinear", "wrap_mode": "repeat"}
    return {
        "type": "principled",
        "base_color": {**tex, "filename": str(albedo_file), "raw": False},
        "roughness": {**tex, "filename": str(roughness_file), "raw": True},
        "metallic": float(metallic),
        "specular": float(specular),
    }


def build_scene_dict(mesh_file: str | Path, albedo_file: str | Path, roughness_file: str | Path,
                     cameras: list[Camera], *, spp: int, max_depth: int = 2, specular: float = 0.5,
                     light_position=(0.0, 0.0, 3.0), light_intensity=(1.0, 1.0, 1.0)) -> dict[str, Any]:
    """The beauty scene: the textured mesh, one point light (moved between renders through
    ``mi.traverse`` as ``light.position`` / ``light.intensity.value``), one sensor per camera
    (key :func:`sensor_key`), a path tracer, black background.

    Args:
        mesh_file: the OBJ with v/vt/vn.
        albedo_file, roughness_file: texture images (see :func:`material_dict`).
        cameras: pinhole capture cameras.
        spp: samples per pixel (``multijitter`` sampler).
        max_depth: path length (2 = direct light only; 3 adds one bounce).
        specular: principled ``specular``.
        light_position, light_intensity: the initial point light (RGB radiant intensity, W/sr).

    Returns:
        A plain dict (numpy ``to_world``); pass it through :func:`to_mitsuba` before ``mi.load_dict``.

    Examples:
        >>> from neutex.capture import look_at, pinhole_K
        >>> cam = Camera("cam00", 32, 32, look_at([3, 0, 0], [0, 0, 0], [0, 0, 1]), K=pinhole_K(32, 32, 30.0))
        >>> d = build_scene_dict("m.obj", "a.png", "r.png", [cam], spp=4)
        >>> sorted(d)
        ['integrator', 'light', 'object', 'sensor_cam00', 'type']
    """
    sampler = {"type": "independent", "sample_count": int(spp)}
    d: dict[str, Any] = {
        "type": "scene",
        "integrator": {"type": "path", "max_depth": int(max_depth), "hide_emitters": True},
        "object": mesh_dict(mesh_file, material_dict(albedo_file, roughness_file, specular)),
        "light": {"type": "point", "position": [float(x) for x in light_position],
                  "intensity": {"type": "rgb", "value": [float(x) for x in light_intensity]}},
    }
    for cam in cameras:
        d[sensor_key(cam.id)] = sensor_dict(cam, sampler)
    return d


def build_aov_scene_dict(mesh_file: str | Path, cameras: list[Camera], spp: int = 1) -> dict[str, Any]:
    """The geometry scene: the mesh and an ``aov`` integrator writing uv, shading normal, world
    position and depth (:data:`AOVS`), sampled at pixel centres (non-jittered ``stratified``
    sampler, box filter; ``spp`` must be a square: n² samples on an n x n grid symmetric about
    the pixel centre).

    Examples:
        >>> from neutex.capture import look_at, pinhole_K
        >>> cam = Camera("cam00", 16, 16, look_at([3, 0, 0], [0, 0, 0], [0, 0, 1]), K=pinhole_K(16, 16, 30.0))
        >>> d = build_aov_scene_dict("m.obj", [cam])
        >>> d["integrator"]["aovs"], d["sensor_cam00"]["sampler"]
        ('uv:uv,nn:sh_normal,p:position,dd:depth', {'type': 'stratified', 'sample_count': 1, 'jitter': False})
    """
    side = int(round(math.sqrt(spp)))
    if side * side != spp or spp < 1:
        raise ValueError(f"spp: AOV renders need a square sample count (1, 4, 9, ...), got {spp}")
    sampler = {"type": "stratified", "sample_count": int(spp), "jitter": False}
    d: dict[str, Any] = {"type": "scene", "integrator": {"type": "aov", "aovs": AOVS},
                         "object": mesh_dict(mesh_file)}
    for cam in cameras:
        d[sensor_key(cam.id)] = sensor_dict(cam, sampler)
    return d


def to_mitsuba(d: Any, mi: Any) -> Any:
    """Copy a plain scene dict, turning ``to_world`` arrays into ``mi.ScalarTransform4f``."""
    if isinstance(d, dict):
        return {k: (mi.ScalarTransform4f(np.asarray(v, float).tolist()) if k == "to_world" and not
                    isinstance(v, mi.ScalarTransform4f) else to_mitsuba(v, mi)) for k, v in d.items()}
    return d
