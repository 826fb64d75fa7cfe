"""Test clips made with PyAV: each frame's index is written into it as 8 bright/dark bars."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def index_frame(i: int, height: int, width: int) -> np.ndarray:
    """A frame whose 8 vertical bars spell ``i`` in binary (bright = 1), most significant left."""
    frame = np.zeros((height, width, 3), np.uint8)
    edges = np.linspace(0, width, 9).astype(int)
    for bit in range(8):
        if (i >> (7 - bit)) & 1:
            frame[:, edges[bit] : edges[bit + 1]] = 235
    return frame


def read_index(frame: np.ndarray) -> int:
    """The index spelled by ``index_frame`` (robust to compression: each bar's mean is compared)."""
    width = frame.shape[1]
    edges = np.linspace(0, width, 9).astype(int)
    value = 0
    for bit in range(8):
        a, b = edges[bit], edges[bit + 1]
        margin = max(1, (b - a) // 4)
        bar = frame[:, a + margin : b - margin].astype(float).mean()
        value = value * 2 + int(bar > 128)
    return value


def make_clip(
    path: Path,
    *,
    codec: str = "libx264",
    rate: Fraction | int = 25,
    frames: int = 50,
    size: tuple[int, int] = (64, 96),
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    container_format: str | None = None,
) -> Path:
    """Write ``frames`` index frames; ``pts`` (in ``time_base`` units) makes variable frame rate."""
    height, width = size
    pix = {"mjpeg": "yuvj420p"}.get(codec, "yuv420p")
    with av.open(str(path), mode="w", format=container_format) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix
        if codec in ("libx264", "h264"):
            stream.options = {"preset": "ultrafast", "crf": "18"}
        if time_base is not None:
            stream.codec_context.time_base = time_base
            stream.time_base = time_base
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(index_frame(i, height, width), format="rgb24")
            frame.pts = pts[i] if pts is not None else i
            if time_base is not None:
                frame.time_base = time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def make_audio_only(path: Path) -> Path:
    """An AAC-only file (no video stream)."""
    with av.open(str(path), mode="w", format="mp4") as out:
        stream = out.add_stream("aac", rate=16000)
        for i in range(20):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate = 16000
            frame.pts = i * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path
