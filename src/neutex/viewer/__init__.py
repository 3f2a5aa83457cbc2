"""The interactive web viewer (``neutex view``, docs/viewer.md): :class:`ViewerEngine` draws
frames (no web code), :class:`ViewerApp` serves them with viser.

Names are imported on first use (they need torch or viser)."""

from __future__ import annotations

from neutex.lazy import lazy_exports

_LAZY = {
    "ViewerEngine": "neutex.viewer.engine",
    "Lighting": "neutex.viewer.engine",
    "camera_from_pose": "neutex.viewer.engine",
    "wxyz_of": "neutex.viewer.engine",
    "ViewerApp": "neutex.viewer.app",
    "check_port": "neutex.viewer.app",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
