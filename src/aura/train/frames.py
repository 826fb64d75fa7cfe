"""Where the pixels of a sample's video parts come from: the ``FrameSource`` protocol.

A video part ``{"type": "video", "chunk": k, "start": s, "end": e}`` names a time range of the
sample's ``video``. A frame source turns it into ``uint8 (F, H, W, 3)`` RGB frames, F even
(2 at 2 FPS for a 1-second chunk). ``VideoFileFrames`` decodes the file with PyAV;
``SyntheticFrames`` draws deterministic frames from the chunk index (tests, benchmarks).
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from aura.errors import InputFileError


class FrameSource(Protocol):
    """Frames of one video part of a sample."""

    def frames(self, sample: dict[str, Any], video_part: dict[str, Any]) -> np.ndarray:
        """uint8 (F, H, W, 3) RGB frames for ``video_part`` of ``sample``; F is even and >= 2."""
        ...


def _even_count(frames: list[np.ndarray], want: int) -> np.ndarray:
    """Stack ``frames``, padding with the last frame to ``want`` (at least 2, even)."""
    want = max(2, want + (want % 2))
    while len(frames) < want:
        frames.append(frames[-1])
    return np.stack(frames[:want]).astype(np.uint8, copy=False)


class SyntheticFrames:
    """Deterministic frames that depend only on (video id, chunk index, frame index).

    Each chunk gets a flat colour with a bright square whose position moves with the chunk,
    so different chunks give different pixels. No I/O.
    """

    def __init__(self, height: int = 64, width: int = 64, fps: float = 2.0) -> None:
        self.height, self.width, self.fps = height, width, fps

    def frames(self, sample: dict[str, Any], video_part: dict[str, Any]) -> np.ndarray:
        """Frames of the part's chunk: ``fps * (end - start)`` of them, at least 2, even."""
        start, end = float(video_part.get("start", 0.0)), float(video_part.get("end", 1.0))
        n = max(2, math.ceil((end - start) * self.fps - 1e-9))
        key = f"{sample.get('video_id', '')}#{video_part.get('chunk', 0)}".encode()
        seed = int.from_bytes(hashlib.blake2b(key, digest_size=4).digest(), "little")
        rng = np.random.default_rng(seed)
        base = rng.integers(0, 200, size=3)
        out = []
        for i in range(n):
            img = np.empty((self.height, self.width, 3), dtype=np.uint8)
            img[:] = base
            s = max(4, self.height // 4)
            y = (seed // 7 + 3 * i) % (self.height - s)
            x = (seed // 13 + 5 * i) % (self.width - s)
            img[y : y + s, x : x + s] = 255
            out.append(img)
        return _even_count(out, n)


class VideoFileFrames:
    """Frames decoded from ``sample["video"]`` by time with PyAV (``aura.video.iter_frames``).

    Relative video paths resolve against ``root``. Frames are sampled at ``fps`` over the part's
    ``[start, end)`` and shrunk so neither side exceeds ``max_side``. A few recently decoded
    parts are cached (bounded by ``cache_parts``).
    """

    def __init__(self, root: str | Path | None = None, fps: float = 2.0, max_side: int | None = 448,
                 cache_parts: int = 64) -> None:
        self.root = Path(root) if root is not None else None
        self.fps, self.max_side, self.cache_parts = fps, max_side, cache_parts
        self._cache: OrderedDict[tuple[str, float, float], np.ndarray] = OrderedDict()

    def _path(self, sample: dict[str, Any]) -> str:
        video = sample.get("video")
        if not video:
            raise InputFileError(f"sample {sample.get('id', '?')}: has video parts but no 'video' path")
        p = Path(video)
        if not p.is_absolute() and self.root is not None:
            p = self.root / p
        return str(p)

    def frames(self, sample: dict[str, Any], video_part: dict[str, Any]) -> np.ndarray:
        """Decoded frames of the part's time range, padded with the last frame to an even count."""
        from aura.video import iter_frames

        path = self._path(sample)
        start, end = float(video_part["start"]), float(video_part["end"])
        key = (path, start, end)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        want = max(2, math.ceil((end - start) * self.fps - 1e-9))
        got = [f for t, f in iter_frames(path, self.fps, start=start, end=end, max_side=self.max_side) if t < end]
        if not got:
            raise InputFileError(f"{path}: no frames in [{start:g}, {end:g}) s (sample {sample.get('id', '?')})")
        arr = _even_count(got, want)
        self._cache[key] = arr
        while len(self._cache) > self.cache_parts:
            self._cache.popitem(last=False)
        return arr
