"""What the viewer draws, without any web code: frames of a trained run for any camera pose and
any light (a point light, a stage light, a captured sequence's light, an environment map),
with ground truth and error where the view and light match captured ones (docs/viewer.md).

Everything that depends on the camera only — the G-buffers (rasterized with OpenGL for a new
pose, or the prepared ones of a captured view), the view directions and the sampled neural
texture — is computed once per pose and kept in a small LRU cache, so a frame under a moving
light costs its light-dependent inputs and one UNet pass.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from neutex.capture.mesh import load_mesh
from neutex.capture.schema import Camera
from neutex.data.loader import GBufferTensors
from neutex.envmap.presets import PRESET_NAMES, make_envmap
from neutex.envmap.sampling import EnvLights, cell_directions, cell_irradiance, sample_envmap
from neutex.errors import DataError
from neutex.eval.metrics import image_metrics
from neutex.gbuffer.raster import Rasterizer
from neutex.gbuffer.shadow import ShadowCaster
from neutex.render.envlight import light_weights, reference_irradiance
from neutex.render.pipeline import frame_errors
from neutex.render.video import error_heatmap, to_uint8
from neutex.run.evaluate import measure_sweep, sweep_jobs
from neutex.run.predict import FrameRenderer

Display = Literal["prediction", "ground truth", "error"]


@dataclass
class ViewCache:
    """The light-independent part of one camera pose: a one-view geometry batch and the
    sampled texture features. ``view`` is the dataset view index when the pose is a captured
    camera's (then the prepared G-buffers are used), else None."""

    camera: Camera
    batch: dict[str, torch.Tensor]
    features: torch.Tensor | None
    view: int | None
    #: (K, up) -> the fixed world cells' directions ``(K, 3)`` (:func:`cell_directions`) and
    #: their one-light frames ``(K, 3, H, W)`` at the reference irradiance: any map with that
    #: up axis, at any rotation, is a weighted sum of those frames.
    cell_frames: dict[tuple, tuple[np.ndarray, torch.Tensor]] = field(default_factory=dict)


@dataclass
class Lighting:
    """The light of a frame.

    ``kind``: ``point`` (``source`` (4,) homogeneous, ``intensity`` (3,)), ``stage`` (stage
    light ``index``), ``sequence`` (``name``, frame ``index``), ``envmap`` (``name``,
    ``rotation_deg``, ``samples``; ``fixed_cells``: light the map from ``samples`` cells fixed
    in the world whose frames are cached per pose, so turning the map re-weights them instead
    of rendering ``samples`` new frames: the viewer's preview while the map turns).
    """

    kind: Literal["point", "stage", "sequence", "envmap"] = "point"
    source: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 3.0, 1.0]))
    intensity: np.ndarray = field(default_factory=lambda: np.full(3, 20.0))
    index: int = 0
    name: str = ""
    rotation_deg: float = 0.0
    samples: int = 64
    fixed_cells: bool = False


def camera_from_pose(position, wxyz, fov_y: float, height: int, aspect: float, cid: str = "viewer") -> Camera:
    """A pinhole :class:`Camera` from a viewer pose: ``position`` (3,), ``wxyz`` the rotation
    camera -> world in the OpenCV convention (x right, y down, z forward), vertical field of
    view ``fov_y`` (radians), image ``height`` and width ``round(height · aspect)``.

    Examples:
        >>> c = camera_from_pose([0, -3, 0], [0.7071068, -0.7071068, 0, 0], math.radians(40), 64, 1.0)
        >>> (np.round(c.forward_world, 5) + 0.0).tolist(), c.width
        ([0.0, 1.0, 0.0], 64)
    """
    w, x, y, z = (float(v) for v in wxyz)
    n = math.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / n, x / n, y / n, z / n
    r = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                  [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                  [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    c2w = np.eye(4)
    c2w[:3, :3], c2w[:3, 3] = r, np.asarray(position, float)
    width = max(8, int(round(height * aspect)))
    f = (height / 2) / math.tan(fov_y / 2)
    K = np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1.0]])
    return Camera(cid, width, int(height), np.linalg.inv(c2w), "pinhole", K=K)


