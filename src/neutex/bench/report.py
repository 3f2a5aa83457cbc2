"""Presenting a bench document: a rich table on the console (the JSON file is written by
:func:`neutex.jsonio.write_json_atomic`)."""

from __future__ import annotations

from typing import Any


def _fmt(v: Any, spec: str) -> str:
    return "" if v is None else format(v, spec)


def bench_table(doc: dict[str, Any]):
    """A :class:`rich.table.Table` of the results (one row per measurement)."""
    from rich.table import Table

    p = doc["peaks"]
    t = Table(title=f"neutex bench — peaks: fp32 {p['matmul_fp32_gflops']:.0f}, bf16 {p['matmul_bf16_gflops']:.0f} "
                    f"GFLOP/s ({doc['machine']['threads']} threads, {doc['machine']['cpu']})")
    for col, justify in (("name", "left"), ("res", "right"), ("mode", "left"), ("prec", "left"), ("gan", "left"),
                         ("ms", "right"), ("GFLOP", "right"), ("GFLOP/s", "right"), ("% peak", "right"),
                         ("per s", "right"), ("× origin", "right")):
        t.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in doc["results"]:
        name = r["name"] + (f" ×{r['batch']}" if r.get("batch", 1) > 1 else "") + (
            f" ({r['processes']} proc)" if "processes" in r else "")
        t.add_row(name, _fmt(r.get("res"), "d"), r.get("mode", ""), r.get("precision", ""),
                  {True: "yes", False: "no"}.get(r.get("gan"), ""), _fmt(r["ms"], ".1f"), _fmt(r.get("gflop"), ".1f"),
                  _fmt(r.get("gflop_per_s"), ".0f"),
                  _fmt(100 * r["fraction_of_peak"] if "fraction_of_peak" in r else None, ".0f"),
                  _fmt(r.get("per_s"), ".2f"), _fmt(r.get("speedup_vs_origin"), ".2f"))
    return t


def print_report(doc: dict[str, Any], console=None) -> None:
    """The table, the goals (met or not) and anything skipped."""
    from rich.console import Console

    console = console or Console()
    console.print(bench_table(doc))
    for g in doc.get("goals", []):
        what = " ".join(str(g[k]) for k in ("res", "mode", "precision") if k in g)
        mark = "[green]met[/]" if g["met"] else "[red]missed[/]"
        console.print(f"goal {g['goal']} ({what}): {g['value']:.3g} vs {g['target']:g} {mark}", highlight=False)
    for r in doc["results"]:
        if r["name"] == "ddp_step" and r.get("processes", 1) > 1:
            console.print(f"ddp_step {r['res']}² ({r['backend']}): {r['processes']} processes x batch "
                          f"{r['batch_per_process']} vs 1 process x batch {r['batch']}: "
                          f"{r['speedup_vs_one_process']:.2f}x the throughput; all-reduce of {r['grad_mb']:.0f} MB "
                          f"{r['allreduce_ms']:.0f} ms = {100 * r['comm_share']:.0f} % of the step "
                          f"({100 * r['exposed_comm_share']:.0f} % exposed: step with vs without it)",
                          highlight=False)
    for s in doc.get("skipped", []):
        console.print(f"[yellow]skipped[/] {s['name']}: {s['reason']}", highlight=False)
    console.print(f"wall time {doc['wall_s']:.0f} s", highlight=False)


__all__ = ["bench_table", "print_report"]
