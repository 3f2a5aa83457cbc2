"""The capture: capture.json schema, validation, image IO, importers."""

from neutex.capture.imageio import (
    ImageReadError,
    png_bit_depth,
    read_array_file,
    read_image,
    read_mask,
    write_exr,
    write_png,
    write_png_codes,
)
from neutex.capture.schema import (
    FORMAT,
    GBUFFER_KEYS,
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
    read_camera_gbuffer,
    save_capture,
    validate_files,
)

__all__ = [
    "FORMAT", "GBUFFER_KEYS", "Camera", "Capture", "Frame", "Light", "Sequence", "check_rigid", "load_capture", "look_at",
    "parse_capture", "pinhole_K", "read_camera_gbuffer", "save_capture", "validate_files",
    "ImageReadError", "png_bit_depth", "read_array_file", "read_image", "read_mask", "write_exr", "write_png",
    "write_png_codes",
]
