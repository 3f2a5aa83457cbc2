"""Environment-map ground truth in a prepared dataset (docs/prepared.md): written by ``neutex
prepare`` from capture.json's ``environments``, read as :class:`PreparedEnvironment`.

On disk, per environment ``<name>``: ``arrays/env_<name>.npy`` ``(N, H, W, 3)`` float16 linear
(the N cameras' images, in the order of prepared.json's ``environments[i].cameras``) and
``arrays/envmap_<name>.npy`` ``(h, w, 3)`` float32, the lat-long map itself (neutex's
convention, :mod:`neutex.envmap.latlong`), so the dataset is self-contained.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from numpy.lib.format import open_memmap

from neutex.envmap.latlong import EnvMap, read_envmap
from neutex.errors import DataError

@dataclass
class PreparedEnvironment:
    """An environment map and its ground-truth images.

    Attributes:
        name: the environment's name.
        views: ``(N,)`` int64 view indices of its images.
        frames: ``(N, H, W, 3)`` float16 linear ground truth, memory-mapped.
        radiance: ``(h, w, 3)`` float32 lat-long map.
        rotation_deg: the map's rotation about the dataset's up axis.
        up: ``(3,)`` the up axis.
        white_level: the 99.5th percentile of the ground truth's object pixels (its metrics'
            white level: an environment lights the object differently from one stage light).
        generator: how the ground truth was made (renderer, spp).
    """

    name: str
    views: np.ndarray
    frames: np.ndarray
    radiance: np.ndarray
    rotation_deg: float
    up: np.ndarray
    white_level: float
    generator: dict[str, Any]

    def envmap(self):
        """The map as a :class:`neutex.envmap.EnvMap` (rotation and up applied)."""
        return EnvMap(np.asarray(self.radiance, np.float32), self.up, self.rotation_deg, self.name)


def write_environments(cap, root: Path, cameras, masks: np.ndarray, read: Callable[[str, str, Any], np.ndarray],
                       step: Callable[[str], None] = lambda s: None) -> list[dict[str, Any]]:
    """Write every environment of ``cap`` into the prepared folder ``root``.

    Args:
        cap: the :class:`~neutex.capture.Capture`.
        root: the prepared dataset being written.
        cameras: the dataset's cameras, in view order.
        masks: ``(V, H, W)`` bool object masks (for the white level).
        read: ``read(where, rel, camera) -> (H, W, 3)`` linear image, checked (prepare's reader).
        step: progress callback.

    Returns:
        prepared.json's ``environments`` list.
    """
    vi = {c.id: i for i, c in enumerate(cameras)}
    H, W = masks.shape[1:]
    out = []
    for i, env in enumerate(cap.environments):
        try:
            emap = read_envmap(cap.root / env.map, cap.up, env.rotation_deg)
        except Exception as exc:  # CaptureError from the reader: name the field
            raise DataError(f"environments[{i}].map: {env.map}: {getattr(exc, 'problem', None) or exc}") from None
        map_rel = f"arrays/envmap_{env.name}.npy"
        np.save(root / map_rel, emap.radiance.astype(np.float32))
        rel = f"arrays/env_{env.name}.npy"
        arr = open_memmap(root / rel, "w+", np.float16, (len(env.frames), H, W, 3))
        samples = []
        for j, f in enumerate(env.frames):
            v = vi[f.camera]
            where = f"environments[{i}].frames[{j}].image"
            arr[j] = img = read(where, f.image, cameras[v])  # read: checked, float16 range included
            if masks[v].any():
                samples.append(img[masks[v]].max(-1))
            step(f"environment {env.name}")
        arr.flush()
        del arr
        white = float(np.percentile(np.concatenate(samples), 99.5)) if samples else 1.0
        out.append({"name": env.name, "file": rel, "map_file": map_rel, "map_shape": list(emap.radiance.shape),
                    "rotation_deg": float(env.rotation_deg), "cameras": [f.camera for f in env.frames],
                    "views": [vi[f.camera] for f in env.frames], "white_level": white,
                    "source_map": env.map, "generator": env.generator})
    return out


def open_environments(data, load_array: Callable[[Path, str, tuple, str], np.ndarray]) -> list[PreparedEnvironment]:
    """The environments listed in a :class:`~neutex.data.PreparedData`'s prepared.json, each
    array memory-mapped by ``load_array(root, rel, shape, dtype)`` (the dataset's own checked
    reader, passed in so that this module does not import the one that imports it)."""
    out = []
    for e in data.meta.get("environments", []):
        n = len(e["views"])
        frames = load_array(data.root, e["file"], (n, data.height, data.width, 3), "float16")
        radiance = load_array(data.root, e["map_file"], tuple(e["map_shape"]), "float32")
        out.append(PreparedEnvironment(e["name"], np.asarray(e["views"], np.int64), frames, radiance,
                                       float(e.get("rotation_deg", 0.0)), data.up, float(e["white_level"]),
                                       dict(e.get("generator") or {})))
    return out