def wxyz_of(camera: Camera) -> np.ndarray:
    """``(4,)`` the camera -> world rotation of ``camera`` as a quaternion (w, x, y, z).

    Examples:
        >>> c = camera_from_pose([1, 2, 3], [0.5, 0.5, -0.5, 0.5], 1.0, 8, 1.0)
        >>> np.round(wxyz_of(c), 6).tolist()
        [0.5, 0.5, -0.5, 0.5]
    """
    m = camera.camera_to_world[:3, :3]
    t = np.trace(m)
    if t > 0:
        s = math.sqrt(t + 1.0) * 2
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = math.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k]) * 2
        q = [0.0] * 4
        q[0] = (m[k, j] - m[j, k]) / s
        q[1 + i] = 0.25 * s
        q[1 + j] = (m[j, i] + m[i, j]) / s
        q[1 + k] = (m[k, i] + m[i, k]) / s
    q = np.asarray(q, float)
    return q if q[0] >= 0 else -q


def fov_y_of(camera: Camera) -> float:
    """Vertical field of view (radians) of a pinhole camera."""
    return 2 * math.atan(camera.height / 2 / float(camera.K[1, 1]))


class ViewerEngine:
    """Renders frames of a loaded run (:class:`neutex.run.LoadedRun`) for the viewer.

    Args:
        loaded: the run.
        amp: autocast dtype (``torch.bfloat16`` on the CPU: about twice as fast), or None.
        cache_size: camera poses kept (G-buffers + sampled texture).
        envmaps: extra maps by name (:class:`neutex.envmap.EnvMap`); the procedural presets and
            the dataset's environments are always offered.
    """

    def __init__(self, loaded, amp: torch.dtype | None = torch.bfloat16, cache_size: int = 16,
                 envmaps: dict[str, Any] | None = None) -> None:
        self.loaded = loaded
        self.data = loaded.data
        self.model = loaded.model.eval()
        self.device = loaded.device
        self.amp = amp
        self.white = float(loaded.white)
        self.cache_size = cache_size
        self._cache: OrderedDict[Any, ViewCache] = OrderedDict()
        self._rasters: dict[int, Any] = {}
        self._shadows: dict[int, Any] = {}
        self._mesh = None
        self._lock = threading.RLock()
        self.e_ref = reference_irradiance(self.data.light_sources, self.data.light_intensities)
        self.envmaps: dict[str, Any] = {}
        for e in self.data.environments:
            self.envmaps[e.name] = e.envmap()
        for name in PRESET_NAMES:
            self.envmaps.setdefault(name, make_envmap(name, 64, self.data.up))
        self.envmaps.update(envmaps or {})
        self._lights_cache: dict[tuple, Any] = {}
        self._seq_metrics: dict[str, dict] = {}
        if self.device.type == "cpu":
            getattr(self.model, "renderer", self.model).to(memory_format=torch.channels_last)

    # ---------------------------------------------------------------- cameras
    @property
    def can_move_camera(self) -> bool:
        """Whether new camera poses can be rendered (a mesh to rasterize)."""
        return self.data.mesh_path is not None

    def match_view(self, camera: Camera, tol: float = 1e-3) -> int | None:
        """The captured view ``camera`` looks through (same pose and vertical field of view), or None."""
        for i, c in enumerate(self.data.cameras):
            if c.model != "pinhole" or camera.model != "pinhole":
                continue
            if np.allclose(c.world_to_camera, camera.world_to_camera, atol=tol * 10) and \
                    abs(fov_y_of(c) - fov_y_of(camera)) < tol:
                return i
        return None

    def view_cache(self, camera: Camera | int) -> ViewCache:
        """The cached light-independent part of a pose: a captured view (an index) or a camera."""
        with self._lock:
            if isinstance(camera, (int, np.integer)):
                key: Any = ("view", int(camera))
            else:
                key = ("cam", camera.width, camera.height, np.round(camera.world_to_camera, 6).tobytes(),
                       np.round(camera.K, 4).tobytes())
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            if key[0] == "view":
                view = int(camera)
                t = GBufferTensors.of(self.data, self.device)
                cam = self.data.cameras[view]
            else:
                view, cam = None, camera
                t = GBufferTensors.from_gbuffers([self._rasterizer().render(self._mesh, camera)], [camera], self.device)
            with torch.inference_mode():
                b, feats = self._renderer().view_state(t, 0 if view is None else view)
            vc = ViewCache(cam, b, feats, view)
            self._cache[key] = vc
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
            return vc

    # An OpenGL context is current in one thread at a time, and the viewer renders in its own
    # thread: the rasterizer and the shadow caster are made per thread, in the thread that uses them.
    @property
    def _raster(self):
        return self._rasters.get(threading.get_ident())

    def _mesh_once(self):
        """The dataset's mesh, read once for every thread's rasterizer and shadow caster."""
        with self._lock:
            if self._mesh is None:
                if self.data.mesh_path is None:
                    raise DataError(f"{self.data.root}: no mesh.obj; only the captured views can be shown")
                self._mesh = load_mesh(self.data.mesh_path)
            return self._mesh

    def _rasterizer(self):
        key = threading.get_ident()
        if key not in self._rasters:
            self._mesh_once()
            self._rasters[key] = Rasterizer()
        return self._rasters[key]

    def shadows(self):
        """This thread's shadow caster when the model uses cast shadows, else None."""
        if getattr(self.loaded, "shadows", None) is None:
            return None
        key = threading.get_ident()
        if key not in self._shadows:
            self._shadows[key] = ShadowCaster(self._mesh_once())
        return self._shadows[key]

    def close(self) -> None:
        """Release the OpenGL contexts (each in any thread: release needs no current context)."""
        for r in list(self._rasters.values()) + list(self._shadows.values()):
            if r is not None:
                r.release()
        self._rasters.clear()
        self._shadows.clear()

    # ---------------------------------------------------------------- lights
    def lights_of(self, lighting: Lighting) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(sources (K, 4), intensities (K, 3), weights (K, 3) or None)`` for a lighting; the
        frames under them, times the weights, sum to the image (one frame when weights is None)."""
        d = self.data
        if lighting.kind == "stage":
            i = int(lighting.index)
            return d.light_sources[i:i + 1].astype(np.float64), d.light_intensities[i:i + 1], None
        if lighting.kind == "sequence":
            s = d.sequence(lighting.name)
            t = int(np.clip(lighting.index, 0, len(s.sources) - 1))
            return s.sources[t:t + 1].astype(np.float64), s.intensities[t:t + 1], None
        if lighting.kind == "envmap":
            env = self.envmaps[lighting.name]
            key = (lighting.name, int(lighting.samples))
            if key not in self._lights_cache:
                self._lights_cache[key] = sample_envmap(env, lighting.samples)
            lights = self._lights_cache[key].rotated(lighting.rotation_deg, env.up)
            return lights.sources, np.tile(self.e_ref, (len(lights), 1)), light_weights(lights, self.e_ref)
        return np.asarray(lighting.source, float)[None], np.asarray(lighting.intensity, float)[None], None

    # ---------------------------------------------------------------- frames
    @torch.inference_mode()
    def render_linear(self, vc: ViewCache, lighting: Lighting, batch_size: int = 8) -> torch.Tensor:
        """``(3, H, W)`` float32 linear prediction of a pose under a lighting, 0 off the object."""
        if lighting.kind == "envmap" and lighting.fixed_cells:
            return self._fixed_cell_frame(vc, lighting, batch_size)
        src, inten, weights = self.lights_of(lighting)
        out = torch.zeros(3, *vc.batch["mask"].shape[-2:], device=self.device)
        for i, pred in self._one_light_frames(vc, src, inten, batch_size):
            if weights is not None:
                pred = pred * torch.as_tensor(weights[i:i + len(pred)], dtype=torch.float32,
                                              device=pred.device)[:, :, None, None]
            out += pred.sum(0)
        return out.cpu()

    def _renderer(self, batch_size: int = 8) -> FrameRenderer:
        """A :class:`FrameRenderer` with this thread's shadow caster (a GL context is per thread)."""
        return FrameRenderer(self.model, self.loaded.encoding, self.device, self.amp, batch_size, self.shadows())

    def _one_light_frames(self, vc: ViewCache, src: np.ndarray, inten: np.ndarray, batch_size: int):
        """``(first index, (b, 3, H, W) float32 linear frames)`` of a pose under each light."""
        frames = self._renderer(batch_size).lit(
            vc.batch, vc.features, torch.as_tensor(np.asarray(src), dtype=torch.float32, device=self.device),
            torch.as_tensor(np.asarray(inten), dtype=torch.float32, device=self.device))
        i = 0
        for pred in frames:
            yield i, pred
            i += len(pred)

    def _fixed_cell_frame(self, vc: ViewCache, lighting: Lighting, batch_size: int) -> torch.Tensor:
        env = self.envmaps[lighting.name]
        key = (int(lighting.samples), tuple(np.round(np.asarray(env.up, float), 9)))
        with self._lock:
            cached = vc.cell_frames.get(key)
        if cached is None:  # once per pose, K and up axis: the frames do not depend on the map
            dirs = cell_directions(key[0], env.up)
            src = np.concatenate([dirs, np.zeros((len(dirs), 1))], 1)
            frames = torch.cat([f for _, f in self._one_light_frames(vc, src, np.tile(self.e_ref, (len(dirs), 1)),
                                                                      batch_size)])
            cached = (dirs, frames)
            with self._lock:
                vc.cell_frames[key] = cached
        dirs, frames = cached
        lights = EnvLights(dirs, cell_irradiance(env, key[0], lighting.rotation_deg), "fixed_cells", key[0])
        w = torch.as_tensor(light_weights(lights, self.e_ref), dtype=torch.float32, device=frames.device)
        return torch.einsum("kc,kchw->chw", w, frames).cpu()

    def ground_truth(self, vc: ViewCache, lighting: Lighting) -> np.ndarray | None:
        """``(H, W, 3)`` float32 linear ground truth when the pose is a captured view and the
        light a captured one (a stage light with an image, a sequence frame, or an environment
        with ground truth at this view); else None."""
        v = vc.view
        if v is None:
            return None
        d = self.data
        if lighting.kind == "stage" and d.pair_exists[v, lighting.index]:
            return np.asarray(d.images[v, lighting.index], np.float32)
        if lighting.kind == "sequence":
            s = d.sequence(lighting.name)
            if s.view == v:
                return np.asarray(s.frames[int(np.clip(lighting.index, 0, len(s.frames) - 1))], np.float32)
        if lighting.kind == "envmap" and abs(lighting.rotation_deg) < 1e-6:
            for e in d.environments:
                if e.name == lighting.name and abs(e.rotation_deg) < 1e-6 and v in e.views.tolist():
                    return np.asarray(e.frames[e.views.tolist().index(v)], np.float32)
        return None

    def frame(self, camera: Camera | int, lighting: Lighting, display: Display = "prediction",
              exposure: float = 0.0) -> tuple[np.ndarray, dict[str, Any]]:
        """A display frame ``(H, W, 3)`` uint8 and what it shows: ``{"ms", "view" (captured view
        id or None), "has_gt", "display" (what was drawn), "psnr", "psnr_tonemapped" (with
        ground truth)}``. A camera that :meth:`match_view` recognises at the dataset's image
        size is drawn from the prepared G-buffers of that view."""
        t0 = time.perf_counter()
        if not isinstance(camera, (int, np.integer)):
            m = self.match_view(camera)
            if m is not None and (camera.width, camera.height) == (self.data.width, self.data.height):
                camera = m
        vc = self.view_cache(camera)
        pred = self.render_linear(vc, lighting)
        gt = self.ground_truth(vc, lighting)
        info: dict[str, Any] = {"view": None if vc.view is None else self.data.view_ids[vc.view],
                                "has_gt": gt is not None, "display": "prediction"}
        white = self.white
        if lighting.kind == "envmap":
            env_white = [e.white_level for e in self.data.environments if e.name == lighting.name]
            white = env_white[0] if env_white else white
        img = None
        if gt is not None:
            mask = vc.batch["mask"][0, 0].cpu().numpy() > 0
            g = torch.from_numpy(gt).permute(2, 0, 1) * torch.from_numpy(mask)
            mt = image_metrics(pred[None], g[None], torch.from_numpy(mask)[None, None], white=white)
            info["psnr"] = float(mt["psnr"][0])
            info["psnr_tonemapped"] = float(mt["psnr_tonemapped"][0])
            if display == "ground truth":
                img = to_uint8(g, white, exposure)
            elif display == "error":
                img = error_heatmap(pred.permute(1, 2, 0).numpy(), g.permute(1, 2, 0).numpy(), mask)
            if img is not None:
                info["display"] = display
        if img is None:
            img = to_uint8(pred, white, exposure)
        info["ms"] = (time.perf_counter() - t0) * 1e3
        return img, info

    # ---------------------------------------------------------------- sequences
    def sequence_metrics(self, name: str) -> dict[str, Any]:
        """Per-frame metrics of a captured sequence (:func:`neutex.run.evaluate.measure_sweep`),
        computed once: ``{"frames", "psnr" [T], "tde_t" [T], "flagged", "tde_rel", "jump_index"}``."""
        if name not in self._seq_metrics:
            job = next(j for j in sweep_jobs(self.data) if j.name == name)
            renderer = FrameRenderer(self.model, self.loaded.encoding, self.device, self.amp, 8, self.shadows())
            m = measure_sweep(renderer, self.data, job)
            err = frame_errors(m["pred"], m["gt"], m["mask"], self.white)
            curves = m["temporal"]["curves"]
            self._seq_metrics[name] = {"frames": len(job.sources), "psnr": err["psnr"],
                                       "tde_t": curves.get("tde_t"),
                                       "flagged": [f["frame"] for f in m["temporal"]["flagged_frames"]],
                                       "tde_rel": m["temporal"].get("tde_rel"),
                                       "jump_index": m["temporal"].get("jump_index")}
        return self._seq_metrics[name]
