"""Ground truth under an environment map: a capture's views rendered by Mitsuba 3 with its
``envmap`` emitter, stored in capture.json's ``environments`` (docs/synth.md, "Environment maps").

The beauty scene is rebuilt from the capture's own files (``mesh.obj``, ``textures/``) and the
settings recorded by ``neutex synth`` (specular, path length), so environment renders can be
added to any synthetic capture afterwards (``neutex synth --out CAPTURE --envmap MAP
--envmap-only``). The map is copied into the capture (``envmaps/<name>.exr``, float32).

Mitsuba's ``envmap`` convention is mapped onto neutex's lat-long convention by
:func:`neutex.envmap.mitsuba_to_world`; a test pins it (and the whole integration) against
Mitsuba renders of the same object under directional lights.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from neutex.capture.environments import Environment, EnvironmentFrame
from neutex.capture.imageio import write_exr
from neutex.capture.schema import Camera, Capture, load_capture, save_capture
from neutex.envmap.latlong import mitsuba_to_world, read_envmap, write_envmap
from neutex.errors import CaptureError
from neutex.synth.render import _progress
from neutex.synth.scene import build_scene_dict, sensor_key, to_mitsuba
from neutex.synth.stage import pick_sweep_cameras
from neutex.synth.variant import set_variant

ALBEDO_FILE = "textures/albedo.png"
ROUGHNESS_FILE = "textures/roughness.png"


def envmap_emitter_dict(map_file: str | Path, up=(0.0, 0.0, 1.0), rotation_deg: float = 0.0,
                        scale: float = 1.0) -> dict[str, Any]:
    """Mitsuba's ``envmap`` emitter showing a lat-long map in neutex's convention.

    Examples:
        >>> d = envmap_emitter_dict("sky.exr")
        >>> d["type"], (d["to_world"][:3, :3].round(6) + 0.0).tolist()
        ('envmap', [[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    """
    return {"type": "envmap", "filename": str(map_file), "scale": float(scale),
            "to_world": mitsuba_to_world(up, rotation_deg)}


def directional_emitter_dict(direction, irradiance) -> dict[str, Any]:
    """Mitsuba's ``directional`` emitter for a neutex directional light: ``direction`` points
    from the surface towards the light (Mitsuba's points the other way, along the light's
    travel); ``irradiance`` RGB on a surface facing it."""
    d = np.asarray(direction, float)
    return {"type": "directional", "direction": (-d / np.linalg.norm(d)).tolist(),
            "irradiance": {"type": "rgb", "value": [float(x) for x in irradiance]}}


def build_env_scene_dict(mesh_file: str | Path, albedo_file: str | Path, roughness_file: str | Path,
                         cameras: list[Camera], emitter: dict[str, Any], *, spp: int, max_depth: int = 2,
                         specular: float = 0.5) -> dict[str, Any]:
    """The beauty scene of :func:`neutex.synth.scene.build_scene_dict` lit by ``emitter`` (an
    :func:`envmap_emitter_dict` or :func:`directional_emitter_dict`) instead of a point light;
    the emitter itself stays invisible (black background, as the masks assume).

    Examples:
        >>> from neutex.capture import look_at, pinhole_K
        >>> cam = Camera("cam00", 16, 16, look_at([3, 0, 0], [0, 0, 0], [0, 0, 1]), K=pinhole_K(16, 16, 30.0))
        >>> sorted(build_env_scene_dict("m.obj", "a.png", "r.png", [cam], envmap_emitter_dict("e.exr"), spp=4))
        ['integrator', 'light', 'object', 'sensor_cam00', 'type']
    """
    d = build_scene_dict(mesh_file, albedo_file, roughness_file, cameras, spp=spp, max_depth=max_depth,
                         specular=specular)
    d["light"] = emitter
    return d


def _generator_settings(cap: Capture) -> dict[str, Any]:
    cfg = (cap.generator or {}).get("config") or {}
    if (cap.generator or {}).get("tool") != "neutex synth":
        raise CaptureError(f"{cap.root}: not a capture written by `neutex synth` (no generator settings); "
                           "environment ground truth needs its scene")
    for rel in (cap.mesh or "", ALBEDO_FILE, ROUGHNESS_FILE):
        if not rel or not (cap.root / rel).is_file():
            raise CaptureError(f"{cap.root}: {rel or 'mesh'}: file not found (needed to rebuild the scene)")
    return {"specular": float(cfg.get("specular", 0.5)), "max_depth": int(cfg.get("max_depth", 2)),
            "seed": int(cfg.get("seed", 0))}


def environment_views(cap: Capture, count: int) -> list[str]:
    """``count`` cameras for environment renders: held-out and seen views of the default split,
    alternately (as the light sweeps choose theirs)."""
    return pick_sweep_cameras(cap.frame_camera_ids, cap.stage_light_ids, count)


def render_environments(capture: str | Path | Capture, maps: list[str | Path], views: list[str] | int = 4,
                        spp: int = 256, rotation_deg: float = 0.0, variant: str = "auto",
                        progress: bool = True, log=print) -> Capture:
    """Render ``views`` of a synthetic capture under every map and add them to capture.json.

    Args:
        capture: the capture (folder or object); written by ``neutex synth``.
        maps: lat-long HDR maps (.exr, .hdr, .npy); each becomes environment ``<file stem>``
            (replacing one of that name).
        views: camera ids, or how many (:func:`environment_views`).
        spp: samples per pixel (the envmap emitter is importance-sampled by Mitsuba).
        rotation_deg: rotation of the maps about the capture's up axis.

    Returns:
        The updated capture (``environments`` filled, capture.json rewritten).
    """
    cap = capture if isinstance(capture, Capture) else load_capture(capture)
    root = Path(cap.root)
    settings = _generator_settings(cap)
    cam_ids = environment_views(cap, views) if isinstance(views, int) else list(views)
    cams = []
    for c in cam_ids:
        if c not in {x.id for x in cap.cameras}:
            raise CaptureError(f"--envmap-views: no camera {c!r} in {root}")
        cams.append(cap.camera(c))
    mi = set_variant(variant)
    envs = {e.name: e for e in cap.environments}
    t0 = time.perf_counter()
    with _progress(progress) as bar:
        task = bar.add_task("environments", total=len(maps) * len(cams), rate="")
        for mi_k, map_path in enumerate(maps):
            env = read_envmap(map_path, cap.up)
            name = env.name
            rel_map = f"envmaps/{name}.exr"
            write_envmap(root / rel_map, env)
            scene_d = build_env_scene_dict(root / cap.mesh, root / ALBEDO_FILE, root / ROUGHNESS_FILE, cams,
                                           envmap_emitter_dict(root / rel_map, cap.up, rotation_deg), spp=spp,
                                           max_depth=settings["max_depth"], specular=settings["specular"])
            scene = mi.load_dict(to_mitsuba(scene_d, mi))
            sensors = {s.id(): s for s in scene.sensors()}
            frames = []
            for ci, cam in enumerate(cams):
                img = np.array(mi.render(scene, sensor=sensors[sensor_key(cam.id)],
                                         seed=(settings["seed"] * 7919 + 104729 * (mi_k + 1) + ci) % 2**32),
                               dtype=np.float32)[..., :3]
                rel = f"environments/{name}/{cam.id}.exr"
                write_exr(root / rel, img)
                frames.append(EnvironmentFrame(cam.id, rel))
                bar.update(task, advance=1, rate=f"{(bar.tasks[0].completed) / max(time.perf_counter() - t0, 1e-9):.2f} img/s")
            envs[name] = Environment(name, rel_map, float(rotation_deg), frames,
                                     {"spp": int(spp), "renderer": f"mitsuba {mi.__version__} envmap emitter",
                                      "max_depth": settings["max_depth"]})
    cap.environments = list(envs.values())
    save_capture(cap)
    log(f"rendered {len(maps)} environment map(s) x {len(cams)} views ({', '.join(cam_ids)}) at {spp} spp in "
        f"{time.perf_counter() - t0:.1f} s -> {root / 'capture.json'}")
    return cap
