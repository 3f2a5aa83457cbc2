"""Video and display images: tone mapping to 8 bits, captions, side-by-side panels, mp4 (8-bit
PNGs are written by :func:`neutex.capture.imageio.write_png_codes`).

mp4s are H.264 yuv420p via imageio-ffmpeg (the wheel carries ffmpeg), so they play in
browsers; frames are padded to even sizes, which yuv420p requires.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from neutex.color import tonemap


def to_uint8(img_linear, white: float = 1.0, exposure: float = 0.0) -> np.ndarray:
    """Linear HDR ``(..., 3, H, W)`` tensor or ``(..., H, W, 3)`` array -> display uint8 ``(..., H, W, 3)``.

    Tone mapping is :func:`neutex.color.tonemap` (divide by ``white``, clip, sRGB curve); a
    tensor is mapped with torch where it lies (fast for whole batches of frames).

    Args:
        img_linear: linear radiance.
        white: linear value shown as white.
        exposure: stops added before tone mapping (``x * 2**exposure``).

    Examples:
        >>> to_uint8(np.full((1, 1, 3), 0.5), white=1.0, exposure=1.0).tolist()
        [[[255, 255, 255]]]
        >>> to_uint8(torch.full((3, 1, 1), 0.5), white=1.0).tolist() == to_uint8(np.full((1, 1, 3), 0.5)).tolist()
        True
    """
    if isinstance(img_linear, torch.Tensor):
        x = img_linear.detach().float()
        x = tonemap(x * (2.0 ** exposure), white)
        x = torch.round(x * 255).clamp_(0, 255).to(torch.uint8)
        return x.movedim(-3, -1).cpu().numpy()
    x = np.asarray(img_linear, np.float32)
    x = tonemap(x * np.float32(2.0 ** exposure), np.float32(white))
    return np.clip(np.round(x * 255), 0, 255).astype(np.uint8)


def error_heatmap(pred_linear: np.ndarray, gt_linear: np.ndarray, mask: np.ndarray | None = None,
                  vmax: float | None = None) -> np.ndarray:
    """Per-pixel absolute error ``(H, W, 3)`` linear -> ``(H, W, 3)`` uint8 heat map (magma).

    ``vmax`` defaults to the 99th percentile of the error on object pixels.
    """
    from matplotlib import colormaps  # heavy optional dependency: only for a heat map

    err = np.abs(pred_linear.astype(np.float32) - gt_linear.astype(np.float32)).mean(-1)
    sel = err[mask] if mask is not None and mask.any() else err
    vmax = vmax or float(np.percentile(sel, 99)) or 1e-6
    rgb = colormaps["magma"](np.clip(err / vmax, 0, 1))[..., :3]
    if mask is not None:
        rgb = rgb * mask[..., None]
    return np.round(rgb * 255).astype(np.uint8)


def caption(frame: np.ndarray, text: str, scale: int = 1, corner: str = "top-left",
            box: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """Burn ``text`` into a corner (``top-left`` or ``bottom-left``) of a uint8 ``(H, W, 3)``
    frame: white on a ``box``-coloured background."""
    from PIL import Image, ImageDraw, ImageFont

    im = Image.fromarray(np.ascontiguousarray(frame))
    draw = ImageDraw.Draw(im)
    size = max(8, min(frame.shape[0], frame.shape[1]) // 12) * scale
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # old Pillow
        font = ImageFont.load_default()
    x, y = 2, 1
    bb = draw.textbbox((x, y), text, font=font)
    if corner == "bottom-left":
        y = frame.shape[0] - (bb[3] - bb[1]) - 4
        bb = draw.textbbox((x, y), text, font=font)
    elif corner != "top-left":
        raise ValueError(f"corner: {corner!r} is not top-left or bottom-left")
    draw.rectangle((bb[0] - 2, bb[1] - 1, bb[2] + 2, bb[3] + 2), fill=tuple(box))
    draw.text((x, y), text, fill=(255, 255, 255), font=font)
    return np.asarray(im)


def hstack(panels: Sequence[np.ndarray], gap: int = 2) -> np.ndarray:
    """Side-by-side uint8 panels of equal height with a black gap."""
    h = max(p.shape[0] for p in panels)
    out = []
    for i, p in enumerate(panels):
        if p.shape[0] != h:
            p = np.pad(p, ((0, h - p.shape[0]), (0, 0), (0, 0)))
        out.append(p)
        if i < len(panels) - 1 and gap:
            out.append(np.zeros((h, gap, 3), np.uint8))
    return np.concatenate(out, 1)


def _even(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)))


def write_video(frames: Iterable[np.ndarray], path: str | Path, fps: float = 30.0) -> Path:
    """Write uint8 ``(H, W, 3)`` frames to an H.264 mp4 (atomically: temp file + rename).

    ``frames`` may be a generator: frames are encoded as they come (rendering and encoding
    overlap; nothing is held in memory). On an error no file is left behind.
    """
    import imageio.v2 as iio  # heavy optional dependency (ffmpeg): imported only to write a video

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    writer = iio.get_writer(tmp, fps=fps, codec="libx264", quality=8, macro_block_size=1,
                            pixelformat="yuv420p", ffmpeg_log_level="error")
    try:
        for f in frames:
            writer.append_data(_even(np.asarray(f, np.uint8)))
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    writer.close()
    tmp.replace(path)
    return path


def read_video(path: str | Path) -> np.ndarray:
    """Read an mp4 back as uint8 ``(T, H, W, 3)``."""
    import imageio.v2 as iio  # heavy optional dependency (ffmpeg): imported only to read a video

    with iio.get_reader(path) as r:
        return np.stack([np.asarray(f)[..., :3] for f in r])

