"""Rendering with Mitsuba 3: whole synthetic captures (:func:`synthesize`), per-pixel ground-truth
buffers of any capture camera (:func:`render_aovs`) and a throughput benchmark (:func:`bench_synth`).

One scene is loaded per capture and rendered once per (camera, light): the sensor is chosen with
``mi.render(..., sensor=)`` and the single point light is moved with ``mi.traverse`` (measured
here: reloading the scene costs 70-150 ms, more than a 128² render with ``llvm_ad_rgb``).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from neutex import __version__
from neutex.capture.imageio import write_exr, write_png, write_png_codes
from neutex.capture.schema import Camera, Capture, Frame, Light, Sequence, load_capture, save_capture
from neutex.config import config_to_dict
from neutex.errors import CaptureError
from neutex.synth.config import SynthConfig
from neutex.synth.mesh import make_egg_mesh, make_mesh, write_obj
from neutex.synth.scene import build_aov_scene_dict, build_scene_dict, sensor_key, to_mitsuba
from neutex.synth.stage import id_width, light_stage_positions, pick_sweep_cameras, sweep_positions, turntable_cameras
from neutex.synth.textures import make_textures
from neutex.synth.variant import Variant, current_variant, set_variant

ALBEDO_FILE = "textures/albedo.png"
ROUGHNESS_FILE = "textures/roughness.png"


# ----------------------------------------------------------------------------- renderers


class _BeautyRenderer:
    """A loaded beauty scene: render(camera, light) with the light moved through mi.traverse."""

    def __init__(self, mi: Any, scene_dict: dict[str, Any]) -> None:
        self.mi = mi
        self.scene = mi.load_dict(to_mitsuba(scene_dict, mi))
        self.params = mi.traverse(self.scene)
        self.sensors = {s.id(): s for s in self.scene.sensors()}
        self._intensity: tuple[float, ...] | None = None

    def render(self, camera_id: str, position, intensity, seed: int, spp: int = 0) -> np.ndarray:
        """``(H, W, 3)`` float32 linear radiance for one camera and one point light (``spp`` 0:
        the scene's own sample count)."""
        mi = self.mi
        self.params["light.position"] = mi.Point3f(*(float(x) for x in position))
        inten = tuple(float(x) for x in intensity)
        if inten != self._intensity:
            self.params["light.intensity.value"] = mi.Color3f(*inten)
            self._intensity = inten
        self.params.update()
        img = mi.render(self.scene, sensor=self.sensors[sensor_key(camera_id)], seed=int(seed) % 2**32, spp=int(spp))
        return np.array(img, dtype=np.float32)[..., :3]


def _aov_arrays(mi: Any, scene: Any, sensor: Any, camera: Camera, spp: int) -> dict[str, np.ndarray]:
    """Render the AOV scene for one sensor and unpack the named film channels."""
    mi.render(scene, sensor=sensor, seed=0)
    bmp = sensor.film().bitmap()
    names = [f.name for f in bmp.struct_()]
    arr = np.array(bmp, dtype=np.float32)

    def ch(*keys: str) -> np.ndarray:
        return np.stack([arr[..., names.index(k)] for k in keys], -1)

    depth_t = ch("dd.T")[..., 0]
    if spp == 1:
        mask = depth_t > 0
        cover = mask.astype(np.float32)
    else:  # box-filtered averages include misses as zeros: divide by the coverage
        cover = ch("inner.A")[..., 0]
        mask = cover >= 0.5
    inv = np.where(mask, 1.0 / np.maximum(cover, 1e-6), 0.0)[..., None].astype(np.float32)
    uv = ch("uv.U", "uv.V") * inv
    uv[..., 1] = np.where(mask, 1.0 - uv[..., 1], 0.0)  # Mitsuba flips OBJ's v on load: flip back (v up)
    normal = ch("nn.X", "nn.Y", "nn.Z") * inv
    normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-12)
    position = ch("p.X", "p.Y", "p.Z") * inv
    w2c = np.asarray(camera.world_to_camera, np.float64)
    depth = (position.astype(np.float64) @ w2c[2, :3] + w2c[2, 3]).astype(np.float32)
    return {"uv": uv.astype(np.float32), "normal": normal.astype(np.float32), "position": position.astype(np.float32),
            "depth": np.where(mask, depth, 0.0).astype(np.float32), "mask": mask}


