"""Importers: public datasets -> neutex captures (``neutex import <dataset> SRC --out DIR``).

Every name is imported on first use (:func:`neutex.lazy.lazy_exports`), so
``import neutex.capture.importers`` stays light.
"""

from __future__ import annotations

from neutex.lazy import lazy_exports

_LAZY = {
    "detect_light_rows": "neutex.capture.importers.diligent",
    "diligent_camera": "neutex.capture.importers.diligent",
    "import_diligent": "neutex.capture.importers.diligent",
    "read_diligent_normals": "neutex.capture.importers.diligent",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
