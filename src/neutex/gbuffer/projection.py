"""Camera projection shared by the GL rasterizer and the numpy reference.

Pixel centres sit at integer coordinates: the centre of the pixel in column i, row j projects
to (i, j), and image row 0 is the top (OpenCV, y down). The GL projection built here maps
pixel coordinate x to window coordinate x + 0.5 (GL puts pixel centres at half-integers) and
keeps y pointing the same way as GL's window y, so GL's bottom-up readback row r *is* image
row r: no flip, no half-pixel slip.
"""

from __future__ import annotations

import numpy as np

from neutex.errors import CaptureError


def camera_points(camera, points: np.ndarray) -> np.ndarray:
    """World points ``(N, 3)`` -> camera-space points ``(N, 3)`` float64 (OpenCV: z forward)."""
    w2c = np.asarray(camera.world_to_camera, np.float64)
    p = np.asarray(points, np.float64)
    return p @ w2c[:3, :3].T + w2c[:3, 3]


def project_points(camera, points: np.ndarray) -> np.ndarray:
    """World points ``(N, 3)`` -> pixel coordinates ``(N, 2)`` float64 (x right, y down;
    the centre of pixel (i, j) is (i, j)).

    Examples:
        >>> import numpy as np
        >>> from neutex.capture import Camera, pinhole_K
        >>> cam = Camera("c", 5, 5, np.eye(4), K=pinhole_K(5, 5, 90.0))
        >>> project_points(cam, np.array([[0.0, 0.0, 1.0]])).tolist()
        [[2.0, 2.0]]
    """
    pc = camera_points(camera, points)
    if camera.model == "pinhole":
        K = np.asarray(camera.K, np.float64)
        q = pc @ K.T
        return q[:, :2] / q[:, 2:3]
    sx, sy = camera.scale
    cx, cy = camera.center
    return np.stack([sx * pc[:, 0] + cx, sy * pc[:, 1] + cy], 1)


def depth_range(camera, vertices: np.ndarray) -> tuple[float, float]:
    """Near and far camera-z planes enclosing ``vertices`` for this camera."""
    z = camera_points(camera, vertices)[:, 2]
    zmin, zmax = float(z.min()), float(z.max())
    # a margin relative to the depth span and to the magnitude (float32 clip-space precision)
    pad = 0.01 * (zmax - zmin) + 1e-3 * max(1.0, abs(zmin), abs(zmax))
    if camera.model == "pinhole":
        if zmax <= 0:
            raise CaptureError(f"camera {camera.id}: the whole mesh is behind the camera")
        far = zmax + pad
        return max(zmin - pad, far * 1e-4), far
    return zmin - pad, zmax + pad


def gl_projection(camera, near: float, far: float) -> np.ndarray:
    """(4, 4) float64 matrix from OpenCV camera space to GL clip space for this camera.

    x_ndc = 2 (x_pix + 0.5) / W - 1 and y_ndc = 2 (y_pix + 0.5) / H - 1, so pixel (i, j)'s
    centre lands on window coordinate (i + 0.5, j + 0.5) = GL's centre of fragment (i, j), and
    GL's readback row j is image row j. Depth maps [near, far] to [-1, 1].
    """
    W, H = camera.width, camera.height
    P = np.zeros((4, 4))
    if camera.model == "pinhole":
        K = np.asarray(camera.K, np.float64)
        fx, s, cx = K[0]
        fy, cy = K[1, 1], K[1, 2]
        P[0] = [2 * fx / W, 2 * s / W, 2 * (cx + 0.5) / W - 1, 0]
        P[1] = [0, 2 * fy / H, 2 * (cy + 0.5) / H - 1, 0]
        P[2] = [0, 0, (far + near) / (far - near), -2 * far * near / (far - near)]
        P[3] = [0, 0, 1, 0]
    else:
        sx, sy = camera.scale
        cx, cy = camera.center
        P[0] = [2 * sx / W, 0, 0, 2 * (cx + 0.5) / W - 1]
        P[1] = [0, 2 * sy / H, 0, 2 * (cy + 0.5) / H - 1]
        P[2] = [0, 0, 2 / (far - near), -(far + near) / (far - near)]
        P[3] = [0, 0, 0, 1]
    return P
