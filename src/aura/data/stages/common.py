"""What the model-driven stages share: the client, the frame pools, and frame selection."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aura.data.client import ChatClient
from aura.data.config import ApiConfig
from aura.data.media import PoolCache, media_parts, select


@dataclass
class ModelStage:
    """The environment of stages 2, 3 and 5: where videos live and how to ask the MLLM."""

    work: Path
    client: ChatClient
    pools: PoolCache
    api: ApiConfig
    sample_fps: float
    max_frames: int

    chunk_seconds: float = 1.0

    def frames(self, video: str, *, start: float = 0.0, until: float | None = None) -> list[dict[str, Any]]:
        """Chat parts showing ``video`` (relative to the work directory) from ``start`` to ``until``."""
        pool = self.pools.get(self.work / video)
        chosen = select(pool, start=start, until=until, max_frames=self.max_frames)
        return media_parts(chosen, self.api.media, self.sample_fps)


    def seen_by(self, video: str, t: float) -> list[dict[str, Any]]:
        """What a streaming model has seen when it replies at time ``t``: every frame up to the end
        of ``t``'s chunk (the reply follows the chunk), and nothing later."""
        end = (math.floor(t / self.chunk_seconds + 1e-9) + 1) * self.chunk_seconds
        return self.frames(video, until=end - 1e-3)


def fmt_time(t: float) -> str:
    """A time as prompts show it (``12.5``)."""
    return f"{t:.1f}"


def scenes_text(scenes: list[Any]) -> str:
    """Scene descriptions as prompt lines: ``[start-end s] description``."""
    return "\n".join(f"[{fmt_time(s.start)}-{fmt_time(s.end)} s] {s.description}" for s in scenes) or "(none)"
