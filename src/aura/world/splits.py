"""Train / validation / test splits by seed: disjoint seed ranges, so no scene is shared."""

from __future__ import annotations

from typing import Literal

from aura.errors import ConfigError

Split = Literal["train", "val", "test"]
SPLIT_BASE: dict[str, int] = {"train": 0, "val": 1_000_000, "test": 2_000_000}
SPLIT_SIZE = 1_000_000


def split_seeds(split: str, count: int, *, start: int = 0) -> list[int]:
    """Seeds ``start .. start+count-1`` of ``split`` (each split owns a disjoint range)."""
    if split not in SPLIT_BASE:
        raise ConfigError(f"unknown split {split!r} (choose train, val or test)")
    if count < 0 or start < 0 or start + count > SPLIT_SIZE:
        raise ConfigError(f"split {split} has {SPLIT_SIZE} seeds; asked for {start}..{start + count - 1}")
    base = SPLIT_BASE[split] + start
    return list(range(base, base + count))


def split_of(seed: int) -> Split:
    """The split that owns ``seed``."""
    for name, base in SPLIT_BASE.items():
        if base <= seed < base + SPLIT_SIZE:
            return name  # type: ignore[return-value]
    raise ConfigError(f"seed {seed} belongs to no split (0..{3 * SPLIT_SIZE - 1})")
