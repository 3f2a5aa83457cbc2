"""Videos of a trained run: light sweeps, orbits, both, and ground-truth sequences side by side
with the prediction and its error (``neutex render``, docs/render.md).

Frames are rendered in batches by :class:`~neutex.run.predict.FrameRenderer` and handed to
the encoder as they come. A sweep's G-buffers and texture features are computed once; an orbit
rasterizes its new cameras batch by batch with one GL context. A ground-truth sequence is
measured by the one evaluator (:func:`neutex.run.evaluate.measure_sweep`), exactly as
``neutex eval`` and the report measure it; a light sweep's streamed frames by the same code
(:func:`neutex.run.evaluate.measure_frames`).
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from neutex.capture.imageio import write_exr, write_png_codes
from neutex.capture.mesh import load_mesh
from neutex.data.loader import GBufferTensors
from neutex.device import autocast_dtype
from neutex.envmap.latlong import read_envmap
from neutex.envmap.sampling import sample_envmap
from neutex.errors import DataError, DependencyError
from neutex.eval.metrics import image_metrics, linear_errors
from neutex.gbuffer.raster import Rasterizer
from neutex.jsonio import write_json_atomic
from neutex.render.cameras import orbit_cameras, orbit_start_deg, ring_of
from neutex.render.config import DEFAULT_ENVMAP_FRAMES, DEFAULT_FPS, DEFAULT_FRAMES, RenderConfig
from neutex.render.envlight import reference_irradiance, relight_envmap
from neutex.render.lights import azimuth_deg, circle_light_sources, stage_light_distance
from neutex.render.video import caption, error_heatmap, hstack, to_uint8, write_video
from neutex.run.evaluate import SweepJob, measure_frames, measure_sweep, sequence_job
from neutex.run.load import load_run
from neutex.run.predict import FrameRenderer


#: a sweep keeps its frames (for the temporal metrics) in float32 up to this size, float16 beyond.
KEEP_FP32_BYTES = 1 << 30


@dataclass
class RenderResult:
    """What :func:`render_video` wrote."""

    kind: str
    video: Path
    json: Path
    frames: int
    fps: float
    width: int
    height: int
    seconds: float
    """Wall time of rendering + encoding (model loading excluded)."""
    load_seconds: float
    summary: dict[str, Any] = field(default_factory=dict)
    """The JSON file's content."""


# ---------------------------------------------------------------- choosing things


def resolve_view(data, view: str | int | None, default: str = "held_out") -> int:
    """A view index from an id or an index (ids win when an id looks like a number).

    ``default`` (``view`` None): ``held_out`` -> the first held-out view, else view 0;
    ``first`` -> view 0.
    """
    if view is None:
        if default == "held_out" and len(data.held_out_views):
            return int(data.held_out_views[0])
        return 0
    s = str(view)
    if s in data.view_ids:
        return data.view_ids.index(s)
    if s.lstrip("-").isdigit():
        i = int(s)
        if 0 <= i < data.num_views:
            return i
        raise DataError(f"view: index {i} out of range (0..{data.num_views - 1})")
    raise DataError(f"view: no camera {s!r} (have: {_listing(data.view_ids)})")


def resolve_light(data, light: str) -> int:
    """A stage-light index from an id or an index."""
    if light in data.light_ids:
        return data.light_ids.index(light)
    if light.isdigit() and int(light) < data.num_lights:
        return int(light)
    raise DataError(f"light: no stage light {light!r} (have: {_listing(data.light_ids)})")


def _listing(ids: list[str], k: int = 8) -> str:
    return ", ".join(ids[:k]) + (f", ... ({len(ids)} in all)" if len(ids) > k else "")


def sweep_lights(data, cfg: RenderConfig, n: int, start_deg: float, turns: float) -> tuple[np.ndarray, dict]:
    """The light path: ``(n, 4)`` sources on a circle about up and a description for the JSON."""
    dist = cfg.distance if cfg.distance is not None else stage_light_distance(data.light_sources)
    directional = dist is None
    src = circle_light_sources(n, dist or 1.0, cfg.elevation, data.up, start_deg=start_deg,
                               directional=directional, turns=turns)
    desc = {"path": "circle", "type": "directional" if directional else "point", "elevation_deg": cfg.elevation,
            "distance": dist, "start_azimuth_deg": start_deg, "turns": turns, "up": data.up.tolist()}
    return src, desc


def _camera_azimuth(camera, up) -> float:
    return azimuth_deg(camera.source[:3], up)


