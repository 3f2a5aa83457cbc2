"""Choosing and setting the Mitsuba variant.

``llvm_ad_rgb`` is several times faster than ``scalar_rgb`` but needs a working LLVM shared
library, and the wrong one aborts the whole process (LLVM 15 dies on the first render with
``Cannot select ... fminimum``). So the LLVM variant is first *probed* in a subprocess that
renders a tiny scene; only if that succeeds is it used here, else ``scalar_rgb`` with a message.
``DRJIT_LIBLLVM_PATH`` is set to the newest ``libLLVM`` found when the user has not set it.

:func:`set_variant` is the only place in neutex that calls ``mitsuba.set_variant``; nothing
imports Mitsuba at module import time.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
from typing import Literal

from neutex.errors import DependencyError

Variant = Literal["auto", "llvm_ad_rgb", "scalar_rgb"]

LLVM_ENV = "DRJIT_LIBLLVM_PATH"

_LLVM_GLOBS = (
    "/usr/lib/x86_64-linux-gnu/libLLVM*.so*",
    "/usr/lib/aarch64-linux-gnu/libLLVM*.so*",
    "/usr/lib/llvm-*/lib/libLLVM*.so*",
    "/usr/lib64/libLLVM*.so*",
    "/usr/local/lib/libLLVM*.so*",
    "/opt/homebrew/opt/llvm/lib/libLLVM.dylib",
    "/usr/local/opt/llvm/lib/libLLVM.dylib",
)

#: The probe renders a principled BSDF lit by a point light: the kernels that crash with a bad LLVM.
_PROBE_CODE = """
import mitsuba as mi
mi.set_variant("llvm_ad_rgb")
scene = mi.load_dict({
    "type": "scene", "integrator": {"type": "path", "max_depth": 3},
    "sensor": {"type": "perspective", "fov": 40,
               "to_world": mi.ScalarTransform4f().look_at(origin=[0, 0, 4], target=[0, 0, 0], up=[0, 1, 0]),
               "film": {"type": "hdrfilm", "width": 8, "height": 8, "rfilter": {"type": "box"}},
               "sampler": {"type": "independent", "sample_count": 2}},
    "shape": {"type": "sphere", "bsdf": {"type": "principled", "roughness": 0.3}},
    "light": {"type": "point", "position": [1, 1, 3], "intensity": {"type": "rgb", "value": [5, 5, 5]}},
})
img = mi.render(scene)
import numpy as np
assert np.isfinite(np.asarray(img)).all() and float(np.asarray(img).max()) > 0
print("NEUTEX_PROBE_OK")
"""

_probe_cache: dict[str, tuple[bool, str]] = {}
_current: str | None = None


def _llvm_version(path: str) -> tuple[int, ...]:
    m = re.search(r"LLVM[-.]?(?:so\.)?(\d+)(?:\.(\d+))?", os.path.basename(path))
    return tuple(int(g) for g in m.groups() if g) if m else (0,)


def find_libllvm() -> list[str]:
    """Candidate LLVM shared libraries on this machine, newest version first (LLVM 15 last:
    it aborts Dr.Jit here). The user's ``DRJIT_LIBLLVM_PATH`` is not included."""
    found: dict[str, str] = {}
    for pattern in _LLVM_GLOBS:
        for p in glob.glob(pattern):
            real = os.path.realpath(p)
            if os.path.isfile(real) and real not in found:
                found[real] = p
    paths = sorted(found, key=_llvm_version, reverse=True)
    return [p for p in paths if _llvm_version(p)[0] != 15] + [p for p in paths if _llvm_version(p)[0] == 15]


