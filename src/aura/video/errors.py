"""User-facing errors of video input and output (one-line messages, CLI exit status 2)."""

from __future__ import annotations

from aura.errors import AuraError, InputFileError


class VideoError(AuraError):
    """A video source cannot be read or written as asked."""


class VideoNotFoundError(VideoError, InputFileError):
    """The video file does not exist (or is not a regular file)."""


class NotAVideoError(VideoError):
    """The input is not a media file any demuxer recognises."""


class NoVideoStreamError(VideoError):
    """The media file has no video stream (audio-only, subtitles, ...)."""


class EmptyVideoError(VideoError):
    """The file is empty, or its video stream holds no decodable frame."""


class VideoTooLargeError(VideoError):
    """The video's frame size is absurd (beyond what aura will decode)."""


class UnsupportedCodecError(VideoError):
    """The video's codec is unknown or has no decoder in this build."""


class VideoTooShortError(VideoError):
    """The video is shorter than one chunk of the stream."""


class CorruptVideoError(VideoError):
    """Decoding stopped early: the file is truncated or corrupt.

    Raised only after every frame that decoded has been yielded; ``decoded_until`` is the
    stream time (seconds) up to which frames were delivered, ``frames`` how many.
    """

    def __init__(self, message: str, *, decoded_until: float = 0.0, frames: int = 0) -> None:
        super().__init__(message)
        self.decoded_until = decoded_until
        self.frames = frames


class EncodeError(VideoError):
    """Frames cannot be encoded (bad shape, dtype, frame rate, or nothing to encode)."""


class PushSourceError(VideoError):
    """A frame pushed into a ``PushSource`` is malformed or out of order."""
