"""The one image reader and writer of neutex: EXR, 8/16-bit PNG, JPEG -> linear float32.

Pillow truncates 16-bit RGB PNGs to 8 bits, so PNGs are decoded with OpenCV, which keeps
them at 16 bits; PNGs are written by a small lossless encoder (8 or 16 bit).

Colour: EXR is always linear; PNG follows the ``color_space`` it is read with (``srgb`` is
decoded to linear); JPEG is always sRGB-encoded and always decoded to linear.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import struct
import sys
import threading
import zlib
from pathlib import Path
from typing import Literal

import numpy as np

from neutex.color import linear_to_srgb, srgb_to_linear
from neutex.errors import CaptureError

ColorSpace = Literal["srgb", "linear"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_HALF_MAX = 65504.0


class ImageReadError(CaptureError):
    """An image file cannot be used: missing, truncated, undecodable, or with NaN/inf values.

    The message is ``"<path>: <problem>"``; ``path`` and ``problem`` are kept apart so that
    callers can name the file the way the user wrote it (e.g. relative to capture.json).
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem


_QUIET_LOCK = threading.RLock()


def _flush_c_stdio() -> None:
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def quiet_native_output():
    """Silence what libraries write to the process's stdout and stderr while a file is
    decoded (OpenCV's ``[ WARN:0@0.008] ...``, OpenEXR's ``Warning: Exception raised ...`` on
    stdout): a bad file becomes one :class:`ImageReadError` from neutex, with no library lines
    around it. Python's own streams are flushed first and are back afterwards."""
    with _QUIET_LOCK:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            saved = [os.dup(1), os.dup(2)]
        except (OSError, ValueError, AttributeError):  # no real fds 1 and 2 (embedded interpreters)
            saved = None
        if saved is None:
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            # bindings may also print through Python's sys.stdout (pybind11's py::print)
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                yield
        finally:
            _flush_c_stdio()  # what the library left in C's stdout buffer goes to /dev/null too
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in (*saved, devnull):
                os.close(fd)


def png_bit_depth(path: str | Path) -> int:
    """The bit depth (1, 2, 4, 8 or 16) written in a PNG's IHDR chunk."""
    with open(path, "rb") as f:
        head = f.read(33)
    if len(head) < 33 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        raise ImageReadError(path, "not a PNG file (bad signature or header)")
    return head[24]


def _read_png_codes(path: Path) -> np.ndarray:
    """PNG -> integer code values ``(H, W, C)``, uint8 or uint16, channels in file order (RGB[A])."""
    import cv2  # heavy optional dependency (OpenCV): imported only when a PNG is decoded

    png_bit_depth(path)  # a clear error for a non-PNG or a cut header
    data = np.fromfile(path, np.uint8)
    with quiet_native_output():
        arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ImageReadError(path, "cannot decode PNG (truncated or corrupt)")
    if arr.ndim == 2:
        arr = arr[..., None]
    elif arr.shape[-1] >= 3:
        arr = arr[..., [2, 1, 0, 3][: arr.shape[-1]]]  # OpenCV's BGR(A) -> RGB(A)
    return arr


def _read_exr_channels(path: Path) -> np.ndarray:
    """EXR -> float32 ``(H, W, C)``: RGB (C=3), RG (C=2, e.g. uv) or Y (C=1); alpha dropped."""
    import OpenEXR

    try:
        with quiet_native_output(), OpenEXR.File(str(path)) as f:
            chans = f.channels()
            if "RGB" in chans:
                arr = np.asarray(chans["RGB"].pixels)
            elif "RGBA" in chans:
                arr = np.asarray(chans["RGBA"].pixels)[..., :3]
            elif all(c in chans for c in "RGB"):
                arr = np.stack([np.asarray(chans[c].pixels) for c in "RGB"], -1)
            elif "R" in chans and "G" in chans:
                arr = np.stack([np.asarray(chans[c].pixels) for c in "RG"], -1)
            elif "Y" in chans:
                arr = np.asarray(chans["Y"].pixels)[..., None]
            else:
                raise ImageReadError(path, f"EXR has no RGB, RG or Y channels (has {sorted(chans)})")
    except CaptureError:
        raise
    except Exception:  # OpenEXR raises plain exceptions ("Unable to open ... for read") for damage
        raise ImageReadError(path, "not a readable EXR (truncated or corrupt)") from None
    return np.asarray(arr, np.float32)