def probe_llvm(libllvm: str | None, timeout: float = 120.0) -> tuple[bool, str]:
    """Render a tiny scene with ``llvm_ad_rgb`` in a subprocess.

    Args:
        libllvm: path for ``DRJIT_LIBLLVM_PATH`` in the child (None: the child's default lookup).
        timeout: seconds before the probe counts as failed.

    Returns:
        ``(ok, reason)``; reason is the last line of the child's error output when it failed.
    """
    key = libllvm or ""
    if key in _probe_cache:
        return _probe_cache[key]
    env = dict(os.environ)
    if libllvm:
        env[LLVM_ENV] = libllvm
    else:
        env.pop(LLVM_ENV, None)
    try:
        res = subprocess.run([sys.executable, "-c", _PROBE_CODE], env=env, capture_output=True, text=True,
                             timeout=timeout)
        ok = res.returncode == 0 and "NEUTEX_PROBE_OK" in res.stdout
        lines = [ln.strip() for ln in (res.stderr or res.stdout).splitlines() if ln.strip()]
        reason = "ok" if ok else (lines[-1] if lines else f"exit code {res.returncode}")
        if not ok and res.returncode < 0:
            reason = f"crashed (signal {-res.returncode}): {reason}"
    except subprocess.TimeoutExpired:
        ok, reason = False, f"timed out after {timeout:.0f} s"
    _probe_cache[key] = (ok, reason)
    return ok, reason


def choose_variant(requested: Variant, llvm_ok: bool, reason: str = "") -> tuple[str, str]:
    """The decision, without side effects: which variant to use and the message to print.

    Args:
        requested: ``auto``, ``llvm_ad_rgb`` or ``scalar_rgb``.
        llvm_ok: whether the LLVM probe succeeded (ignored for ``scalar_rgb``).
        reason: why the probe failed, for the message.

    Raises:
        DependencyError: ``llvm_ad_rgb`` was asked for explicitly and does not work.

    Examples:
        >>> choose_variant("auto", False, "no libLLVM")[0]
        'scalar_rgb'
        >>> choose_variant("auto", True)[0]
        'llvm_ad_rgb'
    """
    if requested == "scalar_rgb":
        return "scalar_rgb", "mitsuba variant: scalar_rgb (requested)"
    if llvm_ok:
        return "llvm_ad_rgb", "mitsuba variant: llvm_ad_rgb"
    if requested == "llvm_ad_rgb":
        raise DependencyError(f"mitsuba variant llvm_ad_rgb: does not work here ({reason})",
                              hint=f"install LLVM >= 16 (Debian: libllvm19) and set {LLVM_ENV} to its "
                                   "libLLVM.so, or pass --variant scalar_rgb")
    if requested != "auto":
        raise DependencyError(f"mitsuba variant {requested!r}: unknown (auto, llvm_ad_rgb, scalar_rgb)")
    return "scalar_rgb", f"mitsuba variant: scalar_rgb (llvm_ad_rgb unavailable: {reason}; it is 2-4x faster)"


def resolve_variant(requested: Variant = "auto", verbose: bool = True) -> str:
    """Pick the variant to use (probing LLVM in a subprocess) and set ``DRJIT_LIBLLVM_PATH`` in
    this process to the library that worked. Prints the choice when ``verbose``."""
    ok, reason, lib = False, "", None
    if requested != "scalar_rgb":
        user = os.environ.get(LLVM_ENV)
        candidates = [user] if user else find_libllvm()[:3] or [None]
        reasons = []
        for lib in candidates:
            ok, reason = probe_llvm(lib)
            if ok:
                break
            reasons.append(f"{lib or 'default'}: {reason}")
        reason = "; ".join(reasons) if not ok else reason
    variant, message = choose_variant(requested, ok, reason)
    if variant == "llvm_ad_rgb" and lib:
        os.environ[LLVM_ENV] = lib
    if verbose:
        print(message, file=sys.stderr)
    return variant


def set_variant(requested: Variant = "auto", verbose: bool = True):
    """Resolve and set the Mitsuba variant: the one place neutex calls ``mi.set_variant``.

    Returns:
        The ``mitsuba`` module, with the variant set. The resolved name is in ``current_variant()``.
    """
    global _current
    if _current is None or (requested != "auto" and requested != _current):
        variant = resolve_variant(requested, verbose)
    else:
        variant = _current
    # heavy optional dependency: imported only once the variant is known (and probed)
    import mitsuba as mi

    if mi.variant() != variant:
        mi.set_variant(variant)
    _current = variant
    return mi


def current_variant() -> str | None:
    """The variant :func:`set_variant` chose in this process (None before the first call)."""
    return _current
