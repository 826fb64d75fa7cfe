"""``iter_chunks``: a video cut into the stream context's chunks of resampled frames."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from aura.stream import ContextConfig, VideoChunk
from aura.video.errors import CorruptVideoError, VideoTooShortError
from aura.video.frames import iter_frames
from aura.video.push import PushSource
from aura.video.source import Source, describe


def iter_chunks(
    source: Source | PushSource,
    config: ContextConfig | None = None,
    *,
    max_side: int | None = None,
) -> Iterator[VideoChunk]:
    """Yield ``VideoChunk(k, start, end, frames)`` with ``frames`` uint8 ``(F, H, W, 3)``.

    ``F = config.fps * config.chunk_seconds``; chunk ``k`` holds the frames sampled at
    ``k*c + j/fps``. The last chunk, if partial, is padded by repeating its last frame and
    its ``end`` is where the video ends; no chunk is ever empty (a tail with no frame is
    dropped). A video with fewer frames than one chunk raises ``VideoTooShortError``. A
    truncated file yields the chunks that decoded (the last one padded), then re-raises the
    ``CorruptVideoError``.
    """
    config = config or ContextConfig()
    per = config.frames_per_chunk
    c = config.chunk_seconds
    pending: list[np.ndarray] = []
    index = 0
    last_time = 0.0
    name = "push source" if isinstance(source, PushSource) else describe(source)
    try:
        for t, frame in iter_frames(source, config.fps, max_side=max_side):
            pending.append(frame)
            last_time = t
            if len(pending) == per:
                yield VideoChunk(index, round(index * c, 6), round((index + 1) * c, 6), np.stack(pending))
                pending = []
                index += 1
    except CorruptVideoError:
        if index == 0 and len(pending) < per:
            raise
        if pending:
            yield _padded(index, c, pending, per, last_time + 1.0 / config.fps)
        raise
    if index == 0 and len(pending) < per:
        covered = len(pending) / config.fps
        raise VideoTooShortError(f"{name}: video is shorter than one {c:g}s chunk (about {covered:.1f}s)")
    if pending:
        yield _padded(index, c, pending, per, last_time + 1.0 / config.fps)


def _padded(index: int, c: float, frames: list[np.ndarray], per: int, end: float) -> VideoChunk:
    frames = frames + [frames[-1]] * (per - len(frames))
    start = index * c
    return VideoChunk(index, round(start, 6), round(min(end, start + c), 6), np.stack(frames))