def busy_cpu_threads(threads: int) -> int:
    """Threads worth using when other processes share the CPU: about the idle cores (from the
    1-minute load average), at least 1, at most ``threads``.

    torch's CPU kernels split each operation across its threads and wait for the slowest; when
    the cores are oversubscribed, a thread that loses its core stalls every operation, so a
    360-frame sweep measured 87 s with 2 threads and 45 s with 1 on a 2-core machine at load 4.
    """
    try:
        load = os.getloadavg()[0]
    except OSError:
        return threads
    idle = (os.cpu_count() or threads) - load
    return int(max(1, min(threads, math.floor(idle + 0.5))))


def _precision(cfg: RenderConfig, run_precision: str, device: torch.device) -> tuple[str, torch.dtype | None]:
    p = run_precision if cfg.precision == "auto" else cfg.precision
    return p, autocast_dtype(p, device)


# ---------------------------------------------------------------- the entry point


def render_video(cfg: RenderConfig, loaded=None, log: Callable[[str], Any] | None = None) -> RenderResult:
    """Render ``cfg`` to ``cfg.out`` (mp4) and ``cfg.out`` with ``.json`` (what was drawn, and
    for sequences the temporal metrics).

    Args:
        cfg: the :class:`RenderConfig`.
        loaded: a :class:`~neutex.run.LoadedRun` to use instead of loading ``cfg.run``
            (its model is put in eval mode, channels-last on the CPU; its dataset's G-buffer
            tensors may be created under ``inference_mode``).
        log: called with one-line notes.

    Raises:
        ConfigError: contradictory options. DataError: no such view, light or sequence, or an
        orbit without a mesh. DependencyError: an orbit without OpenGL (EGL).
    """
    cfg.validate()
    log = log or (lambda s: None)
    kind = cfg.resolved_kind
    threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    elif cfg.device == "cpu" or (cfg.device == "auto" and not torch.cuda.is_available()):
        n = busy_cpu_threads(threads)
        if n < threads:
            log(f"note: the CPU is busy (load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores): rendering with "
                f"{n} thread{'s' if n > 1 else ''} instead of {threads} (--threads to choose)")
            torch.set_num_threads(n)
    try:
        return _render(cfg, kind, loaded, log)
    finally:
        torch.set_num_threads(threads)


def _render(cfg: RenderConfig, kind: str, loaded, log: Callable[[str], Any]) -> RenderResult:
    t0 = time.perf_counter()
    if loaded is None:
        loaded = load_run(cfg.run, cfg.checkpoint, cfg.device, cfg.data)
    if kind in ("orbit", "both") and loaded.data.mesh_path is None:
        raise DataError(f"{loaded.data.root}: no mesh.obj (its G-buffers came without a mesh, e.g. single-view data); "
                        f"--kind {kind} needs the mesh to rasterize new views",
                        hint="render a light sweep (--kind sweep) or a sequence (--kind sequence) instead")
    model = loaded.model.eval()
    if loaded.device.type == "cpu":
        getattr(model, "renderer", model).to(memory_format=torch.channels_last)
        if cfg.batch_size * loaded.data.width * loaded.data.height * 64 * 2 > 32 << 20:  # a bf16 activation > 32 MB
            _keep_freed_memory()
    run_precision = getattr(loaded.cfg, "precision", "fp32")
    precision, amp = _precision(cfg, run_precision, loaded.device)
    if precision != run_precision:
        log(f"note: rendering in {precision}, the run trained in {run_precision}")
    renderer = FrameRenderer(model, loaded.encoding, loaded.device, amp, cfg.batch_size, getattr(loaded, "shadows", None))
    white = float(cfg.white if cfg.white is not None else loaded.white)
    load_s = time.perf_counter() - t0
    head = {"kind": kind, "run": str(cfg.run), "checkpoint": str(getattr(loaded, "checkpoint", "")),
            "epoch": getattr(loaded, "epoch", None), "precision": precision, "white": white, "exposure": cfg.exposure,
            "device": str(loaded.device)}
    t1 = time.perf_counter()
    with torch.inference_mode():
        if kind == "sweep":
            n, fps, summary = _sweep(cfg, loaded.data, renderer, white)
        elif kind == "sequence":
            n, fps, summary = _sequence(cfg, loaded.data, renderer, white)
        elif kind in ("envmap", "envmap-rotate"):
            n, fps, summary = _envmap(cfg, loaded.data, renderer, white, kind)
        else:
            n, fps, summary = _orbit(cfg, loaded.data, renderer, white, kind)
    seconds = time.perf_counter() - t1
    summary = {**head, **summary, "frames": n, "fps": fps, "width": loaded.data.width, "height": loaded.data.height,
               "video": str(cfg.out), "render_seconds": seconds}
    js = write_json_atomic(cfg.out.with_suffix(".json"), summary)
    return RenderResult(kind, cfg.out, js, n, fps, loaded.data.width, loaded.data.height, seconds, load_s, summary)


