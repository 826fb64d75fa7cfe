"""``--shard K/N``: a stable split of items over N workers that need no coordination."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from aura.data.errors import ShardSpecError

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (0-based) of ``count``; ``Shard(0, 1)`` owns everything."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ShardSpecError(f"shard must be K/N with 0 <= K < N, got {self.index}/{self.count}")

    @property
    def tag(self) -> str:
        """The file-name tag of this shard's outputs (``0-of-1``)."""
        return f"{self.index}-of-{self.count}"

    def owns(self, key: str) -> bool:
        """True when the item named ``key`` belongs to this shard (same answer on every machine)."""
        if self.count == 1:
            return True
        digest = hashlib.sha1(key.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index


def parse_shard(spec: str | None) -> Shard:
    """Parse ``K/N`` (K counts from 0, as in a Slurm array); None or empty means ``0/1``."""
    if spec is None or not str(spec).strip():
        return Shard()
    m = _SPEC.match(str(spec))
    if not m:
        raise ShardSpecError(f"--shard must look like K/N (e.g. 0/4), got {spec!r}")
    return Shard(int(m.group(1)), int(m.group(2)))
