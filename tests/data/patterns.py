"""ffmpeg-style test patterns made with numpy + PyAV, with an exact ground truth of what appears when.

A pattern is a moving colour gradient (like lavfi ``testsrc2``) over which coloured squares
appear and disappear at known times; ``Event`` lists them. The fake MLLM server answers from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

COLOURS = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (30, 200, 60), "yellow": (230, 210, 30)}


@dataclass(frozen=True)
class Square:
    """A ``colour`` square visible from ``start`` to ``end`` seconds of the source."""

    colour: str
    start: float
    end: float


def pattern_frame(t: float, height: int, width: int, squares: list[Square]) -> np.ndarray:
    """The frame at time ``t``: a gradient scrolling right, with the squares visible at ``t``."""
    x = (np.arange(width)[None, :] + 40 * t) % width
    y = np.arange(height)[:, None]
    frame = np.empty((height, width, 3), np.uint8)
    frame[..., 0] = (255 * x / width).astype(np.uint8)
    frame[..., 1] = (255 * y / height).astype(np.uint8)
    frame[..., 2] = 96
    side = min(height, width) // 3
    for i, sq in enumerate(squares):
        if sq.start <= t < sq.end:
            x0 = (i * side) % max(1, width - side)
            frame[side // 2 : side // 2 + side, x0 : x0 + side] = COLOURS[sq.colour]
    return frame


def make_pattern(
    path: Path, seconds: float, squares: list[Square], *, fps: int = 25, size: tuple[int, int] = (96, 128),
    codec: str = "libx264",
) -> Path:
    """Encode the pattern to ``path`` (any container PyAV can write; mpeg4 or libx264)."""
    height, width = size
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast"}
        for i in range(round(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(pattern_frame(i / fps, height, width, squares), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def make_audio_only(path: Path, seconds: float = 1.0) -> Path:
    """An mp4 holding only an AAC audio stream (no video stream)."""
    with av.open(str(path), mode="w", format="mp4") as out:
        stream = out.add_stream("aac", rate=16000)
        for i in range(round(seconds * 16000 / 1024)):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate = 16000
            frame.pts = i * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path
