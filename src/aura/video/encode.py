"""H.264 encoding to mp4 files and to in-memory bytes, and decoding such bytes back."""

from __future__ import annotations

import io
import math
import os
import tempfile
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
from av.video.reformatter import VideoReformatter

from aura.video.errors import EncodeError, NotAVideoError

MAX_DECODE_FRAMES = 100_000


def frame_rate(fps: float) -> Fraction:
    """``fps`` as an exact rational rate (29.97 -> 30000/1001)."""
    if not math.isfinite(fps) or fps <= 0 or fps > 1000:
        raise EncodeError(f"frame rate must be in (0, 1000], got {fps}")
    if abs(fps - round(fps)) < 1e-6:
        return Fraction(round(fps))
    ntsc = fps * 1.001
    if abs(ntsc - round(ntsc)) < 0.005:
        return Fraction(round(ntsc) * 1000, 1001)
    return Fraction(fps).limit_denominator(1000)


def write_mp4(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    crf: int = 23,
    preset: str = "veryfast",
    keyframe_seconds: float = 4.0,
) -> int:
    """Encode RGB uint8 ``(H, W, 3)`` frames as H.264 (libx264, yuv420p) mp4 at ``path``.

    Odd sizes are padded to even by repeating the last row/column. A keyframe starts every
    ``keyframe_seconds`` at most, so readers can seek anywhere cheaply. The file is written to a
    temporary name and renamed, so ``path`` is either absent/old or complete (with its index
    at the front, so a truncated copy still decodes up to the cut). Returns the frame count.
    Raises ``EncodeError`` for no frames, a bad frame or a frame of a different size.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp.mp4", dir=path.parent)
    os.close(fd)
    try:
        with av.open(tmp, mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
            count = _encode(out, frames, fps, crf, preset, keyframe_seconds)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a video is an ordinary readable file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def encode_mp4_bytes(frames: Iterable[np.ndarray], fps: float, *, crf: int = 23, preset: str = "veryfast") -> bytes:
    """The same H.264 mp4 as ``write_mp4``, returned as bytes (e.g. for a ``video_url`` data URI)."""
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        _encode(out, frames, fps, crf, preset)
    return buf.getvalue()


def decode_mp4_bytes(data: bytes, *, max_frames: int = MAX_DECODE_FRAMES) -> np.ndarray:
    """Every frame of an in-memory video as uint8 ``(N, H, W, 3)`` RGB.

    Raises ``NotAVideoError`` if the bytes are not a decodable video, ``EncodeError`` beyond
    ``max_frames`` frames.
    """
    if not data:
        raise NotAVideoError("video bytes are empty")
    frames: list[np.ndarray] = []
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise NotAVideoError("video bytes hold no video stream")
            reformatter = VideoReformatter()  # one swscale context for every frame
            for frame in container.decode(video=0):
                frames.append(reformatter.reformat(frame, format="rgb24").to_ndarray())
                if len(frames) > max_frames:
                    raise EncodeError(f"video bytes hold more than {max_frames} frames")
    except av.error.FFmpegError as exc:
        raise NotAVideoError(f"video bytes are not a decodable video ({exc})") from None
    if not frames:
        raise NotAVideoError("video bytes hold no decodable frame")
    return np.stack(frames)


def _encode(
    out: Any, frames: Iterable[np.ndarray], fps: float, crf: int, preset: str, keyframe_seconds: float = 4.0
) -> int:
    rate = frame_rate(fps)
    if not 0 <= crf <= 51:
        raise EncodeError(f"crf must be in 0..51, got {crf}")
    stream = None
    shape: tuple[int, int] | None = None
    count = 0
    for arr in frames:
        arr = _check_frame(arr, count)
        if stream is None:
            shape = arr.shape[:2]
            stream = out.add_stream("libx264", rate=rate)
            stream.width = arr.shape[1] + arr.shape[1] % 2
            stream.height = arr.shape[0] + arr.shape[0] % 2
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(crf), "preset": preset}
            stream.codec_context.time_base = Fraction(1, 1) / rate
            stream.codec_context.gop_size = max(1, round(float(rate) * keyframe_seconds))
        elif arr.shape[:2] != shape:
            raise EncodeError(f"frame {count} is {arr.shape[1]}x{arr.shape[0]}, the first was {shape[1]}x{shape[0]}")
        arr = _even(arr)
        frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
        frame.pts = count
        for packet in stream.encode(frame):
            out.mux(packet)
        count += 1
    if stream is None:
        raise EncodeError("no frames to encode")
    for packet in stream.encode(None):
        out.mux(packet)
    return count


def _check_frame(arr: Any, index: int) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1:
        raise EncodeError(f"frame {index} must be a uint8 (H, W, 3) array, got {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr)


def _even(arr: np.ndarray) -> np.ndarray:
    h, w = arr.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return arr
    return np.pad(arr, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
