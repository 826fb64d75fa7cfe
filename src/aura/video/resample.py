"""Resampling a stream of timestamped frames to a fixed rate, by presentation time.

Pure logic (no decoding): the frame sampled at instant ``s`` is the frame on screen at ``s``,
i.e. the last frame whose timestamp is ``<= s``. This works for any source frame rate,
including variable frame rate, and repeats or drops source frames as the rates require.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from aura.video.errors import CorruptVideoError

T = TypeVar("T")
EPS = 1e-6


class Resampled(Generic[T]):
    """Counters of a resampling run, readable while and after it runs."""

    def __init__(self) -> None:
        self.emitted = 0
        self.last_end = 0.0


def resample(
    frames: Iterable[tuple[float, float, T]],
    fps: float,
    *,
    start: float = 0.0,
    end: float | None = None,
    stats: Resampled[T] | None = None,
    convert: Callable[[T], object] | None = None,
) -> Iterator[tuple[float, object]]:
    """Yield ``(instant, convert(frame))`` at instants ``start + i/fps`` below ``end``.

    ``frames`` yields ``(time, duration, frame)`` in presentation order; a frame is on screen
    from its time until the next frame's time (the last one for its ``duration``). A time that
    goes backwards is treated as equal to the previous one. Instants before the first frame
    show the first frame. If ``frames`` raises ``CorruptVideoError``, every instant the frames
    decoded so far cover is yielded first, then the error is re-raised with ``decoded_until``
    set to the time covered.
    """
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    stats = stats if stats is not None else Resampled()
    convert = convert or (lambda f: f)
    i = 0
    prev: T | None = None
    prev_t = 0.0
    prev_dur = 1.0 / fps
    cached: tuple[int, object] | None = None
    serial = 0

    def instant(k: int) -> float:
        return start + k / fps

    def emit(k: int) -> tuple[float, object]:
        nonlocal cached
        assert prev is not None
        if cached is None or cached[0] != serial:
            cached = (serial, convert(prev))
        return round(instant(k), 6), cached[1]

    try:
        for t, dur, frame in frames:
            if prev is None:
                prev, prev_t, prev_dur = frame, t, dur
                serial += 1
                continue
            t = max(t, prev_t)
            while instant(i) < t - EPS and (end is None or instant(i) < end - EPS):
                yield emit(i)
                i += 1
                stats.emitted = i
            if end is not None and instant(i) >= end - EPS:
                stats.last_end = t
                return
            prev, prev_t, prev_dur = frame, t, dur
            serial += 1
    except CorruptVideoError as exc:
        covered = prev_t + prev_dur if prev is not None else 0.0
        if prev is not None:
            while instant(i) < covered - EPS and (end is None or instant(i) < end - EPS):
                yield emit(i)
                i += 1
                stats.emitted = i
        stats.last_end = covered
        raise CorruptVideoError(str(exc), decoded_until=covered, frames=i) from None
    if prev is None:
        return
    covered = prev_t + max(prev_dur, EPS)
    stats.last_end = covered
    while instant(i) < covered - EPS and (end is None or instant(i) < end - EPS):
        yield emit(i)
        i += 1
        stats.emitted = i
