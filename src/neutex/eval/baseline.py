"""Nearest-light baseline: what you get for a new light without any learning.

For a target light, take the photograph (same view) under the seen light whose direction, seen
from the object centre, is closest in angle; optionally rescale it per pixel by the ratio of the
two lights' Lambertian shading ``I · max(n·l, 0) / r²``. For a held-out view, reproject the
nearest seen view's prediction through the G-buffers. :class:`NearestLightBaseline` applies
these functions to a prepared dataset; it gives eval.json's ``baselines.nearest_light``
context: a learned relighter should beat it on novel lights.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from neutex.check import check_shape
from neutex.errors import DataError
from neutex.gbuffer.projection import camera_points, project_points
from neutex.model.pixel_geometry import lambert_shading, writable_tensor

#: default floor of the chosen light's shading, as a fraction of its peak over the object.
MIN_SHADING = 0.05


def light_directions(sources: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
    """Unit direction from ``center`` towards each homogeneous source.

    ``d = normalize(s.xyz − s.w · center)``: a point light's position relative to the centre, or
    a directional light's direction as it is.

    Args:
        sources: ``(L, 4)`` homogeneous sources (``x, y, z, 1`` point / ``dx, dy, dz, 0`` directional).
        center: ``(3,)`` world point (the object centre).

    Returns:
        ``(L, 3)`` unit vectors.

    Examples:
        >>> light_directions(torch.tensor([[0.0, 0.0, 3.0, 1.0], [2.0, 0.0, 0.0, 0.0]]), torch.tensor([0.0, 0.0, 1.0]))
        tensor([[0., 0., 1.],
                [1., 0., 0.]])
    """
    check_shape(sources, "L 4", "sources")
    d = sources[:, :3] - sources[:, 3:4] * center.reshape(1, 3).to(sources.dtype)
    return d / d.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def nearest_light_index(seen_sources, target_sources, center=None) -> torch.Tensor:
    """Index of the seen light closest in angle to each target light, seen from ``center``.

    Angular distance ``acos(d_seen · d_target)`` with :func:`light_directions`; the smallest wins
    (the first one on a tie).

    Args:
        seen_sources: ``(Ls, 4)`` homogeneous.
        target_sources: ``(Lt, 4)`` homogeneous.
        center: ``(3,)`` object centre; default the world origin.

    Returns:
        ``(Lt,)`` long indices into ``seen_sources``.

    Examples:
        >>> seen = torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [-1.0, 0, 0, 0]])
        >>> nearest_light_index(seen, torch.tensor([[0.2, 1.0, 0.0, 1.0]]))
        tensor([1])
    """
    seen = writable_tensor(seen_sources, torch.float64)
    target = writable_tensor(target_sources, torch.float64)
    check_shape(target, "L 4", "target_sources")
    c = torch.zeros(3, dtype=torch.float64) if center is None else writable_tensor(center, torch.float64)
    cos = light_directions(target, c) @ light_directions(seen, c).T
    return cos.argmax(dim=1)


def nearest_light_predictions(
    seen_images,
    seen_sources,
    target_sources,
    position,
    normal,
    intensities_seen,
    intensities_target,
    rescale: bool = True,
    mask=None,
    center=None,
    min_shading: float = MIN_SHADING,
    chunk: int = 16,
) -> torch.Tensor:
    """Nearest-light baseline for many target lights at once (one view).

    For target light t with chosen seen light c = :func:`nearest_light_index`:
    ``pred_t = img_c`` or, with ``rescale``, ``pred_t = img_c · S_t / max(S_c, f_c)`` per pixel
    and channel, with ``S = I · max(n·l, 0) / r²`` (:func:`lambert_shading`) and the floor
    ``f_c = min_shading · max_{object} S_c``: where the chosen light barely lights a pixel the
    ratio is bounded by ``S_t / f_c`` instead of blowing up (a pixel the chosen light does not
    light at all stays as dark as it is in ``img_c``; a chosen light that lights no pixel of
    the object leaves the image unscaled). Exact for a Lambertian object wherever
    ``S_c ≥ f_c``; where the floor applies it lies between 0 and the exact value. Outside
    ``mask`` the chosen image is returned unscaled.

    Args:
        seen_images: ``(Ls, H, W, 3)`` linear images of one view under the seen lights.
        seen_sources: ``(Ls, 4)`` homogeneous sources.
        target_sources: ``(Lt, 4)`` homogeneous sources to predict.
        position: ``(H, W, 3)`` world positions of the view's pixels.
        normal: ``(H, W, 3)`` world unit normals.
        intensities_seen: ``(Ls, 3)``, intensities_target: ``(Lt, 3)`` RGB.
        rescale: apply the shading ratio.
        mask: ``(H, W)`` bool object mask (centre, shading peak, where to rescale); default all.
        center: ``(3,)`` object centre for the angular distance; default the mean position
            over ``mask`` if given, else the world origin.
        min_shading: the floor fraction (0.05).
        chunk: target lights processed at once.

    Returns:
        ``(Lt, H, W, 3)`` float32 linear predictions.
    """
    imgs = writable_tensor(seen_images)
    check_shape(imgs, "L H W 3", "seen_images")
    seen, target = writable_tensor(seen_sources), writable_tensor(target_sources)
    check_shape(seen, "L 4", "seen_sources")
    check_shape(target, "L 4", "target_sources")
    i_seen, i_target = writable_tensor(intensities_seen), writable_tensor(intensities_target)
    check_shape(i_seen, "L 3", "intensities_seen")
    check_shape(i_target, "L 3", "intensities_target")
    if seen.shape[0] != imgs.shape[0] or i_seen.shape[0] != imgs.shape[0]:
        raise DataError(f"seen_sources: {seen.shape[0]} lights and {i_seen.shape[0]} intensities for {imgs.shape[0]} images")
    if i_target.shape[0] != target.shape[0]:
        raise DataError(f"intensities_target: {i_target.shape[0]} rows for {target.shape[0]} target lights")
    position, normal = writable_tensor(position), writable_tensor(normal)
    h, w = imgs.shape[1:3]
    if tuple(position.shape[:2]) != (h, w) or tuple(normal.shape[:2]) != (h, w):
        raise DataError(f"position/normal: size {tuple(position.shape[:2])} does not match images {h}x{w}")
    m = torch.ones(h, w, dtype=torch.bool) if mask is None else writable_tensor(mask, torch.bool)
    if center is None:
        center = position[m].mean(0) if mask is not None and bool(m.any()) else torch.zeros(3)
    idx = nearest_light_index(seen, target, center)
    chosen = imgs[idx]
    if not rescale:
        return chosen
    out = []
    for s in range(0, target.shape[0], chunk):
        c = idx[s:s + chunk]
        s_t = lambert_shading(position, normal, target[s:s + chunk], i_target[s:s + chunk])
        s_c = lambert_shading(position, normal, seen[c], i_seen[c])
        peak = torch.where(m[None, :, :, None], s_c, torch.zeros(())).amax(dim=(1, 2), keepdim=True)
        ratio = s_t / torch.maximum(s_c, (min_shading * peak).clamp_min(1e-20))
        # a chosen light that lights none of the object gives no shading to rescale by
        ratio = torch.where(m[None, :, :, None] & (peak > 0), ratio, torch.ones(()))
        out.append(chosen[s:s + chunk] * ratio)
    return torch.cat(out)


def nearest_light_prediction(
    seen_images,
    seen_sources,
    target_source,
    position,
    normal,
    intensities_seen,
    intensity_target,
    rescale: bool = True,
    mask=None,
    center=None,
    min_shading: float = MIN_SHADING,
) -> torch.Tensor:
    """Nearest-light baseline for one target light: :func:`nearest_light_predictions` with Lt = 1.

    Args:
        seen_images: ``(Ls, H, W, 3)`` linear, one view.
        seen_sources: ``(Ls, 4)`` homogeneous.
        target_source: ``(4,)`` homogeneous.
        position, normal: ``(H, W, 3)`` world.
        intensities_seen: ``(Ls, 3)``; intensity_target: ``(3,)``.
        rescale, mask, center, min_shading: see :func:`nearest_light_predictions`.

    Returns:
        ``(H, W, 3)``.

    Examples:
        >>> n = torch.tensor([0.0, 0.0, 1.0]).expand(4, 4, 3)
        >>> p = torch.zeros(4, 4, 3)
        >>> seen = torch.tensor([[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
        >>> imgs = 0.5 * lambert_shading(p, n, seen, torch.ones(2, 3))  # albedo 0.5
        >>> tgt = torch.tensor([0.0, 0.6, 0.8, 0.0])
        >>> pred = nearest_light_prediction(imgs, seen, tgt, p, n, torch.ones(2, 3), torch.ones(3))
        >>> round(pred[0, 0, 0].item(), 4)  # 0.5 * cos = 0.5 * 0.8
        0.4
    """
    tgt = writable_tensor(target_source).reshape(1, 4)
    it = writable_tensor(intensity_target).reshape(1, 3)
    return nearest_light_predictions(
        seen_images, seen_sources, tgt, position, normal, intensities_seen, it,
        rescale=rescale, mask=mask, center=center, min_shading=min_shading,
    )[0]


def reproject(img_src: np.ndarray, cam_src, depth_src: np.ndarray, mask_src: np.ndarray,
              position_dst: np.ndarray, mask_dst: np.ndarray, depth_tol: float = 0.02) -> np.ndarray:
    """Warp a source view's image into a destination view through world positions.

    Args:
        img_src: ``(H, W, 3)`` linear image of the source view.
        cam_src: the source :class:`~neutex.capture.Camera`.
        depth_src: ``(H, W)`` camera-z depth of the source view; mask_src ``(H, W)`` bool.
        position_dst: ``(H, W, 3)`` world positions of the destination view; mask_dst ``(H, W)``.
        depth_tol: relative depth tolerance of the visibility test.

    Returns:
        ``(H, W, 3)`` float32; zero where the source does not see the point.
    """
    h, w = mask_dst.shape
    pts = position_dst.reshape(-1, 3).astype(np.float64)
    pix = project_points(cam_src, pts)
    z = camera_points(cam_src, pts)[:, 2]
    hs, ws = depth_src.shape
    xi = np.clip(np.round(pix[:, 0]).astype(int), 0, ws - 1)
    yi = np.clip(np.round(pix[:, 1]).astype(int), 0, hs - 1)
    inside = (pix[:, 0] > -0.5) & (pix[:, 0] < ws - 0.5) & (pix[:, 1] > -0.5) & (pix[:, 1] < hs - 0.5)
    d = depth_src[yi, xi]
    visible = inside & mask_src[yi, xi] & (np.abs(z - d) <= depth_tol * np.maximum(np.abs(d), 1e-6))
    visible &= mask_dst.reshape(-1)
    # pixel centres are integer coordinates: align_corners=True maps 0 and W-1 to -1 and 1
    grid = torch.from_numpy(np.stack([2 * pix[:, 0] / max(ws - 1, 1) - 1, 2 * pix[:, 1] / max(hs - 1, 1) - 1], -1))
    src = torch.from_numpy(np.ascontiguousarray(img_src, np.float32)).permute(2, 0, 1)[None]
    out = F.grid_sample(src, grid.float().view(1, h, w, 2), mode="bilinear", padding_mode="border",
                        align_corners=True)[0].permute(1, 2, 0).numpy()
    return out * visible.reshape(h, w, 1)


class NearestLightBaseline:
    """The baseline eval.json reports beside the model, from the training images only (seen
    views x seen lights):

    - seen view, any light: :func:`nearest_light_prediction` (the same view under the nearest
      seen light, rescaled by the ratio of Lambertian shading);
    - held-out view: the nearest seen view's prediction for that light, reprojected (:func:`reproject`)
      into the held-out view through the G-buffers (world position -> the seen camera's pixel,
      with a depth test for occlusion). Pixels the seen view cannot see stay black and count
      as error.

    A learned relighter that does not beat it has not learned to relight.
    """

    def __init__(self, data) -> None:
        self.data = data
        self.seen_lights = np.asarray(data.seen_lights)
        self.seen_views = np.asarray(data.seen_views)
        self._view_cache: dict[int, np.ndarray] = {}
        cams = data.camera_sources
        self._cam_dir = cams[:, :3] / np.linalg.norm(cams[:, :3], axis=1, keepdims=True)

    def _seen_images(self, view: int) -> np.ndarray:
        if view not in self._view_cache:
            self._view_cache = {view: np.asarray(self.data.images[view, self.seen_lights], np.float32)}
        return self._view_cache[view]

    def _relit(self, view: int, light: int) -> np.ndarray:
        d = self.data
        intens = d.light_intensities
        return nearest_light_prediction(
            self._seen_images(view), d.light_sources[self.seen_lights], d.light_sources[light],
            np.asarray(d.position[view], np.float32), np.asarray(d.normal[view], np.float32),
            intens[self.seen_lights], intens[light], rescale=True, mask=np.asarray(d.mask[view], bool)).numpy()

    def nearest_seen_view(self, view: int) -> int:
        """The seen view whose direction from the object centre is closest to ``view``'s."""
        cos = self._cam_dir[self.seen_views] @ self._cam_dir[view]
        return int(self.seen_views[int(np.argmax(cos))])

    def predict(self, view: int, light: int) -> torch.Tensor:
        """``(3, H, W)`` float32 linear baseline image for a (view, light) pair."""
        d = self.data
        if view in set(self.seen_views.tolist()):
            img = self._relit(view, light)
        else:
            src = self.nearest_seen_view(view)
            img = reproject(self._relit(src, light), d.cameras[src], np.asarray(d.depth[src], np.float32),
                            np.asarray(d.mask[src], bool), np.asarray(d.position[view], np.float32),
                            np.asarray(d.mask[view], bool))
        return torch.from_numpy(np.ascontiguousarray(img, np.float32)).permute(2, 0, 1)
