"""Predicting with a trained model: captured (view, light) pairs, frames of one view under many
lights (a light sweep) or of many views (an orbit), batched, without gradients, decoded to
linear radiance and masked.

:class:`FrameRenderer` does the work for training's validation, ``neutex eval``, ``neutex
render``, the report and the viewer alike; ``render_view`` and ``predict_linear`` are thin
functional forms.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import torch

from neutex.check import check_shape
from neutex.color import Encoding, decode_target
from neutex.data.loader import GBufferTensors, PairLoader, geometry_batch, set_light
from neutex.device import autocast
from neutex.errors import DataError


def _as_sources(sources, device) -> torch.Tensor:
    src = sources if torch.is_tensor(sources) else torch.from_numpy(np.asarray(sources, np.float32))
    check_shape(src, "N 4", "sources")
    return src.to(device, torch.float32)


def _tensors(source, device) -> GBufferTensors:
    """A :class:`~neutex.data.loader.GBufferTensors` from one or a PreparedData (cached there)."""
    return source if isinstance(source, GBufferTensors) else GBufferTensors.of(source, device)


#: pixels per forward pass (8 frames of 1024², ~8 GB of activations at ~1 kB a pixel).
RENDER_PIXELS = 8 * 1024 * 1024


class FrameRenderer:
    """Renders masked linear frames of a model from G-buffers, ``batch_size`` at a time.

    Args:
        model: a :class:`~neutex.model.Relighter` (or any module taking a
            :func:`~neutex.data.geometry_batch` dict), in eval mode, output in ``encoding``.
        encoding: the target encoding the model was trained with.
        device: where the model and the G-buffers are.
        autocast_dtype: ``torch.bfloat16`` (CPU) / ``torch.float16`` (CUDA) autocast, or None
            for full precision (see :func:`neutex.device.autocast_dtype`).
        batch_size: frames per forward pass, at most :data:`RENDER_PIXELS` pixels in all.
        shadows: a :class:`~neutex.gbuffer.ShadowCaster` when the model's inputs use cast
            shadows (see :func:`neutex.data.set_light`).

    For a sweep (one view, many lights) the texture features are sampled once per view
    (:meth:`Relighter.sample_features`); each frame then costs its light-dependent inputs
    and the UNet. The result equals ``model(geometry_batch(...))`` (a test pins it).
    Gradients are off inside the iterators (``no_grad``).

    Examples:
        >>> r = FrameRenderer(model, "log", batch_size=8)  # doctest: +SKIP
        >>> frames = torch.cat(list(r.sweep(data, view=0, sources=src)))  # doctest: +SKIP
    """

    def __init__(self, model: torch.nn.Module, encoding: Encoding, device: Any = "cpu",
                 autocast_dtype: torch.dtype | None = None, batch_size: int = 8, shadows=None) -> None:
        if batch_size < 1:
            raise DataError(f"batch_size: must be >= 1, got {batch_size}")
        self.model = model
        self.encoding = encoding
        self.device = torch.device(device)
        self.autocast_dtype = autocast_dtype
        self.batch_size = int(batch_size)
        self.shadows = shadows

    def _per_pass(self, height: int, width: int) -> int:
        """Frames per forward at this image size: ``batch_size``, capped at :data:`RENDER_PIXELS`
        pixels (at 2k and more a batch of 8 would need more memory than training)."""
        return max(1, min(self.batch_size, RENDER_PIXELS // (height * width)))

    def _autocast(self):
        return autocast(self.device, self.autocast_dtype)

    def _decode(self, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return decode_target(pred.float(), self.encoding) * mask

    def _intensities(self, source, intensities, n: int) -> torch.Tensor:
        if intensities is None:
            default = getattr(source, "default_intensity", None)
            inten = np.broadcast_to(np.asarray(default if default is not None else np.ones(3), np.float32), (n, 3))
        else:
            inten = np.asarray(intensities.cpu() if torch.is_tensor(intensities) else intensities, np.float32)
            if inten.shape == (3,):
                inten = np.broadcast_to(inten, (n, 3))
        check_shape(inten, f"{n} 3", "intensities")
        return torch.tensor(inten, dtype=torch.float32, device=self.device)  # a copy: the array may be read-only

    # ---------------------------------------------------------------- captured pairs
    @torch.no_grad()
    def pairs(self, data, pairs) -> Iterator[tuple[dict[str, torch.Tensor], torch.Tensor]]:
        """Predictions for captured ``(N, 2)`` (view, light) index pairs, in order.

        Yields:
            ``(batch, pred)``: the :class:`~neutex.data.PairLoader` batch (``target``, ``mask``
            with saturated pixels excluded, ``view``, ``light``) and ``(B, 3, H, W)`` float32
            linear predictions, 0 off the mask.
        """
        loader = PairLoader(data, pairs, batch_size=self._per_pass(data.height, data.width), shuffle=False, seed=0, device=self.device,
                            shadows=self.shadows)
        for batch in loader:
            with self._autocast():
                pred = self.model(batch)
            yield batch, self._decode(pred, batch["mask"])

    # ---------------------------------------------------------------- one view, many lights
    @torch.no_grad()
    def sweep(self, source, view: int, sources, intensities=None) -> Iterator[torch.Tensor]:
        """Frames of one ``view`` under ``sources`` ``(N, 4)`` (homogeneous), in order.

        Args:
            source: a :class:`~neutex.data.PreparedData` or :class:`~neutex.data.loader.GBufferTensors`.
            view: view index.
            sources: ``(N, 4)`` light sources (point ``w = 1`` / directional ``w = 0``).
            intensities: ``(N, 3)`` or ``(3,)`` RGB intensities; default the dataset's
                :attr:`~neutex.data.PreparedData.default_intensity` (1 for bare G-buffers).

        Yields:
            ``(B, 3, H, W)`` float32 linear radiance on ``device``, 0 off the object mask.
        """
        t = _tensors(source, self.device)
        if not 0 <= view < t.uv.shape[0]:
            raise DataError(f"view: index {view} out of range (0..{t.uv.shape[0] - 1})")
        src = _as_sources(sources, self.device)
        one, features = self.view_state(t, view)
        yield from self.lit(one, features, src, self._intensities(source, intensities, src.shape[0]))

    @torch.no_grad()
    def view_state(self, t: GBufferTensors, view: int) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        """What a sweep computes once per view: the one-view geometry batch without a light
        (:func:`~neutex.data.geometry_batch`) and the sampled texture features (None for a
        model without :meth:`~neutex.model.Relighter.sample_features`)."""
        one = geometry_batch(t, torch.tensor([view]), torch.zeros(1, 4), self.device)
        one = {k: v for k, v in one.items() if k not in ("light_source", "light_intensity", "visibility")}
        features = self.model.sample_features(one["grid"]) if hasattr(self.model, "sample_features") else None
        return one, features

    @torch.no_grad()
    def lit(self, one: dict[str, torch.Tensor], features: torch.Tensor | None, sources: torch.Tensor,
            intensities: torch.Tensor) -> Iterator[torch.Tensor]:
        """Frames of a :meth:`view_state` under ``sources`` ``(N, 4)`` with ``intensities``
        ``(N, 3)``, in order: ``(B, 3, H, W)`` float32 linear, 0 off the object mask."""
        n = self._per_pass(*one["mask"].shape[-2:])
        for i in range(0, sources.shape[0], n):
            chunk = sources[i:i + n]
            b = chunk.shape[0]
            batch = set_light({k: v.expand(b, *v.shape[1:]) for k, v in one.items()}, chunk, intensities[i:i + b],
                              self.shadows)
            with self._autocast():
                pred = self.model.render(features, batch) if features is not None else self.model(batch)
            yield self._decode(pred, batch["mask"])

    # ---------------------------------------------------------------- any views, any lights
    @torch.no_grad()
    def frames(self, source, views, sources, intensities=None) -> Iterator[torch.Tensor]:
        """Frames of ``views`` ``(N,)`` under ``sources`` ``(N, 4)``, pairwise, in order (orbits,
        where every frame has its own view).

        Yields:
            ``(B, 3, H, W)`` float32 linear radiance on ``device``, 0 off the object mask.
        """
        t = _tensors(source, self.device)
        src = _as_sources(sources, self.device)
        inten = self._intensities(source, intensities, src.shape[0])
        views = torch.as_tensor(np.asarray(views), dtype=torch.long)
        check_shape(views, "N", "views")
        if len(views) != len(src):
            raise DataError(f"sources: {len(src)} sources for {len(views)} views")
        n = self._per_pass(*t.uv.shape[1:3])
        for i in range(0, len(views), n):
            batch = geometry_batch(t, views[i:i + n], src[i:i + n], self.device, inten[i:i + n], self.shadows)
            with self._autocast():
                pred = self.model(batch)
            yield self._decode(pred, batch["mask"])


def render_view(model: torch.nn.Module, data, view: int, sources: np.ndarray | torch.Tensor,
                encoding: Encoding, device: torch.device | str = "cpu", batch_size: int = 8,
                autocast_dtype: torch.dtype | None = None, intensities=None, shadows=None) -> torch.Tensor:
    """Render one view under ``N`` light sources.

    Args:
        model: a :class:`~neutex.model.Relighter` (output in the ``encoding`` space).
        data: a :class:`~neutex.data.PreparedData` (G-buffers are computed once per view).
        view: view index into the prepared arrays.
        sources: ``(N, 4)`` homogeneous light sources (point ``w=1`` / directional ``w=0``).
        encoding: the target encoding the model was trained with.
        batch_size: frames per forward pass.
        intensities: ``(N, 3)`` light intensities (default: the dataset's typical one).
        shadows: a shadow caster when the model uses cast shadows.

    Returns:
        ``(N, 3, H, W)`` float32 linear radiance on the CPU, zero outside the object mask.
    """
    r = FrameRenderer(model, encoding, device, autocast_dtype, batch_size, shadows)
    return torch.cat([f.cpu() for f in r.sweep(data, view, sources, intensities)])


def predict_linear(model: torch.nn.Module, batch: dict, encoding: Encoding,
                   autocast_dtype: torch.dtype | None = None) -> torch.Tensor:
    """Model output decoded to linear radiance and masked: ``(B, 3, H, W)`` float32."""
    with autocast(batch["mask"].device, autocast_dtype):
        pred = model(batch)
    return decode_target(pred.float(), encoding) * batch["mask"]
