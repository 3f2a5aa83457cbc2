"""The ``neutex prepare`` subcommand."""

from __future__ import annotations

from dataclasses import dataclass

from neutex.data.prepare import PrepareConfig, prepare_capture
from neutex.data.prepared import PreparedData
from neutex.data.splits import BUCKETS


@dataclass
class PrepareCommand(PrepareConfig):
    """Turn a capture into a prepared dataset: G-buffers per view, float16 images
    [V,L,H,W,3], splits.json (docs/prepared.md)."""

    def main(self) -> None:
        from rich.console import Console
        from rich.markup import escape

        console = Console(stderr=True)
        out = prepare_capture(self, log=lambda s: console.print(f"[yellow]note:[/] {escape(s)}", highlight=False))
        data = PreparedData.open(out)
        counts = {b: len(data.pairs(b)) for b in BUCKETS}
        console.print(f"[green]prepared[/] {escape(str(out))}: {data.num_views} views x {data.num_lights} lights at "
                      f"{data.width}x{data.height}; pairs per bucket: "
                      + ", ".join(f"{k} {v}" for k, v in counts.items()), highlight=False)
        empty = [k for k, v in counts.items() if v == 0]
        if empty:
            console.print(f"[yellow]note:[/] empty bucket(s): {', '.join(empty)} (too few views or lights to hold "
                          "some out; see --view-fraction, --light-fraction)", highlight=False)
