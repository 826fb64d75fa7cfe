"""Opening a video source with PyAV: a file path or a URL/RTSP string, with clear errors."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import av
import av.error

from aura.video.errors import (
    CorruptVideoError,
    EmptyVideoError,
    NotAVideoError,
    NoVideoStreamError,
    UnsupportedCodecError,
    VideoError,
    VideoNotFoundError,
    VideoTooLargeError,
)

MAX_SIDE = 16384
"""Frames wider or taller than this are refused as absurd."""
MAX_PIXELS = 8192 * 8192
"""Frames with more pixels than this are refused as absurd."""

TEXT_FORMATS = frozenset({"tty", "bintext", "xbin", "adf", "idf", "ansi"})
"""Demuxers that present text files as "video" (ANSI art): refused as not a video."""

Source = str | os.PathLike[str]


def is_url(source: Source) -> bool:
    """True when ``source`` names a network stream (``scheme://...``) rather than a file."""
    return isinstance(source, str) and "://" in source and not source.startswith("file://")


def describe(source: Source) -> str:
    """A short name of the source for error messages."""
    return str(source)


def open_input(source: Source, *, timeout: float = 10.0) -> Any:
    """Open ``source`` for reading and return the PyAV container.

    Raises ``VideoNotFoundError`` for a missing file, ``EmptyVideoError`` for a 0-byte file and
    ``NotAVideoError`` when no demuxer recognises the data (or a URL cannot be opened).
    """
    name = describe(source)
    options: dict[str, str] = {}
    if is_url(source):
        target = str(source)
        if target.startswith("rtsp://"):
            options["rtsp_transport"] = "tcp"
    else:
        path = Path(str(source).removeprefix("file://"))
        if not path.exists():
            raise VideoNotFoundError(f"{name}: no such file")
        if not path.is_file():
            raise VideoNotFoundError(f"{name}: not a regular file")
        if path.stat().st_size == 0:
            raise EmptyVideoError(f"{name}: the file is empty (0 bytes)")
        target = str(path)
    try:
        return av.open(target, mode="r", options=options, timeout=timeout)
    except av.error.FileNotFoundError:
        raise VideoNotFoundError(f"{name}: no such file") from None
    except (av.error.InvalidDataError, av.error.EOFError):
        if not is_url(source) and _looks_like_mp4(Path(target)):
            raise CorruptVideoError(f"{name}: damaged or truncated mp4 (its index cannot be read)") from None
        raise NotAVideoError(f"{name}: not a video file (no demuxer recognises its data)") from None
    except av.error.FFmpegError as exc:
        raise NotAVideoError(f"{name}: cannot open ({_reason(exc)})") from None


def video_stream(container: Any, name: str) -> Any:
    """The first video stream of ``container``, checked for a decoder and a sane frame size.

    Raises ``NoVideoStreamError``, ``UnsupportedCodecError`` or ``VideoTooLargeError``.
    """
    if container.format.name in TEXT_FORMATS:
        raise NotAVideoError(f"{name}: not a video file (it looks like text)")
    streams = list(container.streams.video)
    if not streams:
        kinds = sorted({s.type for s in container.streams}) or ["nothing"]
        raise NoVideoStreamError(f"{name}: no video stream (the file holds {', '.join(kinds)})")
    stream = streams[0]
    try:
        ctx = stream.codec_context
    except av.error.FFmpegError:
        ctx = None
    codec_name = getattr(ctx, "name", None) if ctx is not None else None
    if ctx is None or not codec_name or codec_name == "none":
        raise UnsupportedCodecError(f"{name}: unknown video codec (no decoder for it in this PyAV build)")
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise VideoTooLargeError(f"{name}: frame size {width}x{height} is too large (max side {MAX_SIDE})")
    stream.thread_type = "AUTO"
    return stream


def close_quietly(container: Any) -> None:
    """Close a container, ignoring errors from a half-broken one."""
    with contextlib.suppress(av.error.FFmpegError, OSError):
        container.close()


def _looks_like_mp4(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return head[4:8] == b"ftyp"


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).splitlines()[0] if text else type(exc).__name__


__all__ = [
    "MAX_PIXELS",
    "MAX_SIDE",
    "Source",
    "VideoError",
    "close_quietly",
    "describe",
    "is_url",
    "open_input",
    "video_stream",
]
