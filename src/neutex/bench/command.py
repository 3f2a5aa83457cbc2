"""``neutex bench``: the CLI face of :class:`~neutex.bench.config.BenchConfig`."""

from __future__ import annotations

from dataclasses import dataclass

from neutex.bench.config import BenchConfig
from neutex.bench.report import print_report
from neutex.jsonio import write_json_atomic


@dataclass
class BenchCommand(BenchConfig):
    """Speed figures, measured side by side in one run: matmul peaks, neutex's training step,
    renderer and inference (fp32/bf16, multiply/concat), the origin's equivalent step and
    inference, the step on 1 vs 2 DDP processes (gloo), and the synth, gbuffer and loader side
    benches. Prints a table; ``--json FILE``
    also writes the results (docs/bench.md). ``--quick`` is a short run (128², multiply)."""

    def main(self) -> None:
        from rich.console import Console

        # heavy (torch and what it drives): imported only when the command runs
        from neutex.bench.suite import check_document, run_bench

        err = Console(stderr=True)
        doc = run_bench(self, log=lambda s: err.print(f"[dim]bench:[/] {s}", highlight=False))
        check_document(doc)
        out = Console()
        if not out.is_terminal:  # a file or pipe: rich would wrap the table at 80 columns
            out = Console(width=160)
        print_report(doc, out)
        if self.json is not None:
            err.print(f"wrote {write_json_atomic(self.json, doc, indent=2)}", highlight=False)
