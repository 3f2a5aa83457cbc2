"""Batches for training and rendering: per-pixel geometry for any (view, light source), and a
deterministic, resumable loader over (view, light) pairs.

G-buffers are loaded once as contiguous channels-first tensors and gathered by index; a batch
carries the geometry and the light (source, intensity, optional shadow-map visibility), and
the model computes its light-dependent inputs from them (:mod:`neutex.model.inputs`), so any
light source — a captured light or a point on a rendered light sweep — works the same way. No
DataLoader workers, no per-sample Python work beyond one memmap gather.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch

from neutex.check import check_shape
from neutex.data.prepared import sources_of
from neutex.errors import DataError
from neutex.geometry import directions_to, uv_to_grid


#: :meth:`GBufferTensors.of`'s cache: dataset -> {device: tensors}, dropped with the dataset.
_TENSORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass
class GBufferTensors:
    """Every view's G-buffers as torch tensors on one device.

    Attributes:
        uv: ``(V, H, W, 2)`` float32 in [0, 1]², v up.
        normal: ``(V, 3, H, W)`` float32 world, unit (0 off the object).
        position: ``(V, 3, H, W)`` float32 world.
        mask: ``(V, 1, H, W)`` float32, 1 on the object.
        camera_sources: ``(V, 4)`` float32 homogeneous viewpoints.
        grid: ``(V, H, W, 2)`` grid_sample coordinates of ``uv`` (derived once).
        view_dir: ``(V, 3, H, W)`` unit surface -> camera, 0 off the object (derived once: it
            depends on the view only, and was a third of the loader's time per sample).
    """

    uv: torch.Tensor
    normal: torch.Tensor
    position: torch.Tensor
    mask: torch.Tensor
    camera_sources: torch.Tensor
    grid: torch.Tensor = field(init=False, repr=False)
    view_dir: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.grid = uv_to_grid(self.uv)
        pos_cl = self.position.contiguous(memory_format=torch.channels_last)
        self.view_dir = (directions_to(pos_cl, self.camera_sources)[0] * self.mask).contiguous()

    @property
    def device(self) -> torch.device:
        return self.uv.device

    @classmethod
    def of(cls, data, device: Any = "cpu") -> GBufferTensors:
        """A :class:`~neutex.data.PreparedData`'s G-buffers on ``device``: loaded once per
        dataset and device, then shared (training, validation and rendering gather from the
        same tensors)."""
        per_device = _TENSORS.setdefault(data, {})
        key = str(torch.device(device))
        if key not in per_device:
            per_device[key] = cls.from_data(data, device)
        return per_device[key]

    @classmethod
    def from_data(cls, data, device: Any = "cpu") -> GBufferTensors:
        """Load a :class:`~neutex.data.PreparedData`'s G-buffers onto ``device`` (uncached; see :meth:`of`)."""

        def chw(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.array(a, np.float32)).permute(0, 3, 1, 2).contiguous().to(device)

        return cls(
            uv=torch.from_numpy(np.array(data.uv, np.float32)).to(device),
            normal=chw(data.normal),
            position=chw(data.position),
            mask=torch.from_numpy(np.asarray(data.mask, np.float32)[:, None]).contiguous().to(device),
            camera_sources=torch.from_numpy(np.asarray(data.camera_sources, np.float32)).to(device),
        )


    @classmethod
    def from_gbuffers(cls, gbuffers: list[dict[str, np.ndarray]], cameras: list, device: Any = "cpu") -> GBufferTensors:
        """Tensors from freshly rasterized G-buffers (:func:`neutex.gbuffer.rasterize_gbuffers`
        dicts, one per camera): for rendering novel views (orbits) that are not in the dataset.

        Examples:
            >>> import numpy as np
            >>> from neutex.capture import Camera
            >>> g = {"uv": np.zeros((2, 2, 2)), "normal": np.zeros((2, 2, 3)), "position": np.zeros((2, 2, 3)),
            ...      "mask": np.ones((2, 2), bool)}
            >>> cam = Camera("c", 2, 2, np.eye(4), "orthographic", scale=(1.0, 1.0), center=(0.5, 0.5))
            >>> GBufferTensors.from_gbuffers([g], [cam]).camera_sources.tolist()
            [[-0.0, -0.0, -1.0, 0.0]]
        """
        def stack(key: str) -> np.ndarray:
            return np.stack([np.asarray(g[key], np.float32) for g in gbuffers])

        return cls(
            uv=torch.from_numpy(stack("uv")).to(device),
            normal=torch.from_numpy(stack("normal")).permute(0, 3, 1, 2).contiguous().to(device),
            position=torch.from_numpy(stack("position")).permute(0, 3, 1, 2).contiguous().to(device),
            mask=torch.from_numpy(stack("mask")[:, None]).contiguous().to(device),
            camera_sources=torch.from_numpy(sources_of(cameras)).to(device),
        )


def _take(x: torch.Tensor, views: torch.Tensor) -> torch.Tensor:
    """``x[views]``: a slice when the views are one consecutive run (a sweep renders one view
    many times), else plain indexing (``index_select`` copies ~6x slower on the CPU)."""
    v = views.to(torch.long).cpu()
    v0, n = int(v[0]), len(v)
    if bool((v == torch.arange(v0, v0 + n)).all()):
        return x[v0:v0 + n]
    if bool((v == v0).all()):
        return x[v0:v0 + 1].expand(n, *x.shape[1:])
    return x[v.to(x.device)]


def geometry_batch(source, views: torch.Tensor, light_sources: torch.Tensor, device: Any = None,
                   light_intensities: torch.Tensor | None = None, shadows=None) -> dict[str, torch.Tensor]:
    """Per-pixel geometry and light for B (view, light source) pairs: everything the
    renderer's inputs (:mod:`neutex.model.inputs`) are computed from.

    Args:
        source: a :class:`~neutex.data.PreparedData` or its :class:`GBufferTensors`.
        views: ``(B,)`` long view indices.
        light_sources: ``(B, 4)`` homogeneous light sources: ``(x, y, z, 1)`` a point light,
            ``(dx, dy, dz, 0)`` a directional light (unit vector towards the light). Any
            source works (novel lights, light sweeps).
        device: where the tensors go (default: where the G-buffers are).
        light_intensities: ``(B, 3)`` RGB intensity (point: W/sr) or irradiance (directional);
            default 1.
        shadows: a :class:`~neutex.gbuffer.ShadowCaster` (or anything with its
            ``visibility(position, normal, light_sources, mask)``) to add cast-shadow visibility.

    Returns:
        dict of float32 tensors on ``device``:
        ``grid`` ``(B, H, W, 2)`` grid_sample coordinates of the uv buffer (:func:`~neutex.geometry.uv_to_grid`);
        ``normal``, ``position`` ``(B, 3, H, W)`` world; ``view_dir`` ``(B, 3, H, W)`` unit,
        surface -> camera (0 off the object); ``mask`` ``(B, 1, H, W)`` 1 on the object;
        ``light_source`` ``(B, 4)``; ``light_intensity`` ``(B, 3)``; with ``shadows``,
        ``visibility`` ``(B, 1, H, W)`` in [0, 1].

    Examples:
        >>> import torch
        >>> g = GBufferTensors(torch.zeros(1, 2, 2, 2), torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2),
        ...                    torch.ones(1, 1, 2, 2), torch.tensor([[0.0, 0.0, 5.0, 1.0]]))
        >>> b = geometry_batch(g, torch.tensor([0]), torch.tensor([[0.0, 3.0, 4.0, 1.0]]))
        >>> b["view_dir"][0, :, 0, 0].tolist(), b["light_intensity"].tolist()
        ([0.0, 0.0, 1.0], [[1.0, 1.0, 1.0]])
    """
    t = source if isinstance(source, GBufferTensors) else GBufferTensors.of(source, device or "cpu")
    dev = torch.device(device) if device is not None else t.device
    check_shape(views, "B", "views")
    check_shape(light_sources, "B 4", "light_sources")
    if len(views) != len(light_sources):
        raise DataError(f"light_sources: {len(light_sources)} sources for {len(views)} views")
    grid, normal, position, mask, view_dir = (_take(x, views) for x in (t.grid, t.normal, t.position, t.mask,
                                                                         t.view_dir))
    if dev != t.device:
        grid, normal, position, mask, view_dir = (x.to(dev, non_blocking=True)
                                                  for x in (grid, normal, position, mask, view_dir))
    batch = {"grid": grid, "normal": normal, "position": position, "view_dir": view_dir, "mask": mask}
    return set_light(batch, light_sources, light_intensities, shadows)


def set_light(batch: dict[str, torch.Tensor], light_sources: torch.Tensor, light_intensities: torch.Tensor | None = None,
              shadows=None) -> dict[str, torch.Tensor]:
    """A copy of a geometry batch lit by other lights: the one place the light-dependent raw
    data of a batch is set (the light, its intensity, cast-shadow visibility). Everything
    derived from them (light direction, cues) is computed by the model's inputs.

    Args:
        batch: a :func:`geometry_batch` dict (``position``, ``normal``, ``mask`` used).
        light_sources: ``(B, 4)`` homogeneous sources.
        light_intensities: ``(B, 3)``; default: the batch's (when the light count matches) or 1.
        shadows: a shadow caster for ``visibility``; None drops any stale visibility.
    """
    pos = batch["position"]
    B = pos.shape[0]
    check_shape(light_sources, f"{B} 4", "light_sources")
    out = {k: v for k, v in batch.items() if k not in ("light_source", "light_intensity", "visibility")}
    out["light_source"] = light_sources.to(pos.device, torch.float32)
    if light_intensities is None:
        old = batch.get("light_intensity")
        light_intensities = old if old is not None else torch.ones(B, 3)
    check_shape(light_intensities, f"{B} 3", "light_intensities")
    out["light_intensity"] = light_intensities.to(pos.device, torch.float32)
    if shadows is not None:
        out["visibility"] = shadows.visibility(pos, batch["normal"], out["light_source"], batch["mask"])
    return out


class PairLoader:
    """Iterates over (view, light) pairs of a prepared dataset in batches.

    The order of epoch ``e`` depends only on ``(seed, e)``, so two loaders with the same
    arguments yield the same batches, and a run can resume at batch ``k`` of epoch ``e``
    (``set_epoch(e, start_batch=k)``). ``max_pairs`` caps the pairs per pass: with ``shuffle``
    each epoch visits a different random subset (quick training runs still see every pair
    over several epochs); without it, a fixed subset chosen once from ``seed``.

    Each batch is :func:`geometry_batch` (with ``visibility`` when a ``shadows`` caster is
    given) plus ``target`` ``(B, 3, H, W)`` float32 linear, ``view`` and ``light`` ``(B,)``
    long, and ``mask`` multiplied by ``valid`` (saturated pixels excluded) when the dataset has one.

    Sharded (``world_size`` > 1, distributed training): a step takes the next
    ``world_size × batch_size`` pairs of the epoch's order (the *global batch*), and rank ``r``
    loads its slice ``[r·batch_size, (r+1)·batch_size)`` of them, so the ranks see disjoint
    pairs and the order is still a function of ``(seed, epoch)`` only. Each sharded batch
    carries ``loss_weight``, a 0-d tensor: ``world_size × n_r / n`` for a rank with ``n_r`` of
    the step's ``n`` pairs, so the mean of the weighted per-rank losses (what the gradient
    all-reduce computes) is the loss of the whole global batch even when the epoch's last
    step is short; a rank left without a pair there loads the step's first pair with weight 0.
    The position to resume from is counted in pairs of the epoch (``set_epoch(e,
    start_pair=p)``), which means the same thing whatever the number of processes.

    Examples:
        >>> loader = PairLoader(data, data.pairs("train"), batch_size=1, seed=0)  # doctest: +SKIP
        >>> loader.set_epoch(3, start_batch=10)  # doctest: +SKIP
        >>> for batch in loader: ...  # doctest: +SKIP
    """

    def __init__(self, data, pairs: np.ndarray, batch_size: int = 1, shuffle: bool = True, seed: int = 0,
                 device: Any = "cpu", max_pairs: int | None = None, drop_last: bool = False, shadows=None,
                 rank: int = 0, world_size: int = 1) -> None:
        pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
        if len(pairs) == 0:
            raise DataError("PairLoader: no (view, light) pairs to load (is the bucket empty?)")
        if batch_size < 1:
            raise DataError(f"PairLoader: batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise DataError(f"PairLoader: rank {rank} is not in [0, world_size={world_size})")
        if (pairs[:, 0] >= data.num_views).any() or (pairs[:, 1] >= data.num_lights).any() or (pairs < 0).any():
            raise DataError("PairLoader: pair index out of range")
        if not data.pair_exists[pairs[:, 0], pairs[:, 1]].all():
            raise DataError("PairLoader: some pairs have no image in the prepared dataset")
        cap = len(pairs)
        if max_pairs is not None and 0 < max_pairs < len(pairs) and shuffle:
            cap = int(max_pairs)
        elif max_pairs is not None and 0 < max_pairs < len(pairs):
            rng = np.random.default_rng([seed, 0x5A3B1E])
            pairs = pairs[np.sort(rng.choice(len(pairs), max_pairs, replace=False))]
        self.data = data
        self.pairs = pairs
        self.cap = min(cap, len(pairs))
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.device = torch.device(device)
        self.drop_last = drop_last
        self.tensors = GBufferTensors.of(data, self.device)
        self.light_sources = torch.from_numpy(np.asarray(data.light_sources, np.float32)).to(self.device)
        self.light_intensities = torch.from_numpy(np.asarray(data.light_intensities, np.float32)).to(self.device)
        self.shadows = shadows
        self.rank, self.world_size = int(rank), int(world_size)
        self.epoch = 0
        self.start_pair = 0

    @property
    def global_batch_size(self) -> int:
        """Pairs per step over all ranks: ``world_size × batch_size``."""
        return self.batch_size * self.world_size

    def __len__(self) -> int:
        """Steps per epoch (global batches)."""
        n, g = self.cap, self.global_batch_size
        return n // g if self.drop_last else -(-n // g)

    def set_epoch(self, epoch: int, start_batch: int = 0, start_pair: int | None = None) -> None:
        """Select the epoch (its shuffle order) and where to start (resume): at step
        ``start_batch``, or at pair ``start_pair`` of the epoch's order (which wins when given)."""
        self.epoch = int(epoch)
        self.start_pair = int(start_pair) if start_pair is not None else int(start_batch) * self.global_batch_size

    def step_pairs(self, start_pair: int) -> int:
        """How many pairs (over all ranks) the step starting at pair ``start_pair`` takes."""
        return max(0, min(self.global_batch_size, self.cap - int(start_pair)))

    def order(self, epoch: int | None = None) -> np.ndarray:
        """``(N, 2)`` pairs in the order of ``epoch`` (default: the current one)."""
        e = self.epoch if epoch is None else epoch
        if not self.shuffle:
            return self.pairs
        return self.pairs[np.random.default_rng([self.seed, e]).permutation(len(self.pairs))[:self.cap]]

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        order = self.order()
        g = self.global_batch_size
        stop = (self.cap // g) * g if self.drop_last else self.cap
        for p in range(self.start_pair, stop, g):
            step = order[p:min(p + g, self.cap)]
            yield self.load(step) if self.world_size == 1 else self._load_shard(step)

    def _load_shard(self, step: np.ndarray) -> dict[str, torch.Tensor]:
        """This rank's part of one step's pairs, with its ``loss_weight`` (see the class doc)."""
        b = self.batch_size
        mine = step[self.rank * b:(self.rank + 1) * b]
        weight = self.world_size * len(mine) / len(step)
        if len(mine) == 0:  # a short last step: every rank must still run one (the all-reduce)
            mine, weight = step[:1], 0.0
        batch = self.load(mine)
        batch["loss_weight"] = torch.tensor(weight, dtype=torch.float32, device=self.device)
        return batch

    def load(self, pairs: np.ndarray) -> dict[str, torch.Tensor]:
        """One batch for explicit ``(B, 2)`` (view, light) index pairs."""
        pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
        v_np, l_np = pairs[:, 0], pairs[:, 1]
        views = torch.from_numpy(v_np)
        lights = torch.from_numpy(l_np)
        ld = lights.to(self.device)
        batch = geometry_batch(self.tensors, views.to(self.device), self.light_sources[ld],
                               light_intensities=self.light_intensities[ld], shadows=self.shadows)
        img = torch.from_numpy(self.data.images[v_np, l_np])  # (B, H, W, 3) float16 gather from the memmap
        batch["target"] = img.to(self.device).permute(0, 3, 1, 2).float().contiguous()
        if self.data.valid is not None:
            valid = torch.from_numpy(np.ascontiguousarray(self.data.valid[v_np, l_np]))
            batch["mask"] = batch["mask"] * valid.to(self.device)[:, None].float()
        batch["view"] = views.to(self.device)
        batch["light"] = ld
        return batch