def _read_jpeg(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with quiet_native_output(), Image.open(path) as im:
            im.load()  # raises on a truncated file (unless ImageFile.LOAD_TRUNCATED_IMAGES is set)
            return np.asarray(im.convert("RGB"), np.uint8)
    except Exception as exc:
        raise ImageReadError(path, f"cannot decode JPEG, truncated or corrupt ({exc})") from None


def _check_finite(path: Path, arr: np.ndarray) -> None:
    if not np.isfinite(arr).all():
        bad = ~np.isfinite(arr).reshape(arr.shape[0], arr.shape[1], -1).all(-1)
        row, col = np.argwhere(bad)[0]
        raise ImageReadError(path, f"{int(bad.sum())} pixels are NaN or inf (first at row {row}, column {col})")


def read_image(path: str | Path, color_space: ColorSpace = "linear", return_max: bool = False):
    """Read an image as linear float32 ``(H, W, 3)``.

    Args:
        path: ``.exr`` (always linear; half or float), ``.png`` (8 or 16 bit, read at full
            precision: code / 255 or code / 65535) or ``.jpg``/``.jpeg`` (always sRGB-encoded).
            Grey images are repeated to 3 channels; alpha is dropped.
        color_space: how PNG code values are encoded; ``srgb`` is decoded to linear.
        return_max: also return a ``(H, W)`` bool mask of saturated pixels: any channel at the
            format's maximum code value (255 or 65535) in the file. All False for EXR.

    Returns:
        ``img`` or, with ``return_max``, ``(img, saturated)``.

    Raises:
        CaptureError: (an :class:`ImageReadError`) missing, truncated or undecodable file,
            or NaN/inf values.

    Examples:
        >>> import tempfile, numpy as np
        >>> p = Path(tempfile.mkdtemp()) / "a.png"
        >>> write_png_codes(p, np.array([[[65535, 0, 1]]], np.uint16))
        >>> img, sat = read_image(p, "linear", return_max=True)
        >>> img.shape, img.dtype, bool(sat[0, 0]), round(float(img[0, 0, 2]) * 65535)
        ((1, 1, 3), dtype('float32'), True, 1)
    """
    if color_space not in ("srgb", "linear"):
        raise ValueError(f"color_space must be 'srgb' or 'linear', got {color_space!r}")
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(path, "file not found")
    suffix = path.suffix.lower()
    if suffix == ".exr":
        arr = _read_exr_channels(path)
        if arr.shape[-1] == 2:
            raise ImageReadError(path, "EXR has only R and G channels; an image needs RGB or Y")
        saturated = np.zeros(arr.shape[:2], bool)
    elif suffix in (".png", ".jpg", ".jpeg"):
        codes = _read_png_codes(path) if suffix == ".png" else _read_jpeg(path)
        codes = codes[..., :3] if codes.shape[-1] >= 3 else codes[..., :1]
        maxv = 65535 if codes.dtype == np.uint16 else 255
        saturated = (codes == maxv).any(-1)
        arr = codes.astype(np.float32) / np.float32(maxv)
        if suffix != ".png" or color_space == "srgb":
            arr = np.asarray(srgb_to_linear(arr), np.float32)
    else:
        raise ImageReadError(path, f"unsupported image format {suffix!r} (use .exr, .png, .jpg)")
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, -1)
    _check_finite(path, arr)
    return (arr, saturated) if return_max else arr


def read_mask(path: str | Path) -> np.ndarray:
    """Read a mask image as ``(H, W)`` bool: the maximum over colour channels > half of full
    scale (PNG code > 127 or > 32767; EXR value > 0.5). Alpha is ignored."""
    arr = read_image(path, "linear")
    return arr.max(-1) > 0.5


