"""The prepared dataset on disk (format ``neutex-prepared/1``, see docs/prepared.md): the one
writer (:class:`PreparedWriter`) and the one reader (:class:`PreparedData`).

Arrays are plain ``.npy`` files, memory-mapped when read. Shapes: V views (cameras, in
``cameras`` order), L stage lights (lights used by frames, in ``lights`` order), H x W pixels.
This module needs numpy only; torch tensors of the G-buffers come from
:meth:`neutex.data.loader.GBufferTensors.of`.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.format import open_memmap

from neutex import __version__
from neutex.capture.keys import FILE_NAME_PART
from neutex.capture.schema import GBUFFER_KEYS, Camera, Light
from neutex.data.environments import open_environments
from neutex.data.splits import BUCKETS, Split, held_out_parts
from neutex.errors import DataError
from neutex.jsonio import read_json_object, write_json_atomic

FORMAT = "neutex-prepared/1"

#: largest finite float16 value; brighter pixels cannot be stored.
FLOAT16_MAX = 65504.0



#: per G-buffer (:data:`~neutex.capture.schema.GBUFFER_KEYS`): trailing shape and dtype of its array.
_GBUFFER_LAYOUT: dict[str, tuple[tuple[int, ...], str]] = {
    "uv": ((2,), "float32"), "normal": ((3,), "float32"), "position": ((3,), "float32"), "mask": ((), "bool"),
    "depth": ((), "float32"),
}


def gbuffer_specs(V: int, H: int, W: int) -> dict[str, tuple[tuple[int, ...], str]]:
    """name -> (shape, dtype) of the per-view G-buffer arrays, in :data:`~neutex.capture.schema.GBUFFER_KEYS` order.

    Examples:
        >>> gbuffer_specs(2, 4, 8)["uv"]
        ((2, 4, 8, 2), 'float32')
    """
    return {k: ((V, H, W, *_GBUFFER_LAYOUT[k][0]), _GBUFFER_LAYOUT[k][1]) for k in GBUFFER_KEYS}


def camera_from_json(d: dict[str, Any]) -> Camera:
    """A camera as written in prepared.json (``Camera.to_json``) -> :class:`Camera`."""
    w2c = np.asarray(d["world_to_camera"], np.float64)
    if d.get("model", "pinhole") == "pinhole":
        return Camera(d["id"], int(d["width"]), int(d["height"]), w2c, "pinhole", K=np.asarray(d["K"], np.float64),
                      gbuffer=d.get("gbuffer"))
    return Camera(d["id"], int(d["width"]), int(d["height"]), w2c, "orthographic", scale=tuple(d["scale"]),
                  center=tuple(d["center"]), gbuffer=d.get("gbuffer"))


def light_from_json(d: dict[str, Any]) -> Light:
    """A light as written in prepared.json (``Light.to_json``) -> :class:`Light`."""
    inten = np.asarray(d.get("intensity", [1.0, 1.0, 1.0]), np.float64)
    if d["type"] == "point":
        return Light(d["id"], "point", inten, position=np.asarray(d["position"], np.float64))
    return Light(d["id"], "directional", inten, direction=np.asarray(d["direction"], np.float64))


def intensities_of(lights: list[Light]) -> np.ndarray:
    """``(N, 3)`` float32 RGB intensities of a list of lights."""
    if not lights:
        return np.zeros((0, 3), np.float32)
    return np.stack([np.asarray(l.intensity, np.float32) for l in lights])


def sources_of(items: list[Light] | list[Camera]) -> np.ndarray:
    """``(N, 4)`` float32 homogeneous sources (``Light.source`` / ``Camera.source``) of a list
    of lights or cameras."""
    if not items:
        return np.zeros((0, 4), np.float32)
    return np.stack([x.source for x in items]).astype(np.float32)


# ============================================================================ writer


class PreparedWriter:
    """Writes a prepared dataset into ``root`` incrementally (arrays are ``open_memmap``\\ s).

    Call :meth:`set_gbuffer` per view, :meth:`set_image` per (view, light) pair,
    :meth:`add_sequence` per sequence, then :meth:`finish`. Pairs never set stay zero and are
    marked missing in ``pairs``.
    """

    def __init__(self, root: str | Path, cameras: list[Camera], lights: list[Light], width: int, height: int) -> None:
        self.root = Path(root)
        (self.root / "arrays").mkdir(parents=True, exist_ok=True)
        self.cameras, self.lights = list(cameras), list(lights)
        self.V, self.L, self.H, self.W = len(cameras), len(lights), int(height), int(width)
        self._open = open_memmap
        self.arrays: dict[str, np.ndarray] = {}
        for name, (shape, dtype) in gbuffer_specs(self.V, self.H, self.W).items():
            self.arrays[name] = open_memmap(self.root / "arrays" / f"{name}.npy", "w+", dtype, shape)
        self.arrays["images"] = open_memmap(self.root / "arrays" / "images.npy", "w+", np.float16,
                                            (self.V, self.L, self.H, self.W, 3))
        self.pairs = np.zeros((self.V, self.L), bool)
        self.valid: np.ndarray | None = None  # created on the first invalid pixel
        self.invalid_pixels = 0
        self.sequences: list[dict[str, Any]] = []
        self.gbuffer_source = ["mesh"] * self.V
        self._masked: set[int] = set()
        self._white_samples: list[np.ndarray] = []
        self._rng = np.random.default_rng(0)

    def set_gbuffer(self, view: int, g: dict[str, np.ndarray], source: str = "mesh") -> None:
        """Store one view's G-buffers (keys uv, normal, position, mask, depth; ``(H, W, ...)``)."""
        for name in gbuffer_specs(1, 1, 1):
            want = self.arrays[name].shape[1:]
            got = np.shape(g[name])
            if got != want:
                raise DataError(f"view {self.cameras[view].id}: {name} buffer is {got}, expected {want}")
            self.arrays[name][view] = g[name]
        self.gbuffer_source[view] = source

    def mask_applied(self, view: int) -> bool:
        """Whether :meth:`and_mask` was called for ``view``."""
        return view in self._masked

    def and_mask(self, view: int, mask: np.ndarray) -> None:
        """Restrict a view's mask (e.g. by a mask file shared by all its frames); buffers off
        the mask are zeroed."""
        self._masked.add(view)
        m = self.arrays["mask"][view] & mask
        self.arrays["mask"][view] = m
        for name in ("uv", "normal", "position", "depth"):
            self.arrays[name][view] *= m.reshape(m.shape + (1,) * (self.arrays[name].ndim - 3))

    def set_image(self, view: int, light: int, img: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Store one linear ``(H, W, 3)`` image; ``valid`` ``(H, W)`` bool marks usable pixels
        (False: saturated, or outside this frame's own mask)."""
        self.arrays["images"][view, light] = img
        self.pairs[view, light] = True
        if valid is not None and not valid.all():
            if self.valid is None:
                self.valid = self._open(self.root / "arrays" / "valid.npy", "w+", np.bool_, (self.V, self.L, self.H, self.W))
                self.valid[:] = True
            self.valid[view, light] = valid
            self.invalid_pixels += int((~valid).sum())
        m = self.arrays["mask"][view]
        if m.any():  # a sample of object pixels, for the white level
            vals = img[m].max(-1)
            k = int(np.clip(1_000_000 // max(1, self.V * self.L), 16, 2048))  # <= ~1M samples in all
            if len(vals) > k:
                vals = vals[self._rng.choice(len(vals), k, replace=False)]
            self._white_samples.append(vals.astype(np.float32))

    def add_sequence(self, name: str, view: int, fps: float, lights: list[Light], stage_index: list[int],
                     frames: int) -> np.ndarray:
        """Create ``arrays/seq_<name>.npy`` ``(T, H, W, 3)`` float16 and return it for filling."""
        if not FILE_NAME_PART.match(name):
            raise DataError(f"sequence {name!r}: name may only use letters, digits, '_', '-' and '.'")
        if any(s["name"] == name for s in self.sequences):
            raise DataError(f"sequence {name!r}: duplicate name")
        rel = f"arrays/seq_{name}.npy"
        arr = self._open(self.root / rel, "w+", np.float16, (frames, self.H, self.W, 3))
        self.sequences.append({
            "name": name, "camera": self.cameras[view].id, "view": view, "fps": float(fps), "num_frames": frames,
            "file": rel, "light_ids": [l.id for l in lights], "stage_light_index": list(stage_index),
            "lights": [l.to_json() for l in lights],
        })
        return arr

    def white_level(self) -> float:
        """The tone-mapping white: the 99.5th percentile of a sample of object-pixel values of
        the images set so far (1.0 before any)."""
        return float(np.percentile(np.concatenate(self._white_samples), 99.5)) if self._white_samples else 1.0

    def finish(self, split: Split, split_extra: dict[str, Any] | None = None, meta: dict[str, Any] | None = None) -> None:
        """Flush the arrays and write ``arrays/pairs.npy``, ``prepared.json`` and ``splits.json``."""
        np.save(self.root / "arrays" / "pairs.npy", self.pairs)
        arrays_meta = {}
        for name, arr in self.arrays.items():
            arr.flush()
            arrays_meta[name] = {"file": f"arrays/{name}.npy", "shape": list(arr.shape), "dtype": str(arr.dtype)}
        arrays_meta["pairs"] = {"file": "arrays/pairs.npy", "shape": [self.V, self.L], "dtype": "bool"}
        if self.valid is not None:
            self.valid.flush()
            arrays_meta["valid"] = {"file": "arrays/valid.npy", "shape": list(self.valid.shape), "dtype": "bool"}
        white = self.white_level()
        view_ids = [c.id for c in self.cameras]
        light_ids = [l.id for l in self.lights]
        d: dict[str, Any] = {
            "format": FORMAT,
            "tool": {"name": "neutex", "version": __version__},
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "width": self.W, "height": self.H, "num_views": self.V, "num_lights": self.L,
            "color": {"space": "linear", "dtype": "float16", "white_level": white},
            "view_ids": view_ids, "light_ids": light_ids,
            "cameras": [c.to_json() for c in self.cameras],
            "lights": [l.to_json() for l in self.lights],
            "gbuffer_source": self.gbuffer_source,
            "num_pairs": int(self.pairs.sum()), "complete": bool(self.pairs.all()),
            "pairs": ["".join("1" if x else "0" for x in row) for row in self.pairs],
            "valid": self.valid is not None, "invalid_pixels": self.invalid_pixels,
            "arrays": arrays_meta,
            "sequences": self.sequences,
        }
        for k, v in (meta or {}).items():
            if k == "color":
                d["color"].update(v)
            else:
                d[k] = v
        counts = {b: int(len(_bucket_pairs(self.pairs, view_ids, light_ids, split, b))) for b in BUCKETS}
        s = {**split.to_json(), **(split_extra or {}), "counts": counts}
        for name, obj in (("splits.json", s), ("prepared.json", d)):
            write_json_atomic(self.root / name, obj)
        self.arrays.clear()
        self.valid = None


def _bucket_pairs(pairs: np.ndarray, view_ids: list[str], light_ids: list[str], split: Split, bucket: str) -> np.ndarray:
    view_held, light_held = held_out_parts(bucket)
    held_v = np.array([v in set(split.held_out_views) for v in view_ids], bool)
    held_l = np.array([l in set(split.held_out_lights) for l in light_ids], bool)
    want_v = held_v if view_held else ~held_v
    want_l = held_l if light_held else ~held_l
    sel = pairs & want_v[:, None] & want_l[None, :]
    return np.argwhere(sel).astype(np.int64)


# ============================================================================ reader


@dataclass
class PreparedSequence:
    """A ground-truth video of a prepared dataset.

    Attributes:
        name: sequence name.
        view: index of its camera in the dataset's views.
        fps: frames per second.
        lights: its lights (full definitions), one per frame.
        stage_light_index: ``(T,)`` int, the index of each light among the stage lights, or -1
            (lights rendered for the sequence only).
        sources: ``(T, 4)`` float32 homogeneous light sources.
        frames: ``(T, H, W, 3)`` float16 linear, memory-mapped.
    """

    name: str
    view: int
    fps: float
    lights: list[Light]
    stage_light_index: np.ndarray
    sources: np.ndarray
    frames: np.ndarray

    @property
    def intensities(self) -> np.ndarray:
        """``(T, 3)`` float32 RGB intensity of each frame's light."""
        return intensities_of(self.lights)


class PreparedData:
    """A prepared dataset opened for reading; arrays stay memory-mapped.

    Attributes:
        root: the folder.
        meta: prepared.json as a dict.
        split: the :class:`~neutex.data.splits.Split`.
        cameras, lights: ``V`` cameras and ``L`` stage lights in array order.
        view_ids, light_ids: their ids.
        width, height: image size.
        uv, normal, position, mask, depth: G-buffer arrays ``[V, H, W, ...]``.
        images: ``[V, L, H, W, 3]`` float16 linear.
        valid: ``[V, L, H, W]`` bool (False: saturated or outside the frame's own mask), or None.
        pair_exists: ``[V, L]`` bool.
        light_sources: ``(L, 4)`` float32 homogeneous sources; camera_sources ``(V, 4)``.
        light_intensities: ``(L, 3)`` float32 RGB intensities of the stage lights.
        seen_views, held_out_views, seen_lights, held_out_lights: int64 index arrays.
        sequences: list of :class:`PreparedSequence`.
    """

    def __init__(self, root: Path, meta: dict[str, Any], split: Split, arrays: dict[str, np.ndarray],
                 sequences: list[PreparedSequence]) -> None:
        self.root = root
        self.meta = meta
        self.split = split
        self.cameras = [camera_from_json(c) for c in meta["cameras"]]
        self.lights = [light_from_json(l) for l in meta["lights"]]
        self.view_ids = [c.id for c in self.cameras]
        self.light_ids = [l.id for l in self.lights]
        self.width, self.height = int(meta["width"]), int(meta["height"])
        self.uv, self.normal, self.position = arrays["uv"], arrays["normal"], arrays["position"]
        self.mask, self.depth, self.images = arrays["mask"], arrays["depth"], arrays["images"]
        self.valid = arrays.get("valid")
        self.pair_exists = np.asarray(arrays["pairs"], bool)
        self.light_sources = sources_of(self.lights)
        self.light_intensities = intensities_of(self.lights)
        self.camera_sources = sources_of(self.cameras)
        vi = {v: i for i, v in enumerate(self.view_ids)}
        li = {l: i for i, l in enumerate(self.light_ids)}
        self.seen_views = np.array([vi[v] for v in split.seen_views], np.int64)
        self.held_out_views = np.array([vi[v] for v in split.held_out_views], np.int64)
        self.seen_lights = np.array([li[l] for l in split.seen_lights], np.int64)
        self.held_out_lights = np.array([li[l] for l in split.held_out_lights], np.int64)
        self.sequences = sequences

    @property
    def up(self) -> np.ndarray:
        """``(3,)`` the capture's world up axis (light sweeps and turntables rotate about it)."""
        return np.asarray(self.meta.get("up", [0.0, 0.0, 1.0]), np.float64)

    @property
    def content_hash(self) -> str:
        """A short hash of prepared.json and splits.json: identifies the dataset a run used."""
        h = hashlib.sha256()
        for name in ("prepared.json", "splits.json"):
            p = self.root / name
            h.update(p.read_bytes() if p.is_file() else b"")
        return h.hexdigest()[:16]

    @property
    def default_intensity(self) -> np.ndarray:
        """``(3,)`` the stage lights' median RGB intensity: the intensity of lights that have
        none of their own (synthetic sweeps, orbits, the viewer's light)."""
        if len(self.light_intensities) == 0:
            return np.ones(3, np.float32)
        return np.median(self.light_intensities, axis=0).astype(np.float32)

    @property
    def num_views(self) -> int:
        return len(self.cameras)

    @property
    def num_lights(self) -> int:
        return len(self.lights)

    @property
    def white_level(self) -> float:
        """A high percentile (99.5 %) of object-pixel values: the tone-mapping white."""
        return float(self.meta.get("color", {}).get("white_level", 1.0))

    @property
    def mesh_path(self) -> Path | None:
        """The mesh exactly as rasterized (with its uvs), or None when G-buffers were given."""
        p = self.root / "mesh.obj"
        return p if p.is_file() else None

    @cached_property
    def environments(self) -> list:
        """Environment-map ground truth (:class:`neutex.data.environments.PreparedEnvironment`),
        opened on first use; empty when the capture had none."""
        return open_environments(self, _load_array)

    def pairs(self, bucket: str) -> np.ndarray:
        """``(N, 2)`` int64 ``(view, light)`` indices of the existing pairs in ``bucket``
        (one of ``train``, ``novel_light``, ``novel_view``, ``novel_both``), sorted."""
        return _bucket_pairs(self.pair_exists, self.view_ids, self.light_ids, self.split, bucket)

    def sequence(self, name: str) -> PreparedSequence:
        for s in self.sequences:
            if s.name == name:
                return s
        raise DataError(f"{self.root}: no sequence named {name!r} (have: {', '.join(s.name for s in self.sequences) or 'none'})")

    def targets(self, views: np.ndarray, lights: np.ndarray) -> np.ndarray:
        """``(B, H, W, 3)`` float16 images of the given pairs (gathered from the memmap)."""
        return self.images[np.asarray(views), np.asarray(lights)]

    @classmethod
    def open(cls, root: str | Path) -> PreparedData:
        """Open a prepared dataset folder, checking that every array exists with its shape.

        Raises:
            DataError: a missing or malformed file, naming it and the expected shape.
        """
        root = Path(root)
        pj = root / "prepared.json"
        if not pj.is_file():
            raise DataError(f"{root}: not a prepared dataset (prepared.json not found)",
                            hint=f"run `neutex prepare CAPTURE --out {root}`")
        meta = _read_json(pj)
        if meta.get("format") != FORMAT:
            raise DataError(f"{pj}: format is {meta.get('format')!r}, expected {FORMAT!r}",
                            hint="re-run `neutex prepare` with this version of neutex")
        s = _read_json(root / "splits.json")
        try:
            split = Split(list(s["seen_views"]), list(s["held_out_views"]), list(s["seen_lights"]), list(s["held_out_lights"]))
            V, L = len(meta["cameras"]), len(meta["lights"])
            H, W = int(meta["height"]), int(meta["width"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{root}: prepared.json or splits.json lacks {exc}") from None
        ids_v = {c["id"] for c in meta["cameras"]}
        ids_l = {l["id"] for l in meta["lights"]}
        for key, ids in (("seen_views", ids_v), ("held_out_views", ids_v), ("seen_lights", ids_l), ("held_out_lights", ids_l)):
            bad = [x for x in getattr(split, key) if x not in ids]
            if bad:
                raise DataError(f"{root / 'splits.json'}: {key}: unknown id {bad[0]!r}")
        want = {**gbuffer_specs(V, H, W), "images": ((V, L, H, W, 3), "float16"), "pairs": ((V, L), "bool")}
        if meta.get("valid"):
            want["valid"] = ((V, L, H, W), "bool")
        arrays = {name: _load_array(root, f"arrays/{name}.npy", shape, dtype) for name, (shape, dtype) in want.items()}
        seqs = []
        for i, sd in enumerate(meta.get("sequences", [])):
            lights = [light_from_json(l) for l in sd["lights"]]
            frames = _load_array(root, sd["file"], (len(lights), H, W, 3), "float16")
            seqs.append(PreparedSequence(sd["name"], int(sd["view"]), float(sd["fps"]), lights,
                                         np.asarray(sd.get("stage_light_index", [-1] * len(lights)), np.int64),
                                         sources_of(lights), frames))
        return cls(root, meta, split, arrays, seqs)


def _read_json(path: Path) -> dict[str, Any]:
    return read_json_object(path, DataError, hint="re-run `neutex prepare`")


def _load_array(root: Path, rel: str, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    path = root / rel
    want = f"{tuple(shape)} {dtype}"
    if not path.is_file():
        raise DataError(f"{path}: file not found (expected {want})", hint="re-run `neutex prepare`")
    try:
        arr = np.load(path, mmap_mode="r")
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: not a readable .npy file ({exc}); expected {want}") from None
    ok_dtype = arr.dtype == np.dtype(dtype) or (dtype == "bool" and arr.dtype == np.uint8)
    if tuple(arr.shape) != tuple(shape) or not ok_dtype:
        raise DataError(f"{path}: expected shape {want}, got {tuple(arr.shape)} {arr.dtype}")
    return arr
