"""Baselines that use only the training images (seen views x seen lights), for context.

- seen view, any light: the same view under the nearest seen light, rescaled by the ratio of
  cosine/distance falloff (:func:`neutex.eval.baseline.nearest_light_prediction`);
- held-out view: the nearest seen view's baseline image for that light, reprojected into the
  held-out view through the G-buffers (world position -> the seen camera's pixel, with a
  depth test for occlusion). Pixels the seen view cannot see stay black and count as error.

A learned relighter that does not beat these has not learned to relight.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


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
    from neutex.gbuffer.projection import camera_points, project_points

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


class Baseline:
    """The nearest-light (and, for held-out views, nearest-view reprojection) baseline."""

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
        from neutex.eval.baseline import nearest_light_prediction

        d = self.data
        intens = np.stack([np.asarray(l.intensity, np.float32) for l in d.lights])
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
