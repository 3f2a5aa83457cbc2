"""The capture: capture.json schema, validation, image IO, importers."""

from neutex.capture.imageio import read_image, read_mask, write_exr, write_png, write_png_codes
from neutex.capture.schema import (
    FORMAT,
    Camera,
    Capture,
    Frame,
    Light,
    Sequence,
    check_rigid,
    load_capture,
    look_at,
    parse_capture,
    pinhole_K,
    save_capture,
    validate_files,
)

__all__ = [
    "FORMAT", "Camera", "Capture", "Frame", "Light", "Sequence", "check_rigid", "load_capture", "look_at",
    "parse_capture", "pinhole_K", "save_capture", "validate_files", "read_image", "read_mask", "write_exr",
    "write_png", "write_png_codes",
]
