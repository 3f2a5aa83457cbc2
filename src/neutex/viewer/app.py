"""The viser page of ``neutex view`` (docs/viewer.md): the client's 3D camera (orbit with the
mouse) is the render camera, the model's frame is the scene's background image, and the GUI
moves the light, switches to an environment map, snaps to captured views and scrubs captured
light sweeps.

One render thread draws for every connected client, always the newest state: while the
camera or a light control moves it renders at ``moving_res`` (and an environment map with
``moving_samples`` lights), and once nothing has changed for ``settle_s`` it renders again at
full resolution.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import numpy as np
import torch

from neutex.errors import ConfigError
from neutex.render.lights import azimuth_deg, circle_light_sources, elevation_deg, stage_light_distance
from neutex.viewer.engine import Lighting, ViewerEngine, camera_from_pose, fov_y_of, wxyz_of

LIGHTINGS = ("point light", "stage light", "environment map", "sequence")


def check_port(host: str, port: int) -> None:
    """Raise a one-line :class:`ConfigError` when ``host:port`` cannot be bound (taken, or not an
    address of this machine). viser itself would silently move to the next free port."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            taken = exc.errno in (98, 48, 10048)
            raise ConfigError(f"port {port} on {host}: {'already in use' if taken else exc.strerror}",
                              hint="choose another one with --port N" if taken else "check --host") from None