def read_array_file(path: str | Path) -> np.ndarray:
    """Read a data buffer (G-buffer) as float32 ``(H, W, C)`` without any colour decoding.

    ``.exr`` (RGB, RG or Y channels), ``.npy`` (``(H, W)`` or ``(H, W, C)``) or ``.png``
    (code / maximum code, for masks).
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(path, "file not found")
    suffix = path.suffix.lower()
    if suffix == ".exr":
        arr = _read_exr_channels(path)
    elif suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise ImageReadError(path, f"cannot read .npy, truncated or corrupt ({exc})") from None
        if arr.ndim == 2:
            arr = arr[..., None]
        if arr.ndim != 3 or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise ImageReadError(path, f"expected a numeric (H, W) or (H, W, C) array, got {arr.dtype} {arr.shape}")
        arr = arr.astype(np.float32)
    elif suffix == ".png":
        codes = _read_png_codes(path)
        arr = codes.astype(np.float32) / np.float32(65535 if codes.dtype == np.uint16 else 255)
    else:
        raise ImageReadError(path, f"unsupported buffer format {suffix!r} (use .exr, .npy, .png)")
    _check_finite(path, arr)
    return arr


def write_exr(path: str | Path, img: np.ndarray, half: bool = True) -> None:
    """Write linear float ``(H, W)``, ``(H, W, 1)`` (Y), ``(H, W, 2)`` (R, G) or ``(H, W, 3)``
    (RGB) as an EXR, atomically.

    Args:
        path: destination ``.exr``.
        img: finite values; with ``half`` within ±65504.
        half: half-float channels (default, compact) or 32-bit float (lossless for data such
            as 16-bit-accurate images, normals, uv).
    """
    import OpenEXR

    path = Path(path)
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 2, 3):
        raise ValueError(f"write_exr: expected (H, W), (H, W, 1|2|3), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"write_exr: {path}: image has NaN or inf values")
    if half and np.abs(arr).max(initial=0) > _HALF_MAX:
        raise ValueError(f"write_exr: {path}: values beyond the half-float range (±65504); use half=False")
    arr = np.ascontiguousarray(arr, dtype=np.float16 if half else np.float32)
    c = arr.shape[-1]
    channels = {"RGB": arr} if c == 3 else {"Y": arr[..., 0].copy()} if c == 1 else \
        {"R": arr[..., 0].copy(), "G": arr[..., 1].copy()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.exr")
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with OpenEXR.File(header, channels) as f:
        f.write(str(tmp))
    tmp.replace(path)


def write_png(path: str | Path, img: np.ndarray, bits: int = 8, color_space: ColorSpace = "srgb") -> None:
    """Write ``(H, W)`` or ``(H, W, 3)`` linear float in [0, 1] (clipped) as an 8- or 16-bit
    PNG, sRGB-encoded unless ``color_space`` is ``linear``."""
    if bits not in (8, 16):
        raise ValueError(f"write_png: bits must be 8 or 16, got {bits}")
    x = np.clip(np.asarray(img, np.float32), 0, 1)
    if color_space == "srgb":
        x = linear_to_srgb(x)
    maxv = 65535 if bits == 16 else 255
    q = np.round(x * maxv).astype(np.uint16 if bits == 16 else np.uint8)
    write_png_codes(path, q)


def write_png_codes(path: str | Path, codes: np.ndarray) -> None:
    """Write integer code values losslessly as a PNG, atomically.

    Args:
        path: destination ``.png``.
        codes: ``(H, W)`` or ``(H, W, C)`` with C in 1 (grey), 2 (grey + alpha), 3 (RGB),
            4 (RGBA); ``uint8`` (8-bit file), ``uint16`` (16-bit file) or ``bool``
            (8-bit, True = 255: a mask).
    """
    path = Path(path)
    codes = np.asarray(codes)
    if codes.dtype == bool:
        codes = codes.astype(np.uint8) * np.uint8(255)
    if codes.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"write_png_codes: codes must be uint8, uint16 or bool, got {codes.dtype}")
    if codes.ndim == 2:
        codes = codes[..., None]
    if codes.ndim != 3 or codes.shape[-1] not in (1, 2, 3, 4) or 0 in codes.shape:
        raise ValueError(f"write_png_codes: expected (H, W) or (H, W, 1..4), got {codes.shape}")
    h, w, c = codes.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    depth = 16 if codes.dtype == np.uint16 else 8
    if depth == 16:
        raw_rows = np.ascontiguousarray(codes, ">u2").view(np.uint8).reshape(h, -1)
    else:
        raw_rows = np.ascontiguousarray(codes).reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), raw_rows], 1).tobytes()  # filter 0 per row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0)
    data = _PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
