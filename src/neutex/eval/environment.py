"""Scoring relighting under environment maps against ground truth (``neutex eval``'s
``environments`` section; docs/metrics.md).

For every environment of the prepared dataset and every view it was rendered at, the run's
relit image (:func:`neutex.render.envlight.relight_envmap`) and a non-learned baseline are
measured against the ground truth with :func:`neutex.eval.metrics.image_metrics` (masked
PSNR, tone-mapped PSNR, SSIM) at the environment's own white level.

The baseline, ``weighted_captures``, is the best answer without learning: the captured images
of that view under the *seen* stage lights, summed with weights from the map. Each seen light
takes the map's energy over its Voronoi cell on the sphere (the map directions nearer to it
than to any other seen light, seen from the object centre), divided by the irradiance it cast
on the centre. It is exact where the stage lights sample the map finely and are far away; it
blurs a sun onto the nearest stage light's direction and keeps the point lights' falloff
across the object. For a held-out view it uses photographs of that view the model never saw.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from neutex.envmap.latlong import EnvMap, pixel_solid_angles
from neutex.envmap.sampling import sample_envmap
from neutex.eval.metrics import aggregate, image_metrics
from neutex.render.envlight import reference_irradiance, relight_envmap


def capture_weights(env: EnvMap, light_sources: np.ndarray, light_intensities: np.ndarray) -> np.ndarray:
    """``(L, 3)`` weights of captured one-light images standing in for ``env``: the map's energy
    over each light's Voronoi cell (directions from the origin) over the irradiance the light
    casts on the origin.

    Examples:
        >>> e = EnvMap(np.ones((16, 32, 3), np.float32))
        >>> w = capture_weights(e, np.array([[0, 0, 2.0, 1], [0, 0, -2.0, 1]]), np.full((2, 3), 4.0))
        >>> np.round(w[:, 0] / (2 * np.pi), 3).tolist()  # each takes a hemisphere, 2π, at E = 4 / 2² = 1
        [1.0, 1.0]
    """
    src = np.asarray(light_sources, np.float64).reshape(-1, 4)
    dirs = src[:, :3] / np.maximum(np.linalg.norm(src[:, :3], axis=1, keepdims=True), 1e-12)
    d2 = np.where(src[:, 3] > 0.5, (src[:, :3] ** 2).sum(1), 1.0)
    e_l = np.asarray(light_intensities, np.float64).reshape(-1, 3) / d2[:, None]
    pix = env.directions().reshape(-1, 3)
    energy = (env.radiance * pixel_solid_angles(env.height, env.width)[..., None]).reshape(-1, 3)
    owner = np.argmax(pix @ dirs.T, axis=1)
    cell = np.stack([np.bincount(owner, energy[:, c], minlength=len(src)) for c in range(3)], 1)
    return cell / np.maximum(e_l, 1e-12)


def weighted_captures(data, view: int, env: EnvMap, lights: np.ndarray | None = None) -> torch.Tensor:
    """``(3, H, W)`` float32 linear baseline: ``Σ_l w_l ⊙ image[view, l]`` over ``lights``
    (default the seen lights with an image of ``view``), weights :func:`capture_weights`."""
    lights = np.asarray(data.seen_lights if lights is None else lights, np.int64)
    lights = lights[data.pair_exists[view, lights]]
    w = capture_weights(env, data.light_sources[lights], data.light_intensities[lights])
    out = np.zeros((data.height, data.width, 3), np.float64)
    for k in range(0, len(lights), 16):
        imgs = np.asarray(data.images[view, lights[k:k + 16]], np.float32)
        out += np.einsum("lhwc,lc->hwc", imgs, w[k:k + 16])
    return torch.from_numpy(out.astype(np.float32)).permute(2, 0, 1)


@torch.no_grad()
def evaluate_environments(loaded, samples: int = 64, sampling: str = "stratified") -> dict[str, Any]:
    """Metrics of relighting under every environment of ``loaded.data`` (a
    :class:`~neutex.run.LoadedRun`), beside the ``weighted_captures`` baseline.

    Returns:
        ``{name: {"views": [ids], "held_out_views": [ids], "samples": K requested, "lights": K used,
        "sampling", "white_level", "model": {n, psnr, psnr_tonemapped, ssim, ...},
        "baseline": {...}, "per_view": [{"view", "model": {...}, "baseline": {...}}]}}``.
    """
    data = loaded.data
    renderer = loaded.renderer()
    e_ref = reference_irradiance(data.light_sources, data.light_intensities)
    held = set(int(v) for v in data.held_out_views)
    out: dict[str, Any] = {}
    for env in data.environments:
        emap = env.envmap()
        lights = sample_envmap(emap, samples, sampling)  # type: ignore[arg-type]
        rows, brows, per_view = [], [], []
        for j, v in enumerate(env.views.tolist()):
            mask = torch.from_numpy(np.array(data.mask[v], bool))[None, None]
            gt = torch.from_numpy(np.asarray(env.frames[j], np.float32)).permute(2, 0, 1)[None] * mask
            pred = relight_envmap(renderer, data, v, lights, e_ref).cpu()[None]  # 0 off the mask already
            base = weighted_captures(data, v, emap)[None] * mask
            m = image_metrics(pred, gt, mask, white=env.white_level)
            b = image_metrics(base, gt, mask, white=env.white_level)
            rows.append(m)
            brows.append(b)
            per_view.append({"view": data.view_ids[v], "held_out_view": v in held,
                             "model": {k: float(x[0]) for k, x in m.items()},
                             "baseline": {k: float(x[0]) for k, x in b.items()}})
        out[env.name] = {"views": [data.view_ids[v] for v in env.views.tolist()],
                         "held_out_views": [data.view_ids[v] for v in env.views.tolist() if v in held],
                         "samples": int(samples), "lights": len(lights), "sampling": sampling,
                         "white_level": env.white_level, "reference_irradiance": e_ref.tolist(),
                         "ground_truth": env.generator,
                         "model": aggregate(rows), "baseline": aggregate(brows), "per_view": per_view}
    return out
