"""``neutex view RUN``: an interactive web page (viser) for a trained run (docs/viewer.md)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import tyro

from neutex.envmap.latlong import read_envmap


@dataclass
class ViewCommand:
    """Open an interactive viewer of a trained run in the browser: orbit the camera with the
    mouse (new views through the G-buffer rasterizer), move the light or drag its gizmo,
    switch to an environment map and turn it, compare with the ground truth (GT | prediction |
    error) at captured views and lights, and scrub captured light sweeps with their
    per-frame metrics. Serves on 127.0.0.1 (this machine only) unless --host says otherwise."""

    run: tyro.conf.Positional[Path]
    """Run folder written by ``neutex train``."""
    checkpoint: str = "best"
    """best, last, an epoch number, or a checkpoint file."""
    host: str = "127.0.0.1"
    """Address to serve on (127.0.0.1: this machine only; 0.0.0.0: every interface)."""
    port: int = 8080
    """Port to serve on; a taken port is an error (choose another)."""
    resolution: int = 256
    """Image height when nothing moves (the width follows the browser window's aspect)."""
    moving_resolution: int = 128
    """Image height while the camera or the light moves."""
    envmap: tuple[Path, ...] = ()
    """Extra lat-long HDR maps to offer (the procedural sky, studio and spot maps and the
    dataset's environments are always there)."""
    envmap_samples: int = 64
    """Lights an environment map is cut into when still (8 while moving)."""
    precision: Literal["bf16", "fp32"] = "bf16"
    """bf16 autocast (about twice as fast on a CPU with AVX-512 BF16) or full precision."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to run the model."""
    threads: int | None = None
    """CPU threads for torch (default: torch's)."""
    data: Path | None = None
    """Prepared dataset, if it moved since training."""

    def main(self) -> None:
        # heavy (torch, the run and the viewer it drives): imported only when the command runs
        import torch
        from rich.console import Console

        from neutex.device import autocast_dtype
        from neutex.run.load import load_run
        from neutex.viewer.app import ViewerApp, check_port
        from neutex.viewer.engine import ViewerEngine

        con = Console(stderr=True)
        check_port(self.host, self.port)  # before the model loads: a taken port fails at once
        if self.threads:
            torch.set_num_threads(self.threads)
        loaded = load_run(self.run, self.checkpoint, self.device, self.data,
                      log=lambda s: con.print(f"[yellow]{s}[/]", highlight=False))
        maps = {}
        for p in self.envmap:
            e = read_envmap(p, loaded.data.up)
            maps[e.name] = e
        engine = ViewerEngine(loaded, autocast_dtype(self.precision, loaded.device), envmaps=maps)
        app = ViewerApp(engine, self.host, self.port, self.resolution, self.moving_resolution, self.envmap_samples)
        con.print(f"[green]neutex view[/]: {self.run} ({loaded.checkpoint.name}, epoch {loaded.epoch}) at "
                  f"http://{self.host}:{app.port} — Ctrl-C to stop", highlight=False, soft_wrap=True)
        try:
            while True:
                time.sleep(1.0)
        except KeyboardInterrupt:
            pass
        finally:
            app.stop()
