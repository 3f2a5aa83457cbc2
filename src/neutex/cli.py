"""The ``neutex`` command. Each subcommand is a dataclass with ``main()`` living beside the
code it drives; this file only unions them and turns :class:`NeutexError` into one red line.

Each command imports the pipeline it drives (torch, Mitsuba, moderngl) inside ``main()``, so
``--help`` loads only the commands' configs, and those import no torch (the model config
validates against the torch-free input registry, slot plan and option types; a test checks
that building the parser loads no torch).
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, Any, Union

from neutex.errors import NeutexError
from neutex.torchrun import rank_prefix
from neutex.model.config import model_configs

#: (subcommand, module, class) in pipeline order.
COMMANDS: list[tuple[str, str, str]] = [
    ("synth", "neutex.synth.command", "SynthCommand"),
    ("prepare", "neutex.data.command", "PrepareCommand"),
    ("import", "neutex.capture.importers.command", "ImportCommand"),
    ("train", "neutex.train.command", "TrainCommand"),
    ("eval", "neutex.eval.command", "EvalCommand"),
    ("experiment", "neutex.experiment.command", "ExperimentCommand"),
    ("demo", "neutex.demo", "DemoCommand"),
    ("render", "neutex.render.command", "RenderCommand"),
    ("envmap", "neutex.envmap.command", "EnvmapCommand"),
    ("view", "neutex.viewer.command", "ViewCommand"),
    ("bench", "neutex.bench.command", "BenchCommand"),
]


def _load_commands() -> list[tuple[str, Any]]:
    return [(name, getattr(importlib.import_module(mod), cls)) for name, mod, cls in COMMANDS]


def _model_preset(argv: list[str]) -> str | None:
    """The value of ``--model.preset`` on a ``train`` command line (``NAME`` or ``=NAME``)."""
    if not argv or argv[0] != "train":
        return None
    for i, a in enumerate(argv):
        if a == "--model.preset" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--model.preset="):
            return a.split("=", 1)[1]
    return None


def _subcommand(name: str, cls: Any, argv: list[str]) -> Any:
    """``cls`` as a tyro subcommand; for ``train --model.preset NAME`` the preset's model config
    is the default every other ``--model.*`` flag overrides (nerfstudio's method configs)."""
    import tyro

    preset = _model_preset(argv) if name == "train" else None
    if preset is not None and preset in model_configs:
        return Annotated[cls, tyro.conf.subcommand(name=name, default=cls(model=model_configs[preset]))]
    return Annotated[cls, tyro.conf.subcommand(name=name)]


def _one_line(text: str) -> str:
    """``text`` with its line breaks turned into spaces (an error is one line)."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def entrypoint(argv: list[str] | None = None) -> int:
    """Parse the command line, run the subcommand, and map user errors to exit code 2."""
    import tyro

    cmds = _load_commands()
    args = list(sys.argv[1:] if argv is None else argv)
    union = Union[tuple(_subcommand(name, cls, args) for name, cls in cmds)]  # type: ignore[misc]
    try:
        # inside the try: a config's __post_init__ raises ConfigError while tyro builds it
        cmd = tyro.cli(union, args=argv, prog="neutex", description="neutex: neural-texture relighting "
                       "(capture -> prepare -> train -> eval/render -> report).")
        cmd.main()
    except NeutexError as exc:
        from rich.console import Console
        from rich.markup import escape

        if getattr(exc, "silent", False):  # another rank of a torchrun run has printed the reason
            return 2
        # the message holds user text (ids, paths such as "scan [v2]"): escaped, so rich markup
        # neither swallows "[...]" nor fails on "[/bold]"; one line, whatever the message holds
        err = Console(stderr=True)
        rank = rank_prefix()
        err.print(f"[bold red]error:[/] {rank}{escape(_one_line(str(exc)))}", markup=True, highlight=False,
                  soft_wrap=True)
        if getattr(exc, "hint", ""):
            err.print(f"[yellow]fix:[/] {escape(_one_line(exc.hint))}", markup=True, highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        if not rank_prefix():  # under torchrun: rank 0 says it for all
            print("interrupted", file=sys.stderr)
        return 130
    return 0


def main() -> None:
    sys.exit(entrypoint())


if __name__ == "__main__":
    main()