def _keep_freed_memory() -> None:
    """Ask glibc's malloc to keep freed memory instead of unmapping it (this process only).

    A 256² batch's activations are tens of MB each, above glibc's largest mmap threshold
    (32 MB), so every one is mmapped, page-faulted in and unmapped again: about a fifth of the
    CPU time of a sweep goes to the kernel. Serving them from the heap and never trimming it
    removes that (the same reason PyTorch's CPU tuning guide recommends jemalloc/tcmalloc).
    Process-wide, so it is done only for large CPU renders (tests at 32² never trigger it).
    A no-op where the C library is not glibc.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4
        libc.mallopt(m_mmap_max, 0)
        libc.mallopt(m_trim_threshold, 1 << 30)
    except (OSError, AttributeError):
        pass


def _frames_u8(batches: Iterator[torch.Tensor], white: float, exposure: float, keep: list | None = None,
               text: Callable[[int], str] | None = None,
               keep_dtype: torch.dtype = torch.float32) -> Iterator[np.ndarray]:
    """Tone-mapped uint8 frames of linear batches (kept on the CPU in ``keep`` as
    ``keep_dtype`` when given)."""
    k = 0
    for pred in batches:
        if keep is not None:
            keep.append(pred.to("cpu", keep_dtype))
        for f in to_uint8(pred, white, exposure):
            yield caption(f, text(k)) if text else f
            k += 1


def _time_text(fps: float, n: int) -> Callable[[int], str]:
    return lambda k: f"frame {k}/{n}  {k / fps:.2f} s"


def _sweep(cfg: RenderConfig, data, renderer, white: float) -> tuple[int, float, dict]:
    view = resolve_view(data, cfg.view, "held_out")
    n = cfg.frames or DEFAULT_FRAMES
    fps = cfg.fps or DEFAULT_FPS
    start = _camera_azimuth(data.cameras[view], data.up) + cfg.azimuth
    src, light = sweep_lights(data, cfg, n, start, cfg.light_turns if cfg.light_turns is not None else 1.0)
    keep: list[torch.Tensor] = []
    text = _time_text(fps, n) if cfg.caption else None
    # the frames are kept for the temporal metrics: as float16 beyond KEEP_FP32_BYTES
    keep_dtype = torch.float32 if n * 3 * data.width * data.height * 4 <= KEEP_FP32_BYTES else torch.float16
    write_video(_frames_u8(renderer.sweep(data, view, src), white, cfg.exposure, keep, text, keep_dtype),
                cfg.out, fps)
    job = SweepJob("circle", view, src, None, None, None, fps)
    tm = measure_frames(data, job, torch.cat(keep))["temporal"] if n >= 3 and bool(data.mask[view].any()) else None
    return n, fps, {"view": data.view_ids[view], "view_index": view,
                    "held_out_view": bool(view in set(data.held_out_views.tolist())),
                    "light": light, "sources": src.tolist(),
                    "temporal": {k: v for k, v in tm.items() if k != "curves"} if tm else None,
                    "curves": tm["curves"] if tm else None}


def _fixed_light(cfg: RenderConfig, data, start_deg: float) -> tuple[np.ndarray, dict]:
    if cfg.light is not None:
        i = resolve_light(data, cfg.light)
        return data.light_sources[i].astype(np.float64), {"path": "fixed", "stage_light": data.light_ids[i]}
    if cfg.light_dir is not None:
        d = np.asarray(cfg.light_dir, float)
        d = d / np.linalg.norm(d)
        return np.r_[d, 0.0], {"path": "fixed", "type": "directional", "direction": d.tolist()}
    src, desc = sweep_lights(data, cfg, 1, start_deg, 1.0)
    desc["path"] = "fixed"
    return src[0], desc


def _orbit(cfg: RenderConfig, data, renderer, white: float, kind: str) -> tuple[int, float, dict]:
    view = resolve_view(data, cfg.view, "first")
    template = data.cameras[view]
    n = cfg.frames or DEFAULT_FRAMES
    fps = cfg.fps or DEFAULT_FPS
    ring = ring_of(data.cameras, data.up)
    distance = cfg.orbit_distance or ring["distance"]
    elevation = cfg.orbit_elevation if cfg.orbit_elevation is not None else ring["elevation_deg"]
    cam_start = orbit_start_deg(template, data.up)
    cams = orbit_cameras(template, n, distance, elevation, data.up, start_deg=cam_start, turns=cfg.turns)
    light_start = _camera_azimuth(template, data.up) + cfg.azimuth
    if kind == "both":
        turns = cfg.light_turns if cfg.light_turns is not None else -1.0
        src, light = sweep_lights(data, cfg, n, light_start, turns)
    else:
        one, light = _fixed_light(cfg, data, light_start)
        src = np.repeat(one[None], n, 0)
    mesh = load_mesh(data.mesh_path)
    try:
        rast = Rasterizer()
    except DependencyError as exc:
        raise DependencyError(f"--kind {kind}: new views are rasterized with OpenGL: {exc}",
                              hint=(exc.hint + "; " if exc.hint else "") + "or render --kind sweep") from None

    def batches() -> Iterator[torch.Tensor]:
        b = renderer.batch_size
        for i in range(0, n, b):
            chunk = cams[i:i + b]
            t = GBufferTensors.from_gbuffers([rast.render(mesh, c) for c in chunk], chunk, renderer.device)
            yield from renderer.frames(t, np.arange(len(chunk)), src[i:i + b], data.default_intensity)

    text = _time_text(fps, n) if cfg.caption else None
    try:
        write_video(_frames_u8(batches(), white, cfg.exposure, None, text), cfg.out, fps)
    finally:
        rast.release()
    return n, fps, {"start_view": data.view_ids[view], "camera_path": {
        "path": "circle", "distance": distance, "elevation_deg": elevation, "start_azimuth_deg": cam_start,
        "turns": cfg.turns, "up": data.up.tolist(), "intrinsics_from": data.view_ids[view]},
        "light": light, "sources": src.tolist()}


# ---------------------------------------------------------------- ground-truth sequences


def frame_errors(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, white: float) -> dict[str, list[float]]:
    """Per-frame masked ``mae`` and ``psnr`` of ``(T, 3, H, W)`` linear frames against the
    ground truth, by :func:`neutex.eval.metrics.linear_errors` (``image_metrics``' definitions)
    at the white level ``white``."""
    m = mask.view(1, 1, *mask.shape)
    out: dict[str, list[float]] = {"mae": [], "psnr": []}
    for s in range(0, pred.shape[0], 32):
        p, g = pred[s:s + 32].float(), gt[s:s + 32].float()
        mae, _, psnr = linear_errors(p, g, m.expand(p.shape[0], -1, -1, -1), white=white)
        out["mae"] += mae.tolist()
        out["psnr"] += psnr.tolist()
    return out


def error_scale(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, q: float = 0.99,
                max_samples: int = 2_000_000) -> float:
    """One heat-map scale for a whole video: the ``q`` quantile of the per-pixel error (mean over
    channels) on object pixels, over (a sample of) all frames. A per-frame scale would flicker."""
    step = max(1, int(pred.shape[0] * int(mask.sum()) // max_samples))
    e = (pred[::step].float() - gt[::step].float()).abs().mean(1)[:, mask]
    if e.numel() == 0:
        return 1e-6
    return max(float(torch.quantile(e.flatten()[:2**24], q)), 1e-6)


def _sequence(cfg: RenderConfig, data, renderer, white: float) -> tuple[int, float, dict]:
    if not data.sequences:
        raise DataError(f"{data.root}: no ground-truth sequences to render",
                        hint="render a light sweep (--kind sweep) instead")
    name = cfg.sequence or data.sequences[0].name
    job = sequence_job(data.sequence(name), cfg.frames)  # data.sequence: a clear error for an unknown name
    idx, n, view = job.gt_index, len(job.gt_index), job.view
    if n < 3:
        raise DataError(f"sequence {name!r}: {n} frames; temporal metrics need at least 3")
    if cfg.fps:
        job.fps = cfg.fps
    fps = job.fps
    m = measure_sweep(renderer, data, job)
    pred, gt, mask, tm = m["pred"], m["gt"], m["mask"], m["temporal"]
    mask_np = mask.numpy()
    err = frame_errors(pred, gt, mask, white)
    vmax = error_scale(pred, gt, mask)
    flagged = {int(f["frame"]) for f in tm["flagged_frames"]}
    tde = tm["curves"].get("tde_t") or [None] * n
    show_text = cfg.caption is not False

    def frames() -> Iterator[np.ndarray]:
        for s in range(0, n, 16):
            g8 = to_uint8(gt[s:s + 16], white, cfg.exposure)
            p8 = to_uint8(pred[s:s + 16], white, cfg.exposure)
            for j in range(len(g8)):
                k = s + j
                heat = error_heatmap(pred[k].permute(1, 2, 0).numpy(), gt[k].permute(1, 2, 0).numpy(), mask_np, vmax)
                panels = [g8[j], p8[j], heat]
                if show_text:
                    panels = [caption(p, lab, corner="bottom-left") for p, lab in
                              zip(panels, ("ground truth", "prediction", f"|error| 0..{vmax:.3g}"))]
                f = hstack(panels)
                if show_text:
                    t = f"frame {int(idx[k])}  {k / fps:.2f} s  PSNR {err['psnr'][k]:.2f} dB"
                    if tde[k] is not None:
                        t += f"  tDE {tde[k]:.3g}"
                    if k in flagged:
                        t += "  JUMP"
                    f = caption(f, t, box=(160, 0, 0) if k in flagged else (0, 0, 0))
                yield f

    write_video(frames(), cfg.out, fps)
    temporal = {k: v for k, v in tm.items() if k != "curves"}
    return n, fps, {
        "sequence": name, "view": data.view_ids[view], "view_index": int(view),
        "held_out_view": bool(view in set(data.held_out_views.tolist())),
        "sequence_frames": [int(i) for i in idx], "error_scale": vmax,
        "psnr_mean": float(np.mean(err["psnr"])), "mae_mean": float(np.mean(err["mae"])),
        "temporal": temporal, "flagged_frames": temporal["flagged_frames"],
        "per_frame": {"psnr": err["psnr"], "mae": err["mae"]}, "curves": tm["curves"],
    }


# ---------------------------------------------------------------- environment maps


def _matching_ground_truth(data, env, view: int):
    """``(environment, frame index)`` of the dataset's ground truth for this map, rotation and
    view (same name, same rotation), or None."""
    for e in getattr(data, "environments", []):
        if e.name == env.name and abs(e.rotation_deg - env.rotation_deg) < 1e-6 and view in e.views.tolist():
            return e, e.views.tolist().index(view)
    return None


def _envmap(cfg, data, renderer, white: float, kind: str) -> tuple[int, float, dict]:
    """``neutex render --envmap``: a still (``kind`` ``envmap``: PNG, or EXR with linear values)
    or a video while the map turns (``envmap-rotate``). Returns ``(frames, fps, summary)``."""
    view = resolve_view(data, cfg.view, "held_out")
    env = read_envmap(cfg.envmap, data.up, cfg.envmap_rotate)
    lights = sample_envmap(env, cfg.envmap_samples, cfg.envmap_sampling)
    e_ref = reference_irradiance(data.light_sources, data.light_intensities)
    mask = torch.from_numpy(np.array(data.mask[view], bool))
    head = {"view": data.view_ids[view], "view_index": view,
            "held_out_view": bool(view in set(data.held_out_views.tolist())),
            "envmap": {"file": str(cfg.envmap), "name": env.name, "size": [env.width, env.height],
                       "rotation_deg": cfg.envmap_rotate, "samples": cfg.envmap_samples, "lights": len(lights),
                       "sampling": cfg.envmap_sampling, "reference_irradiance": e_ref.tolist(),
                       "map_irradiance_total": env.irradiance_total().tolist()}}
    if kind == "envmap":
        img = relight_envmap(renderer, data, view, lights, e_ref).cpu() * mask
        if cfg.out.suffix.lower() == ".exr":
            write_exr(cfg.out, img.permute(1, 2, 0).numpy(), half=False)
        else:
            write_png_codes(cfg.out, to_uint8(img, white, cfg.exposure))
        gt = _matching_ground_truth(data, env, view)
        if gt is not None:
            e, j = gt
            g = torch.from_numpy(np.asarray(e.frames[j], np.float32)).permute(2, 0, 1) * mask
            m = image_metrics(img[None], g[None], mask[None, None], white=e.white_level)
            head["ground_truth"] = {"environment": e.name, "white_level": e.white_level,
                                    **{k: float(v[0]) for k, v in m.items()}}
        return 1, 0.0, head
    n = cfg.frames or DEFAULT_ENVMAP_FRAMES
    fps = cfg.fps or DEFAULT_FPS
    turns = cfg.light_turns if cfg.light_turns is not None else 1.0

    def frames():
        for t in range(n):
            deg = 360.0 * turns * t / n
            img = relight_envmap(renderer, data, view, lights.rotated(deg, data.up), e_ref).cpu() * mask
            f = to_uint8(img, white, cfg.exposure)
            yield caption(f, f"{env.name} +{deg:.0f} deg") if cfg.caption else f

    write_video(frames(), cfg.out, fps)
    head["envmap"]["turns"] = turns
    return n, fps, head
