"""Rendering a trained model: frames of one view under many lights (a light sweep) or of many
views (an orbit), batched, without gradients.

:class:`FrameRenderer` does the work. For a fixed view everything that does not depend on the
light is computed once — the view's G-buffer slice, its view direction, the sampled texture
features and, for the :class:`~neutex.model.Relighter`'s conditioning, every renderer-input
channel except the light channels — so a frame costs one light-direction computation, a few
channel writes and the UNet. The result equals ``model(geometry_batch(...))`` (a test pins
it); only the work is shared.

``render_view`` and ``predict_linear`` are the functional interface the
trainer and evaluation use.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import torch

from neutex.check import check_shape
from neutex.color import Encoding, decode_target
from neutex.data.loader import geometry_batch
from neutex.errors import DataError


def _as_sources(sources, device) -> torch.Tensor:
    src = sources if torch.is_tensor(sources) else torch.from_numpy(np.asarray(sources, np.float32))
    check_shape(src, "N 4", "sources")
    return src.to(device, torch.float32)


def _tensors(source, device):
    """A :class:`~neutex.data.loader.GBufferTensors` from one or a PreparedData (cached there)."""
    from neutex.data.loader import GBufferTensors

    return source if isinstance(source, GBufferTensors) else source.tensors(device)


def _masked_directions(position: torch.Tensor, sources: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Unit directions ``(B, 3, H, W)`` surface -> source, 0 off the mask (as in ``geometry_batch``)."""
    from neutex.geometry import directions_to

    d, _ = directions_to(position, sources)
    return (d * mask).contiguous()


