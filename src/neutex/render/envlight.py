"""Relighting a trained run with an HDR environment map (docs/render.md, "Environment maps").

Light transport is linear in the light, so the object under a map is the integral of its
one-light response over the map: the map becomes K directional lights
(:func:`neutex.envmap.sample_envmap`) and the relit image is the sum of the model's frames
under them, each rendered through the fast sweep path (:meth:`FrameRenderer.sweep`: the
texture is sampled once per view).

The network is linear in the light only approximately, and only near the irradiances it was
trained on. So every light is rendered at the *reference irradiance* ``E_ref`` — the median
irradiance the stage lights cast on the object centre (``I / d²`` for point lights, ``I`` for
directional ones) — and its frame is scaled by ``E_k / E_ref`` per channel, which is exact for
light transport (each RGB channel is linear in that channel of the light). A directional light
enters the renderer inputs with ``E = I`` (no falloff), the same cue form as a point light's
``I / d²``.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from neutex.data.loader import GBufferTensors
from neutex.envmap.sampling import EnvLights


def reference_irradiance(light_sources: np.ndarray, light_intensities: np.ndarray) -> np.ndarray:
    """``(3,)`` median RGB irradiance the stage lights cast on the origin (the object centre):
    ``I / |p|²`` for point lights, ``I`` for directional ones.

    Examples:
        >>> reference_irradiance(np.array([[0, 0, 2.0, 1], [0, 0, 1.0, 0]]), np.array([[8.0, 8, 8], [3.0, 3, 3]])).tolist()
        [2.5, 2.5, 2.5]
    """
    src = np.asarray(light_sources, np.float64).reshape(-1, 4)
    inten = np.asarray(light_intensities, np.float64).reshape(-1, 3)
    if len(src) == 0:
        return np.ones(3)
    d2 = np.where(src[:, 3] > 0.5, (src[:, :3] ** 2).sum(1), 1.0)
    e = np.median(inten / np.maximum(d2, 1e-12)[:, None], axis=0)
    return np.where(e > 0, e, 1.0)


def light_weights(lights: EnvLights, e_ref: np.ndarray) -> np.ndarray:
    """``(K, 3)`` per-channel scale of each light's frame rendered at ``e_ref``: ``E_k / E_ref``."""
    return lights.irradiance / np.asarray(e_ref, np.float64)[None, :]


@torch.no_grad()
def relight_frames(renderer, source, view: int, lights: EnvLights, e_ref: np.ndarray) -> Iterator[torch.Tensor]:
    """The weighted one-light frames of ``view``, a batch at a time: ``(B, 3, H, W)`` float32
    linear, frame k already scaled by ``E_k / E_ref``; their sum over all batches is the relit image."""
    if len(lights) == 0:
        return
    w = torch.from_numpy(light_weights(lights, e_ref).astype(np.float32))
    k = 0
    for frames in renderer.sweep(source, view, lights.sources, np.asarray(e_ref, np.float32)):  # (3,): every light
        b = frames.shape[0]
        yield frames * w[k:k + b].to(frames.device)[:, :, None, None]
        k += b


@torch.no_grad()
def relight_envmap(renderer, source, view: int, lights: EnvLights, e_ref: np.ndarray) -> torch.Tensor:
    """``(3, H, W)`` float32 linear: ``view`` of the run behind ``renderer`` (a
    :class:`~neutex.run.predict.FrameRenderer`) under the lights standing in for a map.

    Args:
        source: a :class:`~neutex.data.PreparedData` or :class:`~neutex.data.loader.GBufferTensors`.
        view: view index into ``source``.
        lights: the map's directional lights (:func:`neutex.envmap.sample_envmap`).
        e_ref: ``(3,)`` the irradiance each light is rendered at (:func:`reference_irradiance`).
    """
    t = source if isinstance(source, GBufferTensors) else GBufferTensors.of(source, renderer.device)
    out = torch.zeros(3, t.uv.shape[1], t.uv.shape[2], device=renderer.device)
    for f in relight_frames(renderer, source, view, lights, e_ref):
        out += f.sum(0)
    return out
