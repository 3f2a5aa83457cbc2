"""The report page from a summary alone: table rows per split, best values marked within a
split, the summary lines, escaping."""

from neutex.report.html import bucket_rows, render_html, summary_lines


def _m(psnr):
    return {"n": 4, "psnr": psnr, "psnr_tonemapped": psnr + 1, "ssim": psnr / 100, "mae": 1 / psnr, "mse": psnr ** -2}


def _summary():
    def var(name, split, psnr, base):
        return {"name": name, "split": split, "description": "<b>x</b>", "run": f"runs/{name}",
                "buckets": {"train": _m(psnr + 5), "novel_light": _m(psnr)},
                "baselines": {"nearest_light": {"novel_light": _m(base)}}, "temporal": {},
                "config": {}, "resolved": {}, "commands": {"train": "neutex train", "eval": "neutex eval"},
                "overrides": {}, "val_per_epoch": []}

    from neutex.experiment.runner import winners

    vs = [var("a", "s1", 30.0, 28.0), var("b", "s1", 31.0, 28.0), var("c", "s2", 25.0, 26.0)]
    return {"suite": {"name": "t", "description": "d", "definition": {}}, "scale": "tiny", "checkpoint": "last",
            "variants": vs, "winners": winners(vs), "data": {"splits": {"s1": {"label": "S1"}, "s2": {"label": "S2"}}}}


def test_bucket_rows_group_variants_and_baselines_by_split():
    s = _summary()
    rows = bucket_rows(s, "novel_light")
    assert [(r["name"], r["split"], r["baseline"]) for r in rows] == [
        ("a", "s1", False), ("b", "s1", False), ("nearest-light baseline", "s1", True),
        ("c", "s2", False), ("nearest-light baseline", "s2", True)]
    assert len(bucket_rows(s, "train")) == 3  # no baseline on seen views and lights


def test_best_is_marked_within_each_split_and_summary_names_winners():
    s = _summary()
    html = render_html(s)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    table = html.split("data-bucket='novel_light'")[1].split("</table>")[0]
    assert table.count("★") == 2 * 5  # one per column in each of the two splits
    assert "31.00 <span class=star>★</span>" in table and "26.00 <span class=star>★</span>" in table
    lines = " ".join(summary_lines(s))
    assert "novel light (seen view): <b>b</b> 31.00 dB" in lines and "beats the nearest-light baseline" in lines
    assert s["winners"]["buckets"]["novel_light"]["psnr"]["beats_baseline"] is True
