"""The WebSocket protocol of the real-time assistant, typed (see ``docs/protocol.md``).

Client to server: JSON text messages (``question``, ``control``, ``ping``) and binary messages
for media: one kind byte (``F`` = JPEG frame, ``A`` = 16 kHz mono 16-bit PCM audio), the
stream time as a little-endian float64, then the payload. Server to client: JSON text only.
"""

from __future__ import annotations

import struct
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from aura.errors import AuraError

MEDIA_HEADER = struct.Struct("<cd")
"""Binary media header: kind byte and stream time in seconds (9 bytes)."""


class ProtocolError(AuraError):
    """A client message that does not follow the protocol (the connection stays open)."""

    def __init__(self, message: str, code: str = "bad_message") -> None:
        super().__init__(message)
        self.code = code


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------- client -> server
class QuestionIn(_Msg):
    """A typed question; it is attached to the next chunk and cancels any answer in progress."""

    type: Literal["question"]
    text: str = Field(min_length=1, max_length=2000)


class ControlIn(_Msg):
    """Push-to-talk edges, speech output on/off, end of the stream."""

    type: Literal["control"]
    action: Literal["ptt_start", "ptt_end", "speak_on", "speak_off", "end_of_stream"]


class PingIn(_Msg):
    """Keep-alive; answered with ``pong``."""

    type: Literal["ping"]
    id: int | None = None


ClientText = Annotated[QuestionIn | ControlIn | PingIn, Field(discriminator="type")]
_CLIENT_TEXT: TypeAdapter[Any] = TypeAdapter(ClientText)


class FrameIn(_Msg):
    """A camera frame (JPEG bytes) at stream time ``t`` seconds."""

    type: Literal["frame"] = "frame"
    t: float = Field(ge=0)
    jpeg: bytes


class AudioIn(_Msg):
    """Microphone audio: 16 kHz mono signed 16-bit little-endian PCM, starting at stream time ``t``."""

    type: Literal["audio"] = "audio"
    t: float = Field(ge=0)
    pcm: bytes


def parse_text(raw: str) -> QuestionIn | ControlIn | PingIn:
    """Parse a JSON text message; raise ``ProtocolError`` with a one-line reason."""
    try:
        return _CLIENT_TEXT.validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "message"
        raise ProtocolError(f"{where}: {first['msg']}") from None


def parse_binary(raw: bytes) -> FrameIn | AudioIn:
    """Parse a binary media message (kind byte, float64 time, payload); raise ``ProtocolError``."""
    if len(raw) <= MEDIA_HEADER.size:
        raise ProtocolError(f"binary message of {len(raw)} bytes is shorter than its header")
    kind, t = MEDIA_HEADER.unpack_from(raw)
    payload = raw[MEDIA_HEADER.size :]
    try:
        if kind == b"F":
            return FrameIn(t=t, jpeg=payload)
        if kind == b"A":
            if len(payload) % 2:
                raise ProtocolError("audio payload has an odd number of bytes (16-bit PCM expected)")
            return AudioIn(t=t, pcm=payload)
    except ValidationError as exc:
        raise ProtocolError(f"media message: {exc.errors()[0]['msg']}") from None
    raise ProtocolError(f"unknown binary message kind {kind!r} (expected b'F' or b'A')")


def pack_media(kind: Literal["F", "A"], t: float, payload: bytes) -> bytes:
    """Build a binary media message (what the page sends; used by tests and the benchmark)."""
    return MEDIA_HEADER.pack(kind.encode(), float(t)) + payload


# ---------------------------------------------------------------------- server -> client
class ReadyOut(_Msg):
    """Sent once on connect: the session, the model, what speech can do, and the limits."""

    type: Literal["ready"] = "ready"
    session: str
    model: str
    fps: float
    listen: bool
    speak: bool
    notes: list[str]
    limits: dict[str, float]


class QuestionOut(_Msg):
    """A question was accepted (typed or transcribed) at this stream time."""

    type: Literal["question"] = "question"
    text: str
    stream_time: float
    source: Literal["text", "speech"]


class TranscriptOut(_Msg):
    """What the ASR heard in one utterance, and how long recognition took."""

    type: Literal["transcript"] = "transcript"
    text: str
    stream_time: float
    asr_latency_s: float


class ResponseStartOut(_Msg):
    """A response began at this stream time (the end of the chunk it answers)."""

    type: Literal["response_start"] = "response_start"
    id: int
    stream_time: float
    question: str | None


class TokenOut(_Msg):
    """A decoded piece of response ``id``."""

    type: Literal["token"] = "token"
    id: int
    text: str


class ResponseOut(_Msg):
    """Response ``id`` is complete, or was cut short (``cancelled``)."""

    type: Literal["response"] = "response"
    id: int
    text: str
    cancelled: bool


class AudioOut(_Msg):
    """A block of response ``id`` spoken: base64 mono 16-bit PCM at ``sample_rate``."""

    type: Literal["audio"] = "audio"
    id: int
    sample_rate: int
    pcm: str
    first: bool


class CancelOut(_Msg):
    """Response ``id`` was cancelled: stop showing and playing it."""

    type: Literal["cancel"] = "cancel"
    id: int
    reason: str


class StepOut(_Msg):
    """One model step: the stream span it covered, how many chunks it merged, silence, latency."""

    type: Literal["step"] = "step"
    step: int
    chunk_start: float
    chunk_end: float
    chunks: int
    silent: bool
    latency_s: float


class MetricsOut(_Msg):
    """The session's metrics snapshot (counters, gauges, latency summaries)."""

    type: Literal["metrics"] = "metrics"
    metrics: dict[str, Any]


class NoticeOut(_Msg):
    """Something to tell the user once (e.g. speech is off and why)."""

    type: Literal["notice"] = "notice"
    text: str


class ErrorOut(_Msg):
    """A message was refused; the connection stays open unless ``fatal``."""

    type: Literal["error"] = "error"
    code: str
    message: str
    fatal: bool = False


class PongOut(_Msg):
    """Answer to ``ping``."""

    type: Literal["pong"] = "pong"
    id: int | None = None


ServerMessage = (
    ReadyOut | QuestionOut | TranscriptOut | ResponseStartOut | TokenOut | ResponseOut | AudioOut | CancelOut
    | StepOut | MetricsOut | NoticeOut | ErrorOut | PongOut
)
SERVER_MESSAGES: TypeAdapter[Any] = TypeAdapter(Annotated[ServerMessage, Field(discriminator="type")])
"""Validates any server message (clients and tests use it to check what they receive)."""
