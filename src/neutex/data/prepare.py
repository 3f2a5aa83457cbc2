"""``neutex prepare``: capture -> prepared dataset (G-buffers, images, splits; docs/prepared.md).

The dataset is written into ``OUT.tmp`` next to ``OUT`` and renamed into place at the end, so
an interrupted run never leaves a half-written ``OUT``. An existing prepared dataset at
``OUT`` is replaced; any other non-empty folder there is refused.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable

import numpy as np
import tyro

from neutex.capture.imageio import read_image, read_mask
from neutex.capture.mesh import load_mesh, save_mesh, unwrap_uvs
from neutex.capture.schema import load_capture, read_camera_gbuffer, validate_files
from neutex.config import config_to_dict
from neutex.data.environments import write_environments
from neutex.data.prepared import FLOAT16_MAX, PreparedWriter
from neutex.data.splits import load_split_file, make_split
from neutex.errors import CaptureError, ConfigError, DataError
from neutex.gbuffer.raster import Rasterizer


@dataclass
class PrepareConfig:
    """Turn a capture into a prepared dataset: rasterize G-buffers for every camera, load
    every image into float16 arrays, and split views and lights."""

    capture: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="CAPTURE")]
    """capture.json, or the folder holding it."""
    out: Path
    """Output folder. An existing prepared dataset there is replaced (written to OUT.tmp, then renamed); any other non-empty folder is refused."""
    split: Path | None = None
    """Explicit split file {"held_out_views": [ids], "held_out_lights": [ids]} (e.g. a published benchmark split); overrides the fractions and the seed."""
    view_fraction: float = 0.875
    """Fraction of views seen in training (the rest are held out)."""
    light_fraction: float = 0.875
    """Fraction of lights seen in training (the rest are held out)."""
    seed: int = 0
    """Seed of the view/light split."""
    allow_outside_paths: bool = False
    """Read files that capture.json names outside its folder ('..', absolute paths, symlinks
    pointing out); refused by default, so a typo never reads another capture's images."""
    unwrap_max_faces: int = 60_000
    """A mesh without uvs is unwrapped with xatlas only up to this many faces (xatlas crashes on ~80k faces)."""
    progress: bool = True
    """Show a progress bar."""

    def validate(self) -> None:
        """Raise :class:`ConfigError` for out-of-range values. (Called by :func:`prepare_capture`
        rather than ``__post_init__``: the CLI turns errors into one line only inside ``main()``.)"""
        for name in ("view_fraction", "light_fraction"):
            v = getattr(self, name)
            if not 0 < v <= 1:
                raise ConfigError(f"{name.replace('_', '-')}: must be in (0, 1], got {v}")


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder", hint="choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / "prepared.json").is_file():
        raise DataError(f"{out}: folder exists, is not empty and is not a prepared dataset; refusing to overwrite it",
                        hint="choose another --out, or delete the folder")


