"""``neutex train``: the CLI face of :class:`~neutex.train.config.TrainConfig`."""

from __future__ import annotations

from dataclasses import dataclass

from neutex.config import config_from_dict, config_to_dict
from neutex.train.config import TrainConfig


@dataclass
class TrainCommand(TrainConfig):
    """Train a neural texture + UNet renderer on a prepared dataset (``neutex prepare``).

    Writes RUN/config.json, RUN/checkpoints/{epoch-NNNN,last,best}.pt, RUN/metrics.jsonl and
    RUN/videos/ (per-epoch light sweeps, their evolution, the training-progress video).
    Ctrl-C writes a checkpoint and exits 130; ``--resume`` continues exactly where it stopped.
    """

    def main(self) -> None:
        # heavy (torch and what it drives): imported only when the command runs
        from neutex.train.trainer import Trainer

        cfg = config_from_dict(TrainConfig, config_to_dict(self))  # a plain TrainConfig, validated
        Trainer(cfg).train()
