"""Every subpackage's face is the same: ``__all__`` from :func:`neutex.lazy.lazy_exports`, each
name resolving on first use, and importing the package itself loads no heavy library."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import neutex

ROOT = Path(neutex.__file__).parent
PACKAGES = sorted(".".join(("neutex", *p.parent.relative_to(ROOT).parts)) for p in ROOT.rglob("__init__.py")
                  if p.parent != ROOT)
HEAVY = ("torch", "matplotlib", "mitsuba", "moderngl", "trimesh", "imageio", "scipy", "tyro")


def test_every_subpackage_is_found():
    assert {"neutex.data", "neutex.run", "neutex.train", "neutex.capture.importers"} <= set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_face_is_lazy_exports_and_every_name_resolves(package):
    path = ROOT.joinpath(*package.split(".")[1:], "__init__.py")
    tree = ast.parse(path.read_text())
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [ast.unparse(n) for n in imports] == ["from __future__ import annotations",
                                                 "from neutex.lazy import lazy_exports"]
    mod = importlib.import_module(package)
    assert mod.__all__ == sorted(mod._LAZY) and mod.__all__
    for name in mod.__all__:
        assert getattr(mod, name) is not None, f"{package}.{name}"
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        mod.nope


def test_importing_the_packages_loads_no_heavy_library():
    code = f"import sys; import {', '.join(PACKAGES)}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