def _replace_dir(tmp: Path, out: Path) -> None:
    """Move ``tmp`` to ``out``, replacing a previous dataset there (rename, then delete the old)."""
    old = out.with_name(out.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def given_gbuffers(cap, cam_index: int) -> dict[str, np.ndarray]:
    """G-buffers from a camera's ``gbuffer`` files (single-view photometric stereo), read and
    checked by :func:`neutex.capture.read_camera_gbuffer` (normal, uv, mask; optional position,
    depth).

    Without a ``position`` file, position is the image plane at camera z = 0 for orthographic
    cameras (z = 1 for pinhole ones): the depth is unknown, which is exact for directional
    lights only. Without a ``depth`` file, depth is that plane's z. Every buffer is zeroed off
    the mask.
    """
    cam = cap.cameras[cam_index]
    H, W = cam.height, cam.width
    g = read_camera_gbuffer(cap, cam, f"cameras[{cam_index}].gbuffer")
    mask = g["mask"]
    m = mask[..., None]
    jj, ii = np.mgrid[0:H, 0:W].astype(np.float64)
    if cam.model == "orthographic":
        z = 0.0
        pc = np.stack([(ii - cam.center[0]) / cam.scale[0], (jj - cam.center[1]) / cam.scale[1], np.zeros_like(ii)], -1)
    else:
        z = 1.0
        pc = np.stack([ii, jj, np.ones_like(ii)], -1) @ np.linalg.inv(cam.K).T
    if "position" not in g:
        c2w = cam.camera_to_world
        g["position"] = pc @ c2w[:3, :3].T + c2w[:3, 3]
    if "depth" not in g:
        g["depth"] = np.full((H, W), z)
    normal = g["normal"] / np.maximum(np.linalg.norm(g["normal"], axis=-1, keepdims=True), 1e-12)
    return {"uv": np.where(m, g["uv"], 0.0), "normal": np.where(m, normal, 0.0), "position": np.where(m, g["position"], 0.0),
            "mask": mask, "depth": np.where(mask, g["depth"], 0.0)}


class _Progress:
    """A rich progress bar with ETA (or nothing)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.bar = None
        if enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self.bar = Progress(TextColumn("[bold]prepare[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), transient=False)
            self.task = self.bar.add_task("", total=total)
            self.bar.start()

    def step(self, what: str, n: int = 1) -> None:
        if self.bar:
            self.bar.update(self.task, advance=n, description=what)

    def close(self) -> None:
        if self.bar:
            self.bar.stop()


def prepare_capture(cfg: PrepareConfig, log: Callable[[str], Any] | None = None) -> Path:
    """Write the prepared dataset of ``cfg.capture`` into ``cfg.out`` (see docs/prepared.md).

    Returns:
        The output folder.

    Raises:
        CaptureError: the capture or one of its files is invalid (naming the field, e.g.
            ``frames[3].image: ...``).
        DataError: cameras of different sizes, a bad split, or an output folder that is not ours.
    """
    log = log or (lambda s: None)
    cfg.validate()
    cap = load_capture(cfg.capture)
    # every file is inside the capture folder and exists; pixels are checked while loading
    validate_files(cap, check_pixels=False, allow_outside=cfg.allow_outside_paths)
    cameras = list(cap.cameras)
    W, H = cameras[0].width, cameras[0].height
    for i, c in enumerate(cameras):
        if (c.width, c.height) != (W, H):
            raise DataError(f"cameras[{i}] ({c.id}): image size {c.width}x{c.height} differs from cameras[0] "
                            f"({cameras[0].id}) {W}x{H}; all cameras must share one image size",
                            hint="resize or crop the images (and adjust K) so every camera has the same size")
    lights = [cap.light(i) for i in cap.stage_light_ids]
    view_ids, light_ids = [c.id for c in cameras], [l.id for l in lights]
    if cfg.split is not None:
        split = load_split_file(cfg.split, view_ids, light_ids)
        split_extra = {"source": "file", "split_file": str(Path(cfg.split).resolve()), "seed": None,
                       "view_fraction": None, "light_fraction": None}
    else:
        split = make_split(view_ids, light_ids, cfg.view_fraction, cfg.light_fraction, cfg.seed)
        split_extra = {"source": "seeded", "seed": cfg.seed, "view_fraction": cfg.view_fraction,
                       "light_fraction": cfg.light_fraction}

    out = Path(cfg.out)
    _check_out(out)
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    V = len(cameras)
    vi = {c.id: i for i, c in enumerate(cameras)}
    li = {l.id: i for i, l in enumerate(lights)}
    n_seq = sum(len(s.frames) for s in cap.sequences) + sum(len(e.frames) for e in cap.environments)
    progress = _Progress(cfg.progress, V + len(cap.frames) + n_seq)
    try:
        writer = PreparedWriter(tmp, cameras, lights, W, H)
        meta: dict[str, Any] = {"source": {"capture": str((cap.root / "capture.json").resolve()), "mesh": cap.mesh,
                                           "generator": cap.generator},
                                "color": {"source_color_space": cap.color_space}, "up": np.asarray(cap.up).tolist(),
                                "config": _config_json(cfg)}
        # --- G-buffers
        need_mesh = [i for i, c in enumerate(cameras) if not c.gbuffer]
        if need_mesh:
            if not cap.mesh:
                raise CaptureError(f"mesh: missing, and cameras[{need_mesh[0]}] gives no gbuffer")
            try:
                mesh = load_mesh(cap.root / cap.mesh)
            except CaptureError as exc:
                raise CaptureError(f"mesh: {exc}") from None
            unwrapped = mesh.uvs is None
            if unwrapped:
                log(f"{cap.mesh}: no uvs; unwrapping with xatlas ({len(mesh.faces)} faces)")
                mesh = unwrap_uvs(mesh, max_faces=cfg.unwrap_max_faces)
            save_mesh(mesh, tmp / "mesh.obj")
            meta.update({"mesh": "mesh.obj", "mesh_unwrapped": unwrapped,
                         "mesh_stats": {"vertices": int(len(mesh.vertices)), "faces": int(len(mesh.faces))}})
            with Rasterizer() as rast:
                for v in need_mesh:
                    writer.set_gbuffer(v, rast.render(mesh, cameras[v]), "mesh")
                    progress.step(f"G-buffer {cameras[v].id}")
        for v, c in enumerate(cameras):
            if c.gbuffer:
                writer.set_gbuffer(v, given_gbuffers(cap, v), "given")
                progress.step(f"G-buffer {c.id}")
        # --- frame masks are validity masks, ANDed with the view's object mask. When every frame
        # of a view gives the same mask file, it is folded into mask.npy (same meaning, no
        # [V, L, H, W] array); otherwise it goes per frame into valid.npy.
        view_mask_file: dict[int, str] = {}
        for v in range(V):
            files = {f.mask for f in cap.frames if vi[f.camera] == v}
            if len(files) == 1 and None not in files:
                view_mask_file[v] = files.pop()
        for i, f in enumerate(cap.frames):
            v = vi[f.camera]
            if view_mask_file.get(v) == f.mask and f.mask and not writer.mask_applied(v):
                m = _read_checked(read_mask, cap, f"frames[{i}].mask", f.mask, cameras[v])
                if not m.any():
                    raise CaptureError(f"frames[{i}].mask: {f.mask} is empty (no pixel above half scale), so "
                                       f"view {f.camera} would have no object pixel",
                                       hint="a mask is white (> 50 %) on the object; check the file")
                writer.and_mask(v, m)
        _check_views_see_the_object(writer.arrays["mask"], cameras, view_mask_file)
        # --- images
        for i, f in enumerate(cap.frames):
            v, l = vi[f.camera], li[f.light]
            where = f"frames[{i}].image"
            img, saturated = _read_checked(lambda p: read_image(p, cap.color_space, return_max=True), cap, where,
                                           f.image, cameras[v])
            _check_range(img, where, f.image, FLOAT16_MAX)
            valid = ~saturated
            if f.mask and f.mask != view_mask_file.get(v):
                frame_mask = _read_checked(read_mask, cap, f"frames[{i}].mask", f.mask, cameras[v])
                if not (frame_mask & writer.arrays["mask"][v]).any():
                    raise CaptureError(f"frames[{i}].mask: {f.mask} leaves no object pixel of view {f.camera}",
                                       hint="a frame's mask marks its usable pixels (white); it must overlap the object")
                valid &= frame_mask
            writer.set_image(v, l, img, valid)
            progress.step(f"{f.camera}/{f.light}")
        # --- sequences
        for si, s in enumerate(cap.sequences):
            seq_lights = [cap.light(x) for x in s.lights]
            arr = writer.add_sequence(s.name, vi[s.camera], s.fps, seq_lights, [li.get(x, -1) for x in s.lights], len(s.frames))
            for j, rel in enumerate(s.frames):
                where = f"sequences[{si}].frames[{j}]"
                img = _read_checked(lambda p: read_image(p, cap.color_space), cap, where, rel, cameras[vi[s.camera]])
                _check_range(img, where, rel, FLOAT16_MAX)
                arr[j] = img
                progress.step(f"sequence {s.name}")
            arr.flush()
            del arr
        if writer.white_level() <= 0:
            raise CaptureError("frames: the images are black on the object (the brightest 0.5 % of object pixels "
                               "are 0), so there is nothing to learn and no white level to show it at",
                               hint="check the exposure and the image files (and color_space in capture.json)")
        # --- environment-map ground truth (never trained on)
        if cap.environments:
            meta["environments"] = write_environments(
                cap, tmp, cameras, writer.arrays["mask"],
                lambda where, rel, cam: _in_range(_read_checked(lambda p: read_image(p, cap.color_space), cap, where,
                                                                rel, cam), where, rel),
                progress.step)
        missing = V * len(lights) - int(writer.pairs.sum())
        if missing:
            log(f"{missing} of {V * len(lights)} (view, light) pairs have no image; they are marked in 'pairs'")
        writer.finish(split, split_extra, meta)
        del writer
        progress.close()
        _replace_dir(tmp, out)
    except BaseException:
        progress.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _check_views_see_the_object(mask: np.ndarray, cameras, view_mask_file: dict[int, str]) -> None:
    """Raise unless every view's object mask ``(V, H, W)`` has a pixel: an empty one would
    only fail later, in training, naming no view."""
    for v, c in enumerate(cameras):
        if mask[v].any():
            continue
        if c.gbuffer:
            why = f"its gbuffer mask {c.gbuffer['mask']} is empty"
        elif v in view_mask_file:
            why = f"its frames' mask {view_mask_file[v]} does not overlap the mesh's silhouette"
        else:
            why = "the mesh covers no pixel of this view"
        raise CaptureError(f"cameras[{v}] ({c.id}): no object pixel: {why}",
                           hint="check the camera's world_to_camera and K (the object must be in view), the mesh "
                                "and the masks")


def _config_json(cfg: PrepareConfig) -> dict[str, Any]:
    return config_to_dict(cfg)


def _read_checked(reader, cap, where: str, rel: str, cam):
    """Read a capture file, naming the field on failure and checking the size against ``cam``."""
    try:
        out = reader(cap.root / rel)
    except CaptureError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        if problem == "file not found":
            raise CaptureError(f"{where}: file not found: {rel}") from None
        raise CaptureError(f"{where}: {rel}: {problem}") from None
    arr = out[0] if isinstance(out, tuple) else out
    if arr.shape[:2] != (cam.height, cam.width):
        raise CaptureError(f"{where}: {rel} is {arr.shape[1]}x{arr.shape[0]}, camera {cam.id} is {cam.width}x{cam.height}")
    return out


def _in_range(img: np.ndarray, where: str, rel: str) -> np.ndarray:
    """``img``, after :func:`_check_range` against the prepared arrays' float16 range."""
    _check_range(img, where, rel, FLOAT16_MAX)
    return img


def _check_range(img: np.ndarray, where: str, rel: str, vmax: float) -> None:
    m = float(img.max()) if img.size else 0.0
    if m > vmax:
        raise CaptureError(f"{where}: {rel}: values up to {m:g} exceed the float16 range ({vmax:g})",
                           hint="scale the images (exposure) down before preparing")
