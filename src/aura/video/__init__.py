"""Video input and output on PyAV: probe, decode + resample by timestamp, chunk, encode H.264.

Sources are file paths, URL/RTSP strings (opened by PyAV) and ``PushSource`` (frames pushed in
by a camera or browser). No ffmpeg binary, OpenCV or torchvision. See ``docs/video.md``.
"""

from aura.video.chunks import iter_chunks
from aura.video.encode import decode_mp4_bytes, encode_mp4_bytes, frame_rate, write_mp4
from aura.video.errors import (
    CorruptVideoError,
    EmptyVideoError,
    EncodeError,
    NotAVideoError,
    NoVideoStreamError,
    PushSourceError,
    UnsupportedCodecError,
    VideoError,
    VideoNotFoundError,
    VideoTooLargeError,
    VideoTooShortError,
)
from aura.video.frames import iter_frames
from aura.video.probe import VideoInfo, probe
from aura.video.push import PushSource
from aura.video.resize import fit_size, resize_rgb

__all__ = [
    "CorruptVideoError",
    "EmptyVideoError",
    "EncodeError",
    "NoVideoStreamError",
    "NotAVideoError",
    "PushSource",
    "PushSourceError",
    "UnsupportedCodecError",
    "VideoError",
    "VideoInfo",
    "VideoNotFoundError",
    "VideoTooLargeError",
    "VideoTooShortError",
    "decode_mp4_bytes",
    "encode_mp4_bytes",
    "fit_size",
    "frame_rate",
    "iter_chunks",
    "iter_frames",
    "probe",
    "resize_rgb",
    "write_mp4",
]