_aov_cache: dict[tuple, Any] = {}


def render_aovs(capture: Capture | str | Path, camera_id: str, spp: int = 1,
                variant: Variant = "auto") -> dict[str, np.ndarray]:
    """Mitsuba's own per-pixel geometry for one capture camera (ground truth for G-buffers).

    Sampling: with ``spp=1`` (default) each pixel holds the surface seen through its centre
    (a non-jittered ``stratified`` sampler puts the one sample exactly on the pixel centre, with a
    box filter), the point a rasterizer samples. With ``spp = n²`` the values are box-filter
    averages over an n x n grid symmetric about the centre, divided by the pixel's coverage;
    ``mask`` is then coverage >= 1/2 (averages blend across silhouettes and UV seams).

    Args:
        capture: a :class:`~neutex.capture.Capture` or its folder / capture.json path; it needs
            a mesh (``.obj`` or ``.ply``) and a pinhole camera with square pixels.
        camera_id: the camera's id.
        spp: 1 or a square number.
        variant: Mitsuba variant (see :func:`~neutex.synth.variant.set_variant`).

    Returns:
        ``uv`` ``(H, W, 2)`` float32 in [0, 1]² with v up (OBJ convention); ``normal``
        ``(H, W, 3)`` float32 world-space unit shading normal (interpolated vertex normals);
        ``position`` ``(H, W, 3)`` float32 world; ``depth`` ``(H, W)`` float32 camera z;
        ``mask`` ``(H, W)`` bool. Zero outside the mask.

    Raises:
        CaptureError: unknown camera, no mesh, or a camera Mitsuba cannot model.
    """
    cap = capture if isinstance(capture, Capture) else load_capture(capture)
    cams = {c.id: c for c in cap.cameras}
    if camera_id not in cams:
        raise CaptureError(f"camera {camera_id!r}: not in the capture (has {', '.join(cams)})")
    if not cap.mesh:
        raise CaptureError("mesh: render_aovs needs the capture's mesh")
    mesh_path = (Path(cap.root) / cap.mesh).resolve()
    if not mesh_path.is_file():
        raise CaptureError(f"mesh: file not found: {cap.mesh}")
    if cams[camera_id].model != "pinhole":
        raise CaptureError(f"camera {camera_id}: render_aovs renders pinhole cameras only (got {cams[camera_id].model})")
    mi = set_variant(variant)
    pinholes = [c for c in cap.cameras if c.model == "pinhole"]
    key = (str(mesh_path), mesh_path.stat().st_mtime_ns, spp, current_variant(),
           tuple((c.id, c.width, c.height, np.asarray(c.K).tobytes(), np.asarray(c.world_to_camera).tobytes())
                 for c in pinholes))
    scene = _aov_cache.get(key)
    if scene is None:
        d = build_aov_scene_dict(mesh_path, pinholes, spp)
        if spp > 1:  # a nested integrator adds an alpha channel ("inner.A"): the pixel's coverage
            d["integrator"]["inner"] = {"type": "direct", "emitter_samples": 0, "bsdf_samples": 1}
        scene = mi.load_dict(to_mitsuba(d, mi))
        _aov_cache.clear()
        _aov_cache[key] = scene
    sensor = {s.id(): s for s in scene.sensors()}[sensor_key(camera_id)]
    return _aov_arrays(mi, scene, sensor, cams[camera_id], spp)


# ----------------------------------------------------------------------------- synthesize


def _progress(enabled: bool):
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                    TimeRemainingColumn(), console=Console(stderr=True), disable=not enabled, transient=False)


