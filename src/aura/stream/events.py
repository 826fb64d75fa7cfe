"""The events a stream is made of: video chunks, user questions, assistant replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class VideoChunk:
    """One chunk of video: its index in the stream, its time span, and a handle to its frames.

    ``frames`` is opaque to the context (an array, a file reference, ...): backends resolve it.
    """

    index: int
    start: float
    end: float
    frames: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class UserQuestion:
    """A user question asked at ``time`` (seconds of stream time).

    ``id`` names its QA group; when None the context assigns ``q<n>`` in order of arrival.
    """

    text: str
    time: float
    id: str | None = None


@dataclass(frozen=True)
class AssistantResponse:
    """A non-silent assistant reply closing the current chunk's turn.

    ``question_id`` names the QA group it answers; None means the most recent open question.
    """

    text: str
    time: float
    question_id: str | None = None


@dataclass(frozen=True)
class Silence:
    """The assistant stayed silent after the current chunk (it emitted ``<|silent|>``)."""

    time: float


Event = VideoChunk | UserQuestion | AssistantResponse | Silence