class FrameRenderer:
    """Renders masked linear frames of a model from G-buffers, ``batch_size`` at a time.

    Args:
        model: a :class:`~neutex.model.Relighter` (or any module taking a
            :func:`~neutex.data.geometry_batch` dict), in eval mode, output in ``encoding``.
        encoding: the target encoding the model was trained with.
        device: where the model and the G-buffers are.
        autocast_dtype: ``torch.bfloat16`` (CPU) / ``torch.float16`` (CUDA) autocast, or None
            for full precision (see :func:`neutex.train.trainer.autocast_dtype`).
        batch_size: frames per forward pass.

    Gradients are off inside the iterators (``no_grad``); the caller may add
    ``torch.inference_mode()`` where no tensor outlives the rendering.

    Examples:
        >>> r = FrameRenderer(model, "log", batch_size=8)  # doctest: +SKIP
        >>> frames = torch.cat(list(r.sweep(data, view=0, sources=src)))  # doctest: +SKIP
    """

    def __init__(self, model: torch.nn.Module, encoding: Encoding, device: Any = "cpu",
                 autocast_dtype: torch.dtype | None = None, batch_size: int = 8) -> None:
        if batch_size < 1:
            raise DataError(f"batch_size: must be >= 1, got {batch_size}")
        self.model = model
        self.encoding = encoding
        self.device = torch.device(device)
        self.autocast_dtype = autocast_dtype
        self.batch_size = int(batch_size)
        self._split = _is_split_relighter(model)

    # ---------------------------------------------------------------- helpers
    def _autocast(self):
        return torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None)

    def _decode(self, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return decode_target(pred.float(), self.encoding) * mask

    def _input_dtype(self) -> torch.dtype:
        return self.autocast_dtype or torch.float32

    def _input_format(self) -> torch.memory_format:
        w = getattr(getattr(self.model, "renderer", None), "head", None)
        w = w[0].weight if w is not None else None
        if w is not None and w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous():
            return torch.channels_last
        return torch.contiguous_format

    # ---------------------------------------------------------------- one view, many lights
    @torch.no_grad()
    def view_inputs(self, source, view: int) -> dict[str, Any]:
        """Everything about ``view`` that does not depend on the light (computed once per view).

        Returns:
            dict with ``grid`` ``(1, H, W, 2)``, ``normal``, ``position``, ``view_dir``
            ``(1, 3, H, W)``, ``mask`` ``(1, 1, H, W)``; for a split Relighter also ``base``
            ``(1, C', H, W)`` (the renderer input with a zero light direction, masked, in the
            input dtype) and ``terms``: ``[(channel, [(k, coef (1, H, W))...])...]``, the
            light-dependent channels as ``base[c] + Σ_k light_dir[k] · coef``.
        """
        from neutex.geometry import uv_to_grid

        t = _tensors(source, self.device)
        if not 0 <= view < t.uv.shape[0]:
            raise DataError(f"view: index {view} out of range (0..{t.uv.shape[0] - 1})")
        sl = slice(view, view + 1)
        dev = self.device
        position = t.position[sl].to(dev)
        mask = t.mask[sl].to(dev)
        out: dict[str, Any] = {
            "grid": uv_to_grid(t.uv[sl].to(dev)), "normal": t.normal[sl].to(dev), "position": position,
            "position_cl": position.contiguous(memory_format=torch.channels_last), "mask": mask,
            "view_dir": _masked_directions(position.contiguous(memory_format=torch.channels_last),
                                           t.camera_sources[sl].to(dev), mask),
        }
        if self._split:
            out.update(self._split_inputs(out))
        return out

    def _split_inputs(self, v: dict[str, Any]) -> dict[str, Any]:
        m = self.model
        with self._autocast():
            features = m.texture(v["grid"])  # sample_texture runs in fp32 whatever the autocast
            zero = torch.zeros_like(v["normal"])
            base = m.conditioning(features, v["normal"], zero, v["view_dir"]) * v["mask"]
            coefs = []
            for k in range(3):
                e = zero.clone()
                e[:, k] = 1.0
                coefs.append((m.conditioning(features, v["normal"], e, v["view_dir"]) * v["mask"] - base)[0])
        nz = [c.flatten(1).ne(0).any(1) for c in coefs]  # (C',) per light component
        channels = torch.nonzero(nz[0] | nz[1] | nz[2]).flatten().tolist()
        terms = [(c, [(k, coefs[k][c]) for k in range(3) if bool(nz[k][c])]) for c in channels]
        base_in = base.to(self._input_dtype()).contiguous(memory_format=self._input_format())
        return {"base": base_in, "base_fp32": base[0], "terms": terms}

    @torch.no_grad()
    def sweep(self, source, view: int, sources) -> Iterator[torch.Tensor]:
        """Frames of one ``view`` under ``sources`` ``(N, 4)`` (homogeneous), in order.

        Args:
            source: a :class:`~neutex.data.PreparedData` or :class:`~neutex.data.loader.GBufferTensors`.
            view: view index.
            sources: ``(N, 4)`` light sources (point ``w = 1`` / directional ``w = 0``).

        Yields:
            ``(B, 3, H, W)`` float32 linear radiance on ``device``, 0 off the object mask.
        """
        src = _as_sources(sources, self.device)
        v = self.view_inputs(source, view)
        mask = v["mask"]
        for i in range(0, src.shape[0], self.batch_size):
            chunk = src[i:i + self.batch_size]
            b = chunk.shape[0]
            light_dir = _masked_directions(v["position_cl"].expand(b, -1, -1, -1), chunk, mask)
            with self._autocast():
                if self._split:
                    x = v["base"].expand(b, -1, -1, -1).clone(memory_format=self._input_format())
                    for c, terms in v["terms"]:
                        val = v["base_fp32"][c]
                        for k, coef in terms:
                            val = val + light_dir[:, k] * coef
                        x[:, c] = val
                    pred = self.model.renderer(x)
                else:
                    batch = {"grid": v["grid"].expand(b, -1, -1, -1), "normal": v["normal"].expand(b, -1, -1, -1),
                             "position": v["position"].expand(b, -1, -1, -1), "light_dir": light_dir,
                             "view_dir": v["view_dir"].expand(b, -1, -1, -1), "mask": mask.expand(b, -1, -1, -1)}
                    pred = self.model(batch)
            yield self._decode(pred, mask)

    # ---------------------------------------------------------------- any views, any lights
    @torch.no_grad()
    def frames(self, source, views, sources) -> Iterator[torch.Tensor]:
        """Frames of ``views`` ``(N,)`` under ``sources`` ``(N, 4)``, pairwise, in order (orbits,
        where every frame has its own view).

        Yields:
            ``(B, 3, H, W)`` float32 linear radiance on ``device``, 0 off the object mask.
        """
        t = _tensors(source, self.device)
        src = _as_sources(sources, self.device)
        views = torch.as_tensor(np.asarray(views), dtype=torch.long)
        check_shape(views, "N", "views")
        if len(views) != len(src):
            raise DataError(f"sources: {len(src)} sources for {len(views)} views")
        for i in range(0, len(views), self.batch_size):
            batch = geometry_batch(t, views[i:i + self.batch_size], src[i:i + self.batch_size], self.device)
            with self._autocast():
                pred = self.model(batch)
            yield self._decode(pred, batch["mask"])


def _is_split_relighter(model: torch.nn.Module) -> bool:
    """Whether the light-independent part of the renderer input can be computed once per view:
    a Relighter whose conditioning is affine in the light direction (multiply or concat; the
    shading cue's clamp is not)."""
    from neutex.model.conditioning import Conditioning
    from neutex.model.relighter import Relighter

    return (type(model) is Relighter and type(model.conditioning) is Conditioning
            and model.conditioning.mode in ("multiply", "concat") and not model.shading_cue)


@torch.no_grad()
def render_view(model: torch.nn.Module, data, view: int, sources: np.ndarray | torch.Tensor,
                encoding: Encoding, device: torch.device | str = "cpu", batch_size: int = 8,
                autocast_dtype: torch.dtype | None = None) -> torch.Tensor:
    """Render one view under ``N`` light sources.

    Args:
        model: a :class:`~neutex.model.Relighter` (output in the ``encoding`` space).
        data: a :class:`~neutex.data.PreparedData` (G-buffers are computed once per view).
        view: view index into the prepared arrays.
        sources: ``(N, 4)`` homogeneous light sources (point ``w=1`` / directional ``w=0``).
        encoding: the target encoding the model was trained with.
        batch_size: frames per forward pass.

    Returns:
        ``(N, 3, H, W)`` float32 linear radiance on the CPU, zero outside the object mask.
    """
    r = FrameRenderer(model, encoding, device, autocast_dtype, batch_size)
    return torch.cat([f.cpu() for f in r.sweep(data, view, sources)])


def predict_linear(model: torch.nn.Module, batch: dict, encoding: Encoding,
                   autocast_dtype: torch.dtype | None = None) -> torch.Tensor:
    """Model output decoded to linear radiance and masked: ``(B, 3, H, W)`` float32."""
    dev_type = batch["mask"].device.type
    with torch.autocast(dev_type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
        pred = model(batch)
    return decode_target(pred.float(), encoding) * batch["mask"]
