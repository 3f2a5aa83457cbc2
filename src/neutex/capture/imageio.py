"""The one image reader and writer of neutex: EXR, 8/16-bit PNG, JPEG -> linear float32.

Pillow truncates 16-bit RGB PNGs to 8 bits, so PNGs are decoded with OpenCV, which keeps
them at 16 bits; PNGs are written by a small lossless encoder (8 or 16 bit).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Literal

import numpy as np

from neutex.color import linear_to_srgb, srgb_to_linear
from neutex.errors import CaptureError

ColorSpace = Literal["srgb", "linear"]


def png_bit_depth(path: Path) -> int:
    """The bit depth (1..16) written in a PNG's IHDR chunk."""
    with open(path, "rb") as f:
        head = f.read(33)
    if len(head) < 33 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise CaptureError(f"{path}: not a PNG file (bad signature)")
    return head[24]


def _read_png(path: Path) -> np.ndarray:
    """PNG -> (H, W, C) float32 in [0, 1] at the file's full precision (8 or 16 bit).

    OpenCV keeps 16-bit RGB at 16 bits, where Pillow would reduce it to 8.
    """
    import cv2

    png_bit_depth(path)  # checks the signature; a corrupt header is a clear error
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise CaptureError(f"{path}: cannot decode PNG (truncated or corrupt)")
    if arr.ndim == 3:
        arr = arr[..., [2, 1, 0, 3][: arr.shape[-1]]] if arr.shape[-1] >= 3 else arr
    maxv = 65535.0 if arr.dtype == np.uint16 else 255.0
    return arr.astype(np.float32) / maxv


def _read_exr(path: Path) -> np.ndarray:
    import OpenEXR

    try:
        with OpenEXR.File(str(path)) as f:
            chans = f.channels()
            if "RGB" in chans:
                arr = np.asarray(chans["RGB"].pixels)
            elif "RGBA" in chans:
                arr = np.asarray(chans["RGBA"].pixels)[..., :3]
            elif all(c in chans for c in "RGB"):
                arr = np.stack([np.asarray(chans[c].pixels) for c in "RGB"], -1)
            elif "Y" in chans:
                arr = np.asarray(chans["Y"].pixels)[..., None]
            else:
                raise CaptureError(f"{path}: EXR has no RGB or Y channels (has {sorted(chans)})")
    except CaptureError:
        raise
    except Exception as exc:
        raise CaptureError(f"{path}: cannot read EXR ({exc})") from None
    return arr.astype(np.float32)


def read_image(path: str | Path, color_space: ColorSpace = "linear", return_max: bool = False):
    """Read an image as linear float32 ``(H, W, 3)``.

    Args:
        path: ``.exr`` (always linear), ``.png`` (8 or 16 bit) or ``.jpg``/``.jpeg``.
        color_space: how PNG/JPEG code values are encoded; ``srgb`` is decoded to linear.
        return_max: also return a ``(H, W)`` bool mask of saturated pixels (any channel at the
            format's maximum code value; all False for EXR).

    Raises:
        CaptureError: missing, truncated or undecodable file, or NaN/inf values.
    """
    path = Path(path)
    if not path.is_file():
        raise CaptureError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".exr":
        arr = _read_exr(path)
        saturated = np.zeros(arr.shape[:2], bool)
    elif suffix in (".png", ".jpg", ".jpeg"):
        if suffix == ".png":
            arr = _read_png(path)
        else:
            from PIL import Image

            try:
                with Image.open(path) as im:
                    im.load()
                    arr = np.asarray(im.convert("RGB"), np.float32) / 255.0
            except Exception as exc:
                raise CaptureError(f"{path}: cannot decode JPEG ({exc})") from None
        arr = arr[..., :3] if arr.shape[-1] >= 3 else np.repeat(arr[..., :1], 3, -1)
        saturated = (arr >= 1.0).any(-1)
        if color_space == "srgb":
            arr = srgb_to_linear(arr).astype(np.float32)
    else:
        raise CaptureError(f"{path}: unsupported image format {suffix!r} (use .exr, .png, .jpg)")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, -1)
    if not np.isfinite(arr).all():
        n = int((~np.isfinite(arr)).any(-1).sum())
        raise CaptureError(f"{path}: {n} pixels are NaN or inf")
    return (arr, saturated) if return_max else arr


def read_mask(path: str | Path) -> np.ndarray:
    """Read a mask image as ``(H, W)`` bool (any channel > half of the maximum)."""
    arr = read_image(path, "linear")
    return arr.max(-1) > 0.5


def write_exr(path: str | Path, img: np.ndarray) -> None:
    """Write ``(H, W, 3)`` linear float as a half-float EXR, atomically."""
    import OpenEXR

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.exr")
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    pixels = np.ascontiguousarray(img[..., :3], dtype=np.float16)
    with OpenEXR.File(header, {"RGB": pixels}) as f:
        f.write(str(tmp))
    tmp.replace(path)


def write_png(path: str | Path, img: np.ndarray, bits: int = 8, color_space: ColorSpace = "srgb") -> None:
    """Write ``(H, W)`` or ``(H, W, 3)`` linear float in [0, 1] as an 8- or 16-bit PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = np.clip(np.asarray(img, np.float32), 0, 1)
    if color_space == "srgb":
        x = linear_to_srgb(x)
    maxv = 65535 if bits == 16 else 255
    q = np.round(x * maxv).astype(np.uint16 if bits == 16 else np.uint8)
    write_png_codes(path, q)


def write_png_codes(path: str | Path, codes: np.ndarray) -> None:
    """Write integer code values (uint8 or uint16, ``(H, W)`` or ``(H, W, 3)``) losslessly."""
    path = Path(path)
    codes = np.asarray(codes)
    if codes.ndim == 2:
        codes = codes[..., None]
    h, w, c = codes.shape
    color_type = {1: 0, 3: 2, 4: 6}[c]
    depth = 16 if codes.dtype == np.uint16 else 8
    if depth == 16:
        raw_rows = codes.astype(">u2").reshape(h, w * c * 2 // 2).view(np.uint8).reshape(h, -1)
    else:
        raw_rows = codes.astype(np.uint8).reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), raw_rows], 1).tobytes()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