def synthesize(cfg: SynthConfig, out: str | Path | None = None, *, progress: bool = True) -> Path:
    """Render a synthetic capture: ``capture.json``, ``mesh.obj``, ``textures/``, one mask per
    camera (``masks/<cam>.png``), one EXR per (camera, light) (``images/<cam>/<light>.exr``) and
    ground-truth light sweeps (``sweeps/<cam>/<S...>.exr``).

    Args:
        cfg: the generator settings (see :data:`~neutex.synth.config.PRESETS`).
        out: output folder (default ``cfg.out``); created if needed, files in it are replaced.
        progress: show a progress bar with ETA (on stderr).

    Returns:
        The capture folder.
    """
    out = Path(out if out is not None else cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "capture.json").unlink(missing_ok=True)  # an interrupted run leaves no valid capture
    t_start = time.perf_counter()

    mesh = make_mesh(cfg.shape, cfg.mesh_detail)
    write_obj(out / "mesh.obj", mesh)
    tex = make_textures(cfg.shape, cfg.texture_res, cfg.seed)
    write_png(out / ALBEDO_FILE, tex.albedo, 8, "srgb")
    write_png(out / ROUGHNESS_FILE, tex.roughness, 8, "linear")

    cameras = turntable_cameras(cfg.views, cfg.res, cfg.camera_distance, cfg.camera_elevation_deg, cfg.fov_deg)
    stage = light_stage_positions(cfg.lights_per_face, cfg.stage_half_size)
    intensity = np.asarray(cfg.light_intensity, float)
    lw = id_width(len(stage), 3)
    lights = [Light(f"L{i:0{lw}d}", "point", intensity.copy(), position=p) for i, p in enumerate(stage)]
    sweep_radius = cfg.sweep_radius or float(np.linalg.norm(stage, axis=1).mean())
    sweep_lights: list[Light] = []
    sweep_cams: list[str] = []
    if cfg.sweep_frames:
        sw = id_width(cfg.sweep_frames, 3)
        sweep = sweep_positions(cfg.sweep_frames, sweep_radius, cfg.sweep_elevation_deg)
        sweep_lights = [Light(f"S{t:0{sw}d}", "point", intensity.copy(), position=p) for t, p in enumerate(sweep)]
        sweep_cams = pick_sweep_cameras([c.id for c in cameras], [l.id for l in lights], cfg.sweep_cameras)

    mi = set_variant(cfg.variant)
    variant = current_variant()
    scene_d = build_scene_dict(out / "mesh.obj", out / ALBEDO_FILE, out / ROUGHNESS_FILE, cameras, spp=cfg.spp,
                               max_depth=cfg.max_depth, specular=cfg.specular,
                               light_position=stage[0], light_intensity=intensity)
    beauty = _BeautyRenderer(mi, scene_d)
    aov_scene = mi.load_dict(to_mitsuba(build_aov_scene_dict(out / "mesh.obj", cameras), mi))
    aov_sensors = {s.id(): s for s in aov_scene.sensors()}

    frames: list[Frame] = []
    sequences: list[Sequence] = []
    seed_base = (cfg.seed * 1_000_003) % 2**32
    n_total = cfg.views * len(lights) + len(sweep_cams) * len(sweep_lights)
    exposure: list[np.ndarray] = []
    pending: list[Future] = []
    t_render = time.perf_counter()
    k = 0
    with ThreadPoolExecutor(max_workers=2) as pool, _progress(progress) as bar:
        task = bar.add_task(f"synth {cfg.name}", total=n_total, rate="")

        def emit(path: Path, img: np.ndarray) -> None:
            nonlocal k
            pending.append(pool.submit(write_exr, path, img))
            while len(pending) > 16:
                pending.pop(0).result()
            k += 1
            el = time.perf_counter() - t_render
            bar.update(task, advance=1, rate=f"{k / max(el, 1e-9):.1f} img/s")

        masks: dict[str, np.ndarray] = {}
        for cam in cameras:
            aov = _aov_arrays(mi, aov_scene, aov_sensors[sensor_key(cam.id)], cam, 1)
            masks[cam.id] = aov["mask"]
            write_png_codes(out / "masks" / f"{cam.id}.png", aov["mask"].astype(np.uint8) * 255)
        for ci, cam in enumerate(cameras):
            mask_rel = f"masks/{cam.id}.png"
            for li, light in enumerate(lights):
                rel = f"images/{cam.id}/{light.id}.exr"
                img = beauty.render(cam.id, light.position, light.intensity, seed_base + ci * len(lights) + li)
                if ci == 0 and masks[cam.id].any():
                    exposure.append(img[masks[cam.id]].mean(-1)[::7])  # a sample of object pixels
                emit(out / rel, img)
                frames.append(Frame(cam.id, light.id, rel, mask_rel))
        for si, cam_id in enumerate(sweep_cams):
            rels = []
            for t, light in enumerate(sweep_lights):
                rel = f"sweeps/{cam_id}/{light.id}.exr"
                img = beauty.render(cam_id, light.position, light.intensity,
                                    seed_base + cfg.views * len(lights) + si * len(sweep_lights) + t,
                                    spp=cfg.sweep_spp or 4 * cfg.spp)
                emit(out / rel, img)
                rels.append(rel)
            sequences.append(Sequence(f"sweep_{cam_id}", cam_id, [l.id for l in sweep_lights], rels, cfg.sweep_fps))
        for f in pending:
            f.result()
    render_s = time.perf_counter() - t_render

    values = np.concatenate(exposure) if exposure else np.zeros(1)
    generator = {
        "tool": "neutex synth",
        "neutex_version": __version__,
        "mitsuba_version": mi.__version__,
        "preset": cfg.name,
        "variant": variant,
        "seed": cfg.seed,
        "config": config_to_dict(cfg.replace(out=out)),
        "stage": {
            "lights": len(lights), "lights_per_face": cfg.lights_per_face, "cube_half_size": cfg.stage_half_size,
            "faces": ["+x", "-x", "+y", "-y", "+z", "-z"],
            "sweep_radius": sweep_radius, "sweep_elevation_deg": cfg.sweep_elevation_deg,
            "sweep_cameras": sweep_cams,
        },
        "textures": {"albedo": ALBEDO_FILE, "roughness": ROUGHNESS_FILE, "albedo_color_space": "srgb"},
        "pixel_filter": "box", "aov_sampling": "pixel centre (stratified, no jitter, 1 spp)",
        "exposure_first_camera": {"mean": float(values.mean()), "p50": float(np.percentile(values, 50)),
                                  "p99": float(np.percentile(values, 99)), "max": float(values.max())},
        "timing": {"images": n_total, "render_s": round(render_s, 3), "images_per_s": round(n_total / max(render_s, 1e-9), 3),
                   "total_s": round(time.perf_counter() - t_start, 3)},
    }
    cap = Capture(out, cameras, lights + sweep_lights, frames, "mesh.obj", "linear", np.array([0.0, 0.0, 1.0]),
                  sequences, generator)
    save_capture(cap)
    return out


