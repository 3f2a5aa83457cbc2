"""View/light splits: seeded, by fraction, or given explicitly; and the four buckets."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neutex.errors import DataError
from neutex.jsonio import read_json_object

#: the four buckets, indexed by ``light held out + 2 × view held out``.
BUCKETS = ("train", "novel_light", "novel_view", "novel_both")
#: the buckets that measure generalisation (everything but ``train``).
HELD_OUT_BUCKETS = BUCKETS[1:]


def held_out_parts(bucket: str) -> tuple[bool, bool]:
    """``(view held out, light held out)`` of a bucket: the inverse of :meth:`Split.bucket_of`.

    Examples:
        >>> held_out_parts("novel_view"), held_out_parts("train")
        ((True, False), (False, False))
    """
    if bucket not in BUCKETS:
        raise DataError(f"bucket {bucket!r}: unknown (one of {', '.join(BUCKETS)})")
    i = BUCKETS.index(bucket)
    return bool(i & 2), bool(i & 1)


def split_ids(ids: list[str], seen_fraction: float, seed: int, salt: str) -> tuple[list[str], list[str]]:
    """Split ``ids`` into (seen, held_out), keeping input order inside each part.

    ``round(fraction * n)`` ids are seen, at least 1; at least one id is held out when n > 1
    and the fraction is below 1. Deterministic in (ids, fraction, seed, salt); ``salt``
    ("views" or "lights") keeps the two splits independent.

    Examples:
        >>> seen, held = split_ids([f"c{i}" for i in range(8)], 7 / 8, 0, "views")
        >>> len(seen), len(held)
        (7, 1)
    """
    n = len(ids)
    if not 0 < seen_fraction <= 1:
        raise DataError(f"split: seen fraction must be in (0, 1], got {seen_fraction}")
    n_seen = min(n, max(1, int(math.floor(seen_fraction * n + 0.5))))
    if seen_fraction < 1 and n > 1:
        n_seen = min(n_seen, n - 1)
    digest = hashlib.sha256(f"{seed}:{salt}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    held = set(rng.permutation(n)[n_seen:].tolist())
    return [x for i, x in enumerate(ids) if i not in held], [x for i, x in enumerate(ids) if i in held]


@dataclass
class Split:
    """Seen and held-out view and light ids."""

    seen_views: list[str]
    held_out_views: list[str]
    seen_lights: list[str]
    held_out_lights: list[str]

    def bucket_of(self, view: str, light: str) -> str:
        """The bucket a (view, light) pair falls into."""
        nv, nl = view in self.held_out_views, light in self.held_out_lights
        return BUCKETS[int(nl) + 2 * int(nv)]

    def to_json(self) -> dict:
        return {
            "seen_views": self.seen_views, "held_out_views": self.held_out_views,
            "seen_lights": self.seen_lights, "held_out_lights": self.held_out_lights,
            "buckets": {
                "train": "seen view, seen light", "novel_light": "seen view, held-out light",
                "novel_view": "held-out view, seen light", "novel_both": "held-out view, held-out light",
            },
        }


def make_split(view_ids: list[str], light_ids: list[str], view_fraction: float = 7 / 8,
               light_fraction: float = 7 / 8, seed: int = 0) -> Split:
    """Split views and lights independently by fraction and seed."""
    sv, hv = split_ids(view_ids, view_fraction, seed, "views")
    sl, hl = split_ids(light_ids, light_fraction, seed, "lights")
    return Split(sv, hv, sl, hl)


# What ``prepare`` writes beside the ids in a prepared dataset's splits.json: informational,
# so that file can be handed back as ``--split`` (the same split for a re-prepared capture).
SPLIT_FILE_NOTES = frozenset({"buckets", "counts", "source", "seed", "view_fraction", "light_fraction", "split_file"})


def load_split_file(path: str | Path, view_ids: list[str], light_ids: list[str]) -> Split:
    """An explicit split ``{"held_out_views": [...], "held_out_lights": [...]}`` (published
    benchmark splits, or a prepared dataset's own splits.json); every id must exist."""
    path = Path(path)
    d = read_json_object(path, DataError)
    unknown_keys = set(d) - {"held_out_views", "held_out_lights", "seen_views", "seen_lights"} - SPLIT_FILE_NOTES
    if unknown_keys:
        raise DataError(f"{path}: unknown key {sorted(unknown_keys)[0]!r} (use held_out_views, held_out_lights)")
    out = []
    for key, ids in (("held_out_views", view_ids), ("held_out_lights", light_ids)):
        held = d.get(key, [])
        if not isinstance(held, list):
            raise DataError(f"{path}: {key}: expected a list of ids")
        for i, x in enumerate(held):
            if x not in ids:
                raise DataError(f"{path}: {key}[{i}]: unknown id {x!r}")
        out.append([x for x in ids if x not in held])
        out.append([x for x in ids if x in held])
    if not out[0]:
        raise DataError(f"{path}: held_out_views holds every view; at least one must be seen")
    if not out[2]:
        raise DataError(f"{path}: held_out_lights holds every light; at least one must be seen")
    return Split(out[0], out[1], out[2], out[3])
