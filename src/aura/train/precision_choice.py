"""Choosing a CPU training precision by timing it: float32 against bfloat16 autocast, on the run's own batch.

Whether bfloat16 autocast speeds up a CPU training step depends on the CPU (AMX tiles,
AVX512-BF16, neither), on the shapes of the batch and on the day's machine: the same recipe has
been 1.1–1.8x faster on one CPU and slower on another. ``mixed_precision: measure`` therefore
times both on the first batch a run trains on and keeps the faster (``aura.train.trainer``).
This module is the timing and the decision, with the clock injected; it knows nothing of models
(``aura bench precision`` times its variants with it too).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

T = TypeVar("T")

# bf16 is kept only when it is this much faster: a tie is not worth its rounding
MIN_SPEEDUP = 1.05


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision a run trains in (``"bf16"`` or ``"no"``) and the timings it was chosen on."""

    precision: str
    speedup: float
    fp32_ms: float
    bf16_ms: float
    repeats: int
    min_speedup: float = MIN_SPEEDUP

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready record (what ``precision.json`` holds)."""
        return asdict(self)

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> PrecisionChoice:
        """The choice a ``to_json`` record holds; ``ValueError`` if it is not one."""
        try:
            choice = cls(**row)
        except TypeError as exc:
            raise ValueError(f"not a precision choice: {exc}") from None
        if choice.precision not in ("bf16", "no"):
            raise ValueError(f"not a precision choice: precision {choice.precision!r}")
        return choice


def time_alternating(step: Callable[[T], None], variants: Sequence[T], *, repeats: int = 4, warmup: int = 1,
                     clock: Callable[[], float] = time.perf_counter) -> dict[T, list[float]]:
    """Seconds of ``step(v)`` for each of ``variants``, ``repeats`` of each after ``warmup`` untimed
    rounds; the order is reversed every other round so drift on a shared machine hits all alike."""
    if repeats < 1 or warmup < 0:
        raise ValueError("repeats must be at least 1 and warmup at least 0")
    times: dict[T, list[float]] = {v: [] for v in variants}
    for r in range(warmup + repeats):
        for v in (variants if r % 2 == 0 else variants[::-1]):
            t0 = clock()
            step(v)
            if r >= warmup:
                times[v].append(clock() - t0)
    return times


def paired_speedup(base_s: list[float], other_s: list[float]) -> float:
    """The median of the paired ratios ``base / other`` (how many times faster ``other`` ran); 1.0 without a pair."""
    if len(base_s) != len(other_s):
        raise ValueError("need as many timings of one variant as of the other")
    ratios = [a / b for a, b in zip(base_s, other_s, strict=True) if b > 0]
    return float(statistics.median(ratios)) if ratios else 1.0


def choose_precision(fp32_s: list[float], bf16_s: list[float], min_speedup: float = MIN_SPEEDUP) -> PrecisionChoice:
    """bf16 when the median of the paired float32/bfloat16 time ratios is at least ``min_speedup``, else float32."""
    if not fp32_s or len(fp32_s) != len(bf16_s):
        raise ValueError("need as many bfloat16 timings as float32 ones, at least one")
    speedup = paired_speedup(fp32_s, bf16_s)
    return PrecisionChoice("bf16" if speedup >= min_speedup else "no", speedup,
                           statistics.median(fp32_s) * 1000, statistics.median(bf16_s) * 1000, len(fp32_s),
                           min_speedup)
