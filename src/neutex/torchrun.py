"""What torchrun tells a process through its environment (``RANK``, ``WORLD_SIZE``), read
without importing torch: the CLI prefixes a rank's error lines before anything heavy loads."""

from __future__ import annotations

import os


def env_world_size() -> int:
    """``WORLD_SIZE`` as torchrun sets it (1 when unset or unreadable)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def env_rank() -> int:
    """``RANK`` as torchrun sets it (0 when unset or unreadable)."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def rank_prefix() -> str:
    """``"rank N: "`` in a process torchrun started as rank N > 0 of several, else ``""``."""
    return f"rank {env_rank()}: " if env_world_size() > 1 and env_rank() > 0 else ""


__all__ = ["env_rank", "env_world_size", "rank_prefix"]
