"""The report in a real browser: Debian's chromium driven by Playwright, offline (file://).
Every image loads, every video can load its metadata, every table has its rows; a screenshot
is saved. Never downloads a browser: skipped when /usr/bin/chromium or playwright is missing."""

import json
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _expected_rows(summary: dict) -> dict[str, int]:
    """Rows each table must have, from summary.json alone."""
    variants = summary["variants"]
    splits = {v["split"] for v in variants}
    exp = {}
    for b in ("train", "novel_light", "novel_view", "novel_both"):
        n = sum(b in v["buckets"] for v in variants)
        if n:
            exp[f"metrics:{b}"] = n + (0 if b == "train" else len(splits))
    exp["winners"] = len(summary["winners"]["buckets"])
    exp["temporal"] = sum(len(v["temporal"]) for v in variants)
    exp["stripes"] = len(summary["stripes"])
    return exp


def test_report_opens_offline_in_chromium(small_report, tmp_path):
    if not CHROMIUM.is_file():
        pytest.skip("no browser at /usr/bin/chromium (Debian package 'chromium'; scripts/setup_system.sh installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    out, summary = small_report
    url = (out / "report.html").resolve().as_uri()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            requests = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="load")
            imgs = page.evaluate("[...document.images].map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])")
            page.wait_for_function("[...document.querySelectorAll('video')].every(v => v.readyState >= 1 || v.error)",
                                   timeout=20_000)
            vids = page.evaluate("[...document.querySelectorAll('video')].map(v => "
                                 "[v.getAttribute('src'), v.readyState, v.duration, v.error && v.error.code])")
            tables = page.evaluate("[...document.querySelectorAll('table')].map(t => "
                                   "[t.className, t.dataset.bucket || '', t.tBodies[0].rows.length])")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "report.png").stat().st_size > 10_000
    # offline: nothing but the page's own files was requested
    assert all(u.startswith("file://") for u in requests), [u for u in requests if not u.startswith("file://")]
    files = summary["report"]["files"]
    n_plots = sum(1 for k, v in files["plots"].items() if isinstance(v, str))
    n_plots += sum(len(v) for v in files["plots"]["epoch_curves"].values() for v in [[v]])
    n_plots += sum(len(v) for v in files["plots"]["temporal"].values())
    n_grids = sum(len(v) for v in files["grids"].values())
    assert len(imgs) == n_plots + n_grids, imgs
    for src, complete, width in imgs:
        assert complete and width > 0, f"image did not load: {src}"
    assert len(vids) == len(files["videos"]) >= 1
    for src, ready, duration, err in vids:
        assert err is None and ready >= 1 and duration > 0, f"video did not load: {src} {ready} {duration} {err}"
    want = _expected_rows(summary)
    got = {}
    for cls, bucket, rows in tables:
        key = f"{cls}:{bucket}" if cls == "metrics" else cls
        got[key] = rows
    for key, n in want.items():
        assert got.get(key) == n, f"table {key}: {got.get(key)} rows, expected {n}"
    assert json.loads((out / "summary.json").read_text())["variants"][1]["config"]["loss"]["gan"] is True