# ----------------------------------------------------------------------------- benchmark


def bench_synth(res: int, spp: int, n_images: int, variant: Variant = "auto", max_depth: int = 2) -> dict[str, Any]:
    """Render throughput of the egg scene: ``n_images`` renders at ``res²`` and ``spp`` with a
    different stage light each, after one warm-up render (kernel compilation) that is not timed.

    Returns:
        ``{"name": "synth", "res", "spp", "ms" (per image), "per_s" (images/s), "variant", "n"}``.
    """
    mi = set_variant(variant)
    tmp = Path(tempfile.mkdtemp(prefix="neutex-bench-synth-"))
    try:
        write_obj(tmp / "mesh.obj", make_egg_mesh())
        tex = make_textures("egg", 256, 0)
        write_png(tmp / ALBEDO_FILE, tex.albedo, 8, "srgb")
        write_png(tmp / ROUGHNESS_FILE, tex.roughness, 8, "linear")
        cam = turntable_cameras(1, res, 3.0, 15.0, 32.0)[0]
        stage = light_stage_positions(4, 2.0)
        r = _BeautyRenderer(mi, build_scene_dict(tmp / "mesh.obj", tmp / ALBEDO_FILE, tmp / ROUGHNESS_FILE, [cam],
                                                 spp=spp, max_depth=max_depth))
        r.render(cam.id, stage[0], (20.0, 20.0, 20.0), 0)
        t = time.perf_counter()
        for i in range(n_images):
            r.render(cam.id, stage[(i + 1) % len(stage)], (20.0, 20.0, 20.0), i + 1)
        dt = (time.perf_counter() - t) / max(n_images, 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"name": "synth", "res": res, "spp": spp, "ms": dt * 1000.0, "per_s": 1.0 / dt, "variant": current_variant(),
            "n": n_images}


__all__ = ["bench_synth", "render_aovs", "synthesize"]
