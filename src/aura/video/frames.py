"""Decoding any video source into RGB frames resampled by timestamp (``iter_frames``)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any

import av
import av.error
import numpy as np
from av.video.reformatter import VideoReformatter

from aura.video.errors import CorruptVideoError, EmptyVideoError
from aura.video.push import PushSource
from aura.video.resample import Resampled, resample
from aura.video.resize import fit_size, resize_rgb
from aura.video.source import Source, close_quietly, describe, open_input, video_stream

log = logging.getLogger(__name__)

MAX_BAD_PACKETS = 32
"""Undecodable packets tolerated (skipped) before a stream is declared corrupt."""
SEEK_AFTER = 4.0
"""Start times further into the file than this seek instead of decoding from the beginning."""

Frame = tuple[float, np.ndarray]


def iter_frames(
    source: Source | PushSource,
    fps: float = 2.0,
    *,
    start: float = 0.0,
    end: float | None = None,
    max_side: int | None = None,
) -> Iterator[Frame]:
    """Yield ``(time_s, frame)`` at ``start, start + 1/fps, ...`` until the video (or ``end``) ends.

    ``frame`` is a uint8 ``(H, W, 3)`` RGB array, the frame on screen at ``time_s`` (stream time,
    0 = the first frame). ``max_side`` shrinks frames (keeping the aspect ratio) so neither side
    exceeds it. Any container, codec and frame rate PyAV reads works, including variable frame
    rate. A truncated or corrupt file yields every frame that decodes, then raises
    ``CorruptVideoError`` naming how far it got (``decoded_until``); a file with no decodable
    frame raises ``EmptyVideoError``. Bad paths raise the errors of ``aura.video.source``.
    """
    if fps <= 0 or not math.isfinite(fps):
        raise ValueError(f"fps must be a positive number, got {fps}")
    if start < 0 or (end is not None and end <= start):
        raise ValueError(f"bad time range start={start} end={end}")
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    if isinstance(source, PushSource):
        yield from _iter_push(source, fps, start, end, max_side)
        return
    yield from _iter_file(source, fps, start, end, max_side)


def _iter_push(src: PushSource, fps: float, start: float, end: float | None, max_side: int | None) -> Iterator[Frame]:
    def convert(arr: np.ndarray) -> np.ndarray:
        if max_side is None:
            return arr
        h, w = fit_size(arr.shape[0], arr.shape[1], max_side)
        return resize_rgb(arr, h, w)

    def timed() -> Iterator[tuple[float, float, np.ndarray]]:
        # A pushed frame's duration is unknown: each lasts as long as the gap before it.
        prev_t: float | None = None
        for t, arr in src.frames():
            gap = t - prev_t if prev_t is not None and t > prev_t else 1.0 / fps
            prev_t = t
            yield t, gap, arr

    raw = timed()
    yield from resample(raw, fps, start=start, end=end, convert=convert)  # type: ignore[misc]


def _iter_file(source: Source, fps: float, start: float, end: float | None, max_side: int | None) -> Iterator[Frame]:
    name = describe(source)
    container = open_input(source)
    try:
        stream = video_stream(container, name)
        ctx = stream.codec_context
        size = fit_size(ctx.height, ctx.width, max_side) if max_side and ctx.width and ctx.height else None
        stats: Resampled[Any] = Resampled()
        # One reformatter for the whole file: ``frame.to_ndarray(format=...)`` builds a new
        # swscale context per frame, which cost more than decoding (8x slower on small frames).
        reformatter = VideoReformatter()

        def convert(frame: Any) -> np.ndarray:
            if size is None:
                rgb = reformatter.reformat(frame, format="rgb24")
            else:
                rgb = reformatter.reformat(frame, format="rgb24", width=size[1], height=size[0], interpolation="AREA")
            return upright(rgb.to_ndarray(), frame)

        raw = _decode(container, stream, name, start)
        yield from resample(raw, fps, start=start, end=end, stats=stats, convert=convert)  # type: ignore[misc]
        expected = _stream_duration(stream) or _header_duration(container)
        if stats.emitted == 0:
            if start > 0 and stats.last_end > 0:
                return
            if expected:
                raise CorruptVideoError(
                    f"{name}: video is truncated or corrupt: no frame of its {expected:.1f}s decodes", frames=0
                )
            raise EmptyVideoError(f"{name}: the video stream holds no decodable frame")
        if end is not None and expected is not None:
            expected = min(expected, end)
        if expected is not None and stats.last_end < expected - max(1.0, 0.02 * expected):
            raise CorruptVideoError(
                f"{name}: video is truncated: decoded {stats.last_end:.1f}s of {expected:.1f}s",
                decoded_until=stats.last_end,
                frames=stats.emitted,
            )
    finally:
        close_quietly(container)


def upright(arr: np.ndarray, frame: Any) -> np.ndarray:
    """``arr`` turned as its display matrix says (phone videos store portrait frames rotated)."""
    turns = round((getattr(frame, "rotation", 0) or 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(arr, k=turns)) if turns else arr


def _decode(container: Any, stream: Any, name: str, start: float) -> Iterator[tuple[float, float, Any]]:
    """Yield ``(time, duration, av.VideoFrame)`` with times relative to the first frame."""
    origin: float | None = None
    last_t = 0.0
    nominal = _nominal_duration(stream)
    bad = 0
    seeked = False
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.error.FFmpegError as exc:
            raise CorruptVideoError(
                f"{name}: video is corrupt after {last_t:.1f}s ({_first_line(exc)})", decoded_until=last_t
            ) from None
        try:
            decoded = packet.decode()
        except av.error.FFmpegError as exc:
            bad += 1
            log.debug("%s: skipped an undecodable packet (%s)", name, _first_line(exc))
            if bad > MAX_BAD_PACKETS:
                raise CorruptVideoError(
                    f"{name}: video is corrupt after {last_t:.1f}s ({bad} undecodable packets)", decoded_until=last_t
                ) from None
            continue
        for frame in decoded:
            t_abs = frame.time if frame.time is not None else None
            if origin is None:
                origin = t_abs if t_abs is not None else 0.0
                if start > SEEK_AFTER and not seeked:
                    seeked = True
                    if _seek(container, stream, origin + start - 1.0):
                        packets = container.demux(stream)
                        # Re-decode from the keyframe before ``start``; frames before it are skipped.
                        break
            t = (t_abs - origin) if t_abs is not None else last_t + nominal
            dur = float(frame.duration * stream.time_base) if frame.duration and stream.time_base else nominal
            last_t = max(t, last_t)
            yield t, dur, frame
    # Flush frames buffered in the decoder.
    try:
        for frame in stream.codec_context.decode(None):
            t = last_t + nominal if frame.time is None or origin is None else frame.time - origin
            last_t = max(t, last_t)
            yield t, nominal, frame
    except av.error.FFmpegError:
        pass


def _seek(container: Any, stream: Any, target: float) -> bool:
    try:
        stream.codec_context.flush_buffers()
        container.seek(int(max(target, 0.0) / stream.time_base), stream=stream, backward=True, any_frame=False)
        return True
    except (av.error.FFmpegError, OverflowError, ZeroDivisionError, TypeError):
        return False


def _nominal_duration(stream: Any) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    try:
        value = float(rate) if rate else 0.0
    except (TypeError, ZeroDivisionError):
        value = 0.0
    return 1.0 / value if value > 0 and value < 1000 else 1.0 / 25


def _stream_duration(stream: Any) -> float | None:
    if stream.duration is None or not stream.time_base:
        return None
    value = float(stream.duration * stream.time_base)
    return value if value > 0 else None


HEADER_DURATION_FORMATS = ("matroska",)
"""Containers whose header records the duration (rather than FFmpeg estimating it)."""


def _header_duration(container: Any) -> float | None:
    name = str(container.format.name)
    if not container.duration or len(container.streams) != 1 or not name.startswith(HEADER_DURATION_FORMATS):
        return None
    return container.duration / 1_000_000


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).splitlines()[0] if text else type(exc).__name__
