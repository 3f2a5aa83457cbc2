"""Importers: public datasets -> neutex captures (``neutex import <dataset> SRC --out DIR``)."""

from neutex.capture.importers.diligent import detect_light_rows, diligent_camera, import_diligent, read_diligent_normals

__all__ = ["detect_light_rows", "diligent_camera", "import_diligent", "read_diligent_normals"]
