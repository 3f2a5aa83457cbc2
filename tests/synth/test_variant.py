import os
import subprocess
import sys

import pytest

from neutex.errors import DependencyError
from neutex.synth import variant as V


def test_choose_variant_decisions():
    assert V.choose_variant("auto", True)[0] == "llvm_ad_rgb"
    name, msg = V.choose_variant("auto", False, "libLLVM not found")
    assert name == "scalar_rgb" and "libLLVM not found" in msg and "llvm_ad_rgb unavailable" in msg
    assert V.choose_variant("scalar_rgb", True)[0] == "scalar_rgb"
    assert V.choose_variant("llvm_ad_rgb", True)[0] == "llvm_ad_rgb"
    with pytest.raises(DependencyError, match="llvm_ad_rgb: does not work here"):
        V.choose_variant("llvm_ad_rgb", False, "crash")


def test_probe_with_bogus_llvm_fails_cleanly():
    ok, reason = V.probe_llvm("/nonexistent/libLLVM.so.99", timeout=60)
    assert not ok and reason


def test_auto_falls_back_to_scalar_with_a_message(monkeypatch, capsys):
    monkeypatch.setenv(V.LLVM_ENV, "/nonexistent/libLLVM.so.99")
    assert V.resolve_variant("auto") == "scalar_rgb"
    err = capsys.readouterr().err
    assert "scalar_rgb" in err and "llvm_ad_rgb unavailable" in err
    with pytest.raises(DependencyError):
        V.resolve_variant("llvm_ad_rgb", verbose=False)


def test_find_libllvm_orders_llvm15_last():
    libs = V.find_libllvm()
    versions = [V._llvm_version(p)[0] for p in libs]
    if 15 in versions:
        assert versions.index(15) == len(versions) - versions[::-1].count(15)


def test_importing_never_loads_mitsuba():
    code = "import sys, neutex.synth, neutex.synth.command; assert 'mitsuba' not in sys.modules and 'drjit' not in sys.modules"
    env = dict(os.environ)
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
