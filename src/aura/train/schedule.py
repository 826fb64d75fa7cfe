"""Learning-rate schedule: linear warm-up, then cosine decay to a floor."""

from __future__ import annotations

import math


def cosine_with_warmup(step: int, total_steps: int, warmup_steps: int, min_ratio: float = 0.0) -> float:
    """The learning-rate multiplier at optimizer step ``step`` (0-based).

    Rises linearly from 0 to 1 over ``warmup_steps``, then follows half a cosine from 1 down to
    ``min_ratio`` at ``total_steps``; stays at ``min_ratio`` afterwards.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return step / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_steps_for(total_steps: int, warmup_steps: int | None, warmup_ratio: float) -> int:
    """Warm-up length: the explicit step count if given, else ``ceil(ratio * total)``."""
    if warmup_steps is not None:
        return min(warmup_steps, total_steps)
    return math.ceil(warmup_ratio * total_steps)
