"""The numpy oracle rasterizer (tiny images only): the ground truth the GL path is
tested against. Same conventions: pixel centres at integer coordinates, row 0 at the top,
perspective-correct interpolation, nearest surface wins."""

from __future__ import annotations

import numpy as np

from neutex.capture.mesh import Mesh
from neutex.gbuffer.projection import camera_points, depth_range, project_points


def rasterize_oracle(mesh: Mesh, camera) -> dict[str, np.ndarray]:
    """Same output as :func:`~neutex.gbuffer.rasterize_gbuffers`, computed with barycentric
    coordinates at pixel centres, in float64, one triangle at a time (slow: tests only).

    Examples:
        >>> import numpy as np
        >>> from neutex.capture import Camera
        >>> quad = Mesh([[0, 0, 1], [3, 0, 1], [3, 3, 1], [0, 3, 1]], [[0, 1, 2], [0, 2, 3]])
        >>> cam = Camera("o", 4, 4, np.eye(4), model="orthographic", scale=(1.0, 1.0), center=(0.0, 0.0))
        >>> rasterize_oracle(quad, cam)["mask"].sum()  # pixel centres 0..3 inside [0, 3]²
        np.int64(16)
    """
    mesh = mesh.with_normals()
    W, H = int(camera.width), int(camera.height)
    pix = project_points(camera, mesh.vertices)
    z = camera_points(camera, mesh.vertices)[:, 2]
    near, _ = depth_range(camera, mesh.vertices)
    persp = camera.model == "pinhole"
    uvs = mesh.uvs if mesh.uvs is not None else np.zeros((len(mesh.vertices), 2))
    attrs = np.concatenate([np.asarray(mesh.vertices, np.float64), np.asarray(mesh.normals, np.float64),
                            np.asarray(uvs, np.float64)], 1)  # (N, 8)
    zbuf = np.full((H, W), np.inf)
    out = np.zeros((H, W, 8))
    for f in np.asarray(mesh.faces):
        if persp and (z[f] <= near * 0.999).any():
            continue  # no clipping: tests keep the mesh in front of the camera
        p = pix[f]
        area = (p[1, 0] - p[0, 0]) * (p[2, 1] - p[0, 1]) - (p[1, 1] - p[0, 1]) * (p[2, 0] - p[0, 0])
        if abs(area) < 1e-12:
            continue
        i0, i1 = max(int(np.ceil(p[:, 0].min())), 0), min(int(np.floor(p[:, 0].max())), W - 1)
        j0, j1 = max(int(np.ceil(p[:, 1].min())), 0), min(int(np.floor(p[:, 1].max())), H - 1)
        if i0 > i1 or j0 > j1:
            continue
        jj, ii = np.mgrid[j0:j1 + 1, i0:i1 + 1].astype(np.float64)
        b = np.empty((3,) + ii.shape)
        for k in range(3):
            a, c = p[(k + 1) % 3], p[(k + 2) % 3]
            b[k] = ((c[0] - a[0]) * (jj - a[1]) - (c[1] - a[1]) * (ii - a[0])) / area
        inside = (b >= 0).all(0)
        if persp:
            bw = b / z[f][:, None, None]
            depth = 1.0 / bw.sum(0)
            bw = bw * depth
        else:
            bw = b
            depth = np.tensordot(z[f], b, 1)
        win = inside & (depth < zbuf[j0:j1 + 1, i0:i1 + 1])
        if not win.any():
            continue
        val = np.tensordot(bw, attrs[f], axes=([0], [0]))  # (h, w, 8)
        zb = zbuf[j0:j1 + 1, i0:i1 + 1]
        ob = out[j0:j1 + 1, i0:i1 + 1]
        zb[win] = depth[win]
        ob[win] = val[win]
    mask = np.isfinite(zbuf)
    n = out[..., 3:6]
    n = n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-20)
    return {"uv": out[..., 6:8].astype(np.float32), "normal": (n * mask[..., None]).astype(np.float32),
            "position": out[..., 0:3].astype(np.float32), "mask": mask,
            "depth": np.where(mask, zbuf, 0.0).astype(np.float32)}
