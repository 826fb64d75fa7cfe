"""Frames shown to the MLLM: a per-segment pool of JPEG frames, and chat parts made from it.

A segment is decoded once into JPEGs at ``sample_fps`` (small, reused by every request about
that segment); a request picks frames up to a time (what the model may see) and sends them as
``image_url`` parts, each preceded by its time, or as one ``video_url`` mp4 data URI.
"""

from __future__ import annotations

import base64
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from aura.video import encode_mp4_bytes, iter_frames

EPS = 1e-6


@dataclass(frozen=True)
class PoolFrame:
    """One frame of a pool: its segment time and JPEG bytes."""

    time: float
    jpeg: bytes


def build_pool(path: str | Path, sample_fps: float, max_side: int, quality: int = 85) -> list[PoolFrame]:
    """Decode ``path`` once, keeping a JPEG at every ``1/sample_fps`` seconds, shrunk to ``max_side``."""
    out = []
    for t, arr in iter_frames(path, fps=sample_fps, max_side=max_side):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
        out.append(PoolFrame(float(t), buf.getvalue()))
    return out


def select(
    pool: list[PoolFrame], *, start: float = 0.0, until: float | None = None, max_frames: int
) -> list[PoolFrame]:
    """Frames with ``start <= time <= until``, thinned evenly to ``max_frames``, keeping the last one."""
    frames = [f for f in pool if f.time >= start - EPS and (until is None or f.time <= until + EPS)]
    if len(frames) <= max_frames:
        return frames
    if max_frames == 1:
        return [frames[-1]]
    idx = np.linspace(0, len(frames) - 1, max_frames).round().astype(int)
    return [frames[i] for i in sorted(set(idx.tolist()))]


def media_parts(frames: list[PoolFrame], mode: str, fps: float) -> list[dict[str, Any]]:
    """Chat content parts showing ``frames``: timed ``image_url`` parts, or one ``video_url``."""
    if not frames:
        return []
    if mode == "video_url":
        arrays = [np.asarray(Image.open(io.BytesIO(f.jpeg)).convert("RGB")) for f in frames]
        data = base64.b64encode(encode_mp4_bytes(arrays, fps)).decode("ascii")
        span = f"[video: {len(frames)} frames from t={frames[0].time:.1f}s to t={frames[-1].time:.1f}s]"
        return [{"type": "text", "text": span},
                {"type": "video_url", "video_url": {"url": f"data:video/mp4;base64,{data}"}}]
    parts: list[dict[str, Any]] = []
    for f in frames:
        parts.append({"type": "text", "text": f"[t={f.time:.1f}s]"})
        url = "data:image/jpeg;base64," + base64.b64encode(f.jpeg).decode("ascii")
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


class PoolCache:
    """A small LRU of segment pools (bounded: ``size`` segments), safe across threads."""

    def __init__(self, sample_fps: float, max_side: int, quality: int = 85, size: int = 8) -> None:
        self.sample_fps, self.max_side, self.quality, self.size = sample_fps, max_side, quality, size
        self._pools: OrderedDict[str, list[PoolFrame]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str | Path) -> list[PoolFrame]:
        """The pool of the video at ``path``, decoded on first use."""
        key = str(path)
        with self._lock:
            if key in self._pools:
                self._pools.move_to_end(key)
                return self._pools[key]
        pool = build_pool(path, self.sample_fps, self.max_side, self.quality)
        with self._lock:
            self._pools[key] = pool
            while len(self._pools) > self.size:
                self._pools.popitem(last=False)
        return pool
