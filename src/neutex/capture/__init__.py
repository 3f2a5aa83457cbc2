"""The capture: capture.json schema, validation, image IO, importers.

Every name is imported on first use (:func:`neutex.lazy.lazy_exports`), so
``import neutex.capture`` stays light.
"""

from __future__ import annotations

from neutex.lazy import lazy_exports

_LAZY = {
    "ImageReadError": "neutex.capture.imageio",
    "png_bit_depth": "neutex.capture.imageio",
    "read_array_file": "neutex.capture.imageio",
    "read_image": "neutex.capture.imageio",
    "read_mask": "neutex.capture.imageio",
    "write_exr": "neutex.capture.imageio",
    "write_png": "neutex.capture.imageio",
    "write_png_codes": "neutex.capture.imageio",
    "check_keys": "neutex.capture.keys",
    "Camera": "neutex.capture.schema",
    "Capture": "neutex.capture.schema",
    "check_paths_inside": "neutex.capture.schema",
    "check_rigid": "neutex.capture.schema",
    "FORMAT": "neutex.capture.schema",
    "Frame": "neutex.capture.schema",
    "GBUFFER_KEYS": "neutex.capture.schema",
    "Light": "neutex.capture.schema",
    "load_capture": "neutex.capture.schema",
    "look_at": "neutex.capture.schema",
    "parse_capture": "neutex.capture.schema",
    "pinhole_K": "neutex.capture.schema",
    "read_camera_gbuffer": "neutex.capture.schema",
    "save_capture": "neutex.capture.schema",
    "Sequence": "neutex.capture.schema",
    "validate_files": "neutex.capture.schema",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
