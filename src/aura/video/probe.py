"""``probe``: what a video file holds, checked before any long decode."""

from __future__ import annotations

from typing import Any

import av.error
from pydantic import BaseModel, ConfigDict

from aura.video.errors import CorruptVideoError, EmptyVideoError
from aura.video.source import Source, close_quietly, describe, open_input, video_stream


class VideoInfo(BaseModel):
    """A video's main facts. ``duration`` and ``frames`` are None when the container hides them.

    ``width``/``height`` are as displayed: a frame stored with a 90/270 degree display rotation
    (``rotation``, counter-clockwise) is reported, and decoded, upright.
    """

    model_config = ConfigDict(frozen=True)
    source: str
    has_video: bool
    codec: str
    width: int
    height: int
    rotation: int = 0
    fps: float | None
    duration: float | None
    frames: int | None
    container: str


def probe(source: Source) -> VideoInfo:
    """Describe ``source``'s first video stream, after checking that one frame decodes.

    Raises ``VideoNotFoundError``, ``EmptyVideoError`` (0 bytes, or no decodable frame),
    ``NotAVideoError``, ``NoVideoStreamError``, ``UnsupportedCodecError``,
    ``VideoTooLargeError`` or ``CorruptVideoError`` with a one-line message.
    """
    name = describe(source)
    container = open_input(source)
    try:
        stream = video_stream(container, name)
        ctx = stream.codec_context
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        first = _first_frame(container, stream, name)
        if first is None:
            raise EmptyVideoError(f"{name}: the video stream holds no decodable frame")
        width, height = width or first.width, height or first.height
        rotation = round((getattr(first, "rotation", 0) or 0) / 90) % 4 * 90
        if rotation in (90, 270):
            width, height = height, width  # as displayed
        fps = _fps(stream)
        duration = _duration(container, stream)
        frames = int(stream.frames) if stream.frames else None
        if frames is None and duration is not None and fps:
            frames = max(1, round(duration * fps))
        return VideoInfo(
            source=name,
            has_video=True,
            codec=str(ctx.name),
            width=width,
            height=height,
            rotation=rotation,
            fps=fps,
            duration=duration,
            frames=frames,
            container=str(container.format.name),
        )
    finally:
        close_quietly(container)


def _first_frame(container: Any, stream: Any, name: str) -> Any:
    bad = 0
    try:
        for packet in container.demux(stream):
            try:
                for frame in packet.decode():
                    return frame
            except av.error.FFmpegError:
                bad += 1
                if bad > 32:
                    break
        for frame in stream.codec_context.decode(None):
            return frame
    except av.error.FFmpegError:
        raise CorruptVideoError(f"{name}: video is truncated or corrupt: no frame decodes") from None
    if bad:
        raise CorruptVideoError(f"{name}: video is truncated or corrupt: no frame decodes")
    return None


def _fps(stream: Any) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        try:
            value = float(rate) if rate else 0.0
        except (TypeError, ZeroDivisionError):
            continue
        if 0 < value < 1000:
            return round(value, 6)
    return None


def _duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base:
        value = float(stream.duration * stream.time_base)
        if value > 0:
            return round(value, 6)
    if container.duration:
        return round(container.duration / 1_000_000, 6)
    return None
