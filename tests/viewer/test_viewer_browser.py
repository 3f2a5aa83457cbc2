"""``neutex view`` in a real browser: Debian's chromium driven by Playwright, on loopback only.
The page loads without console errors, a rendered image arrives, moving the light slider changes
it, and the server stops and frees its port. Skipped without /usr/bin/chromium or playwright;
never downloads a browser."""

import io
import socket
import time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(cond, timeout: float = 30.0) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return True
        time.sleep(0.05)
    return False


def _viewport(page) -> np.ndarray:
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB"), np.float32)
    return img[:, : int(img.shape[1] * 0.6)]  # the 3D view; the control panel is on the right


def test_viewer_in_chromium(viewer_run, tmp_path):
    if not CHROMIUM.is_file():
        pytest.skip("no browser at /usr/bin/chromium (Debian package 'chromium')")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    pytest.importorskip("viser", reason="viser is not installed")
    from neutex.run import load_run
    from neutex.viewer.app import ViewerApp, check_port
    from neutex.viewer.engine import ViewerEngine

    port = _free_port()
    engine = ViewerEngine(load_run(viewer_run, device="cpu"), amp=None)
    engine.white = 0.05  # the untrained model is dark: expose it
    app = ViewerApp(engine, "127.0.0.1", port, full_res=64, moving_res=32, samples=4, moving_samples=2, settle_s=0.1)
    errors, requests = [], []
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1000, "height": 640})
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("request", lambda r: requests.append(r.url))
                page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
                assert _wait(lambda: app.frames_sent >= 1 and app.last_info.get("height") == 64, 90.0), "no image arrived"
                page.wait_for_timeout(800)
                before = _viewport(page)
                page.screenshot(path=str(tmp_path / "viewer.png"))
                n = app.frames_sent
                box = page.get_by_role("slider").first.bounding_box()  # Light > azimuth, at 30°
                page.mouse.click(box["x"] - 50, box["y"] + box["height"] / 2)  # on its track, towards -180°
                assert _wait(lambda: app.g_az.value < 0), app.g_az.value
                assert _wait(lambda: app.frames_sent > n + 1 and app.last_info.get("height") == 64), "no new image"
                page.wait_for_timeout(800)
                after = _viewport(page)
            finally:
                browser.close()
    finally:
        app.stop()
    assert not errors, errors
    assert all(u.startswith(f"http://127.0.0.1:{port}") or u.startswith(f"ws://127.0.0.1:{port}") or
               u.startswith("data:") or u.startswith("blob:") for u in requests), requests
    diff = np.abs(after - before).mean(-1)
    assert (diff > 8).mean() > 0.002, f"moving the light changed {(diff > 8).mean():.4%} of the view"
    check_port("127.0.0.1", port)  # stopped: the port is free again
