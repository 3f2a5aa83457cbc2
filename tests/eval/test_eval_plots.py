import doctest

import pytest

import neutex.eval.baseline
import neutex.eval.metrics
import neutex.eval.temporal
from neutex.eval.plots import plot_epoch_curves, plot_temporal
from neutex.eval.temporal import temporal_metrics


@pytest.mark.parametrize("module", [neutex.eval.metrics, neutex.eval.temporal, neutex.eval.baseline])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_plot_temporal_with_and_without_gt(tmp_path, sphere_seq):
    gt, mask = sphere_seq(90, 24)
    pred = gt.clone()
    pred[40:] *= 1.03
    r = temporal_metrics(pred, gt, mask, fps=24)
    out = plot_temporal(r, tmp_path / "sub" / "t.png", "step at 40")
    assert out.exists() and out.stat().st_size > 10_000
    r2 = temporal_metrics(pred, None, mask, fps=24)
    out2 = plot_temporal(r2, tmp_path / "t2.png", "no gt")
    assert out2.exists() and out2.stat().st_size > 10_000
    assert not list(tmp_path.rglob("*.tmp.png"))


def test_plot_epoch_curves(tmp_path):
    rows = [
        {"epoch": e, "psnr_novel_light": 20 + e, "psnr_train": 22 + e, "tde_rel": 0.5 / e,
         "jump_index": 0.01 * e, "jump_index_gt": 0.001, "patch_peak_p99": None if e == 2 else 0.05}
        for e in (3, 1, 2)
    ]
    out = plot_epoch_curves(rows, tmp_path / "epochs.png", "run")
    assert out.exists() and out.stat().st_size > 10_000