class ViewerApp:
    """The web viewer of one :class:`ViewerEngine`.

    Args:
        engine: what draws the frames.
        host, port: where to serve (loopback by default).
        full_res: image height when still; ``moving_res`` while something moves.
        samples: environment-map lights when still; ``moving_samples`` while moving.
        settle_s: seconds without a change before the full-resolution frame.
    """

    def __init__(self, engine: ViewerEngine, host: str = "127.0.0.1", port: int = 8080, full_res: int = 256,
                 moving_res: int = 128, samples: int = 64, moving_samples: int = 8, settle_s: float = 0.25) -> None:
        # heavy optional dependency (the web server): imported only when a page is served
        import viser

        check_port(host, port)
        self.engine = engine
        self.data = engine.data
        self.full_res, self.moving_res = int(full_res), int(moving_res)
        self.samples, self.moving_samples = int(samples), int(moving_samples)
        self.settle_s = settle_s
        self.server = viser.ViserServer(host=host, port=port, label="neutex", verbose=False)
        self.host, self.port = host, self.server.get_port()
        self.frames_sent = 0
        self.last_info: dict[str, Any] = {}
        self.timings: list[tuple[int, float]] = []  # (height, ms) of recent frames
        self._changed = time.monotonic()
        self._full_done: set[int] = set()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._snap_view: int | None = None
        self._build()
        self._thread = threading.Thread(target=self._loop, name="neutex-view-render", daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- GUI
    def _build(self) -> None:
        d, gui, scene = self.data, self.server.gui, self.server.scene
        up = d.up / np.linalg.norm(d.up)
        scene.set_up_direction(tuple(float(x) for x in up))
        dist = stage_light_distance(d.light_sources) or 3.0
        inten = float(np.mean(d.default_intensity))
        gui.add_markdown("**neutex** — drag to orbit; the light and environment controls are below.")
        with gui.add_folder("Light"):
            self.g_lighting = gui.add_dropdown("lighting", LIGHTINGS, initial_value="point light")
            self.g_az = gui.add_slider("azimuth", -180.0, 180.0, 1.0, 30.0)
            self.g_el = gui.add_slider("elevation", -89.0, 89.0, 1.0, 30.0)
            self.g_dist = gui.add_slider("distance", 1.2, max(10.0, 3 * dist), 0.05, round(dist, 2))
            self.g_int = gui.add_slider("intensity", 0.0, max(100.0, 4 * inten), 0.5, round(inten, 1))
            self.g_stage = gui.add_dropdown("stage light", d.light_ids, initial_value=d.light_ids[0])
            names = list(self.engine.envmaps)
            self.g_env = gui.add_dropdown("environment", names, initial_value=names[0])
            self.g_rot = gui.add_slider("map rotation", 0.0, 360.0, 1.0, 0.0)
        with gui.add_folder("View"):
            self.g_view = gui.add_dropdown("captured view", ["(free)"] + d.view_ids, initial_value="(free)")
            self.g_display = gui.add_dropdown("show", ("prediction", "ground truth", "error"), initial_value="prediction")
            self.g_exposure = gui.add_slider("exposure", -4.0, 4.0, 0.1, 0.0)
        seqs = [s.name for s in d.sequences]
        self.g_seq = self.g_frame = self.g_plot = None
        if seqs:
            with gui.add_folder("Sequence"):
                self.g_seq = gui.add_dropdown("sequence", seqs, initial_value=seqs[0])
                self.g_frame = gui.add_slider("frame", 0, max(1, len(d.sequences[0].sources) - 1), 1, 0)
                self.g_seq_text = gui.add_markdown("choose lighting = sequence to scrub it")
        self.g_status = gui.add_markdown("…")
        self.light_gizmo = scene.add_transform_controls("/light", scale=0.35, disable_rotations=True,
                                                        position=tuple(self._light_position()))
        scene.add_icosphere("/light/bulb", radius=0.05, color=(255, 214, 90))

        for h in (self.g_lighting, self.g_az, self.g_el, self.g_dist, self.g_int, self.g_stage, self.g_env, self.g_rot,
                  self.g_display, self.g_exposure):
            h.on_update(lambda _e: self._touch())
        for h in (self.g_az, self.g_el, self.g_dist):
            h.on_update(lambda _e: self._move_gizmo())
        self.g_view.on_update(lambda _e: self._snap())
        if self.g_seq is not None:
            self.g_seq.on_update(lambda _e: self._sequence_changed())
            self.g_frame.on_update(lambda _e: self._touch())
            self.g_lighting.on_update(lambda _e: self._sequence_changed())

        @self.light_gizmo.on_update
        def _(_e) -> None:
            p = np.asarray(self.light_gizmo.position, float)
            r = float(np.linalg.norm(p))
            if r < 1e-6:
                return
            self.g_az.value = round(azimuth_deg(p, d.up), 1)
            self.g_el.value = round(float(np.clip(elevation_deg(p, d.up), -89, 89)), 1)
            self.g_dist.value = round(float(np.clip(r, self.g_dist.min, self.g_dist.max)), 2)
            self._touch()

        @self.server.on_client_connect
        def _(client) -> None:
            cam = d.cameras[0]
            client.camera.position = tuple(cam.center_world)
            client.camera.look_at = (0.0, 0.0, 0.0)
            client.camera.up_direction = tuple(float(x) for x in up)
            if cam.model == "pinhole":
                client.camera.fov = fov_y_of(cam)
            client.camera.on_update(lambda _c: self._touch())
            self._touch()

    def _light_position(self) -> np.ndarray:
        return circle_light_sources(1, float(self.g_dist.value), float(self.g_el.value), self.data.up,
                                    start_deg=float(self.g_az.value))[0, :3]

    def _move_gizmo(self) -> None:
        self.light_gizmo.position = tuple(float(x) for x in self._light_position())

    def _touch(self) -> None:
        self._changed = time.monotonic()
        self._full_done.clear()
        self._wake.set()

    def _snap(self) -> None:
        v = self.g_view.value
        self._snap_view = None if v == "(free)" else self.data.view_ids.index(v)
        if self._snap_view is not None:
            cam = self.data.cameras[self._snap_view]
            for client in self.server.get_clients().values():
                client.camera.position = tuple(cam.center_world)
                client.camera.wxyz = tuple(wxyz_of(cam))
                if cam.model == "pinhole":
                    client.camera.fov = fov_y_of(cam)
        self._touch()

    def _sequence_changed(self) -> None:
        if self.g_seq is None:
            return
        s = self.data.sequence(self.g_seq.value)
        self.g_frame.max = max(1, len(s.sources) - 1)
        if self.g_lighting.value == "sequence":
            self.g_view.value = self.data.view_ids[s.view]
            self._snap()
            threading.Thread(target=self._sequence_plot, args=(s.name,), daemon=True).start()
        self._touch()

    def _sequence_plot(self, name: str) -> None:
        """Per-frame PSNR and tDE of the sequence, plotted once computed."""
        self.g_seq_text.content = f"measuring {name} …"
        m = self.engine.sequence_metrics(name)
        t = np.arange(m["frames"], dtype=np.float64)
        psnr = np.asarray(m["psnr"], np.float64)
        series = [{"label": "frame"}, {"label": "PSNR (dB)", "stroke": "#2456a6", "scale": "db"}]
        data = [t, psnr]
        if m.get("tde_t") is not None:
            tde = np.asarray([np.nan if x is None else x for x in m["tde_t"]], np.float64)
            data.append(tde)
            series.append({"label": "tDE", "stroke": "#b3261e", "scale": "tde"})
        if self.g_plot is not None:
            self.g_plot.remove()
        with self.server.gui.add_folder("Sequence"):
            self.g_plot = self.server.gui.add_uplot(tuple(data), tuple(series), title=f"{name}: per-frame metrics",
                                                    aspect=1.6)
        self.g_seq_text.content = (f"{name}: tDE_rel {m['tde_rel'] if m['tde_rel'] is None else round(m['tde_rel'], 4)}, "
                                   f"J {m['jump_index']:.4g}, flagged frames {m['flagged']}")

    # ---------------------------------------------------------------- rendering
    def lighting(self, moving: bool) -> Lighting:
        """The GUI's lighting as an engine :class:`Lighting`."""
        kind = self.g_lighting.value
        if kind == "stage light":
            return Lighting("stage", index=self.data.light_ids.index(self.g_stage.value))
        if kind == "environment map":
            # moving: world-fixed cells whose frames are cached per pose, so turning the map is a
            # re-weighting (milliseconds); still: the map's own K lights, each exactly placed
            return Lighting("envmap", name=self.g_env.value, rotation_deg=float(self.g_rot.value),
                            samples=self.moving_samples if moving else self.samples, fixed_cells=moving)
        if kind == "sequence" and self.g_seq is not None:
            return Lighting("sequence", name=self.g_seq.value, index=int(self.g_frame.value))
        pos = self._light_position()
        return Lighting("point", source=np.r_[pos, 1.0], intensity=np.full(3, float(self.g_int.value)))

    def _camera_for(self, client, height: int):
        c = client.camera
        cam = camera_from_pose(c.position, c.wxyz, c.fov, height, float(c.aspect))
        if self._snap_view is not None:
            ref = self.data.cameras[self._snap_view]
            square = camera_from_pose(c.position, c.wxyz, c.fov, ref.height, ref.width / ref.height)
            if self.engine.match_view(square) == self._snap_view:
                return self._snap_view, float(c.aspect)
        return cam, None

    def render_client(self, client, moving: bool) -> dict[str, Any]:
        """Render and send one frame to ``client``; returns the engine's info."""
        height = self.moving_res if moving else self.full_res
        cam, aspect = self._camera_for(client, height)
        if not self.engine.can_move_camera and not isinstance(cam, int):
            cam, aspect = 0, float(client.camera.aspect)
        img, info = self.engine.frame(cam, self.lighting(moving), self.g_display.value, float(self.g_exposure.value))
        if aspect is not None:  # a captured view's own image, padded to the canvas' aspect
            h, w = img.shape[:2]
            want = int(round(h * aspect))
            if want > w:
                pad = want - w
                img = np.pad(img, ((0, 0), (pad // 2, pad - pad // 2), (0, 0)))
        client.scene.set_background_image(img, format="jpeg", jpeg_quality=90)
        self.frames_sent += 1
        self.timings = (self.timings + [(height, info["ms"])])[-64:]
        info["height"] = height
        self.last_info = info
        fps = 1000.0 / max(info["ms"], 1e-3)
        txt = f"{img.shape[1]}x{img.shape[0]} in {info['ms']:.0f} ms ({fps:.1f} frames/s)"
        if info.get("view"):
            txt += f" — captured view {info['view']}"
        if info.get("psnr") is not None:
            txt += f"; vs ground truth PSNR {info['psnr']:.2f} dB (tone-mapped {info['psnr_tonemapped']:.2f})"
        elif self.g_display.value != "prediction":
            txt += "; no ground truth here (snap to a captured view and pick a captured light)"
        self.g_status.content = txt
        return info

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=0.05)
            self._wake.clear()
            clients = list(self.server.get_clients().values())
            if not clients:
                continue
            moving = time.monotonic() - self._changed < self.settle_s
            for client in clients:
                cid = client.client_id
                if not moving and cid in self._full_done:
                    continue
                try:
                    if getattr(client.camera, "_state", None) is not None and client.camera._state.update_timestamp == 0:
                        continue  # the client has not reported its camera yet
                    with torch.inference_mode():
                        self.render_client(client, moving)
                except Exception as exc:  # a bad frame must not kill the page; say it there
                    self.g_status.content = f"render error: {type(exc).__name__}: {exc}"
                    continue
                if not moving:
                    self._full_done.add(cid)
            if moving:
                self._wake.set()

    def stop(self) -> None:
        """Stop rendering and the server (closes the port)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.server.stop()
        self.engine.close()
