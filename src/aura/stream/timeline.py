"""A video's timestamped QA timeline, and its unrolling into training samples (stage 4).

A timeline lists questions (with ids, times, and their interaction type) and the non-silent
assistant responses (acknowledgements and answers, each naming its question) of one video.
Unrolling plays the timeline through the very ``StreamContext`` used at inference, chunk by
chunk, silent wherever no response is due, and emits one sample per non-silent response: the
context exactly as inference would render it at that chunk, plus the response as the target.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from aura.errors import StreamError, TimelineError
from aura.stream.config import ContextConfig
from aura.stream.context import StreamContext
from aura.stream.events import AssistantResponse, Event, Silence, UserQuestion, VideoChunk
from aura.stream.messages import Message, assistant_message

QAType = Literal["realtime", "proactive", "multi", "backward"]
ResponseKind = Literal["answer", "ack"]


class TimelineQuestion(BaseModel):
    """A question asked at ``time`` seconds; ``id`` names its QA group."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    time: float = Field(ge=0)
    text: str
    type: QAType | None = None


class TimelineResponse(BaseModel):
    """A non-silent reply at ``time`` seconds to question ``question_id``."""

    model_config = ConfigDict(extra="forbid")
    time: float = Field(ge=0)
    text: str = Field(min_length=1)
    question_id: str = Field(min_length=1)
    kind: ResponseKind = "answer"
    evidence_time: float | None = None


class Timeline(BaseModel):
    """One video's QA timeline: what was asked when, and what was answered when."""

    model_config = ConfigDict(extra="forbid")
    video_id: str = Field(min_length=1)
    video: str | None = None
    duration: float = Field(gt=0)
    questions: list[TimelineQuestion] = Field(default_factory=list)
    responses: list[TimelineResponse] = Field(default_factory=list)


class Sample(BaseModel):
    """One training sample: the inference-time context at an anchor chunk plus its target.

    ``messages[-1]`` is the target (a non-silent assistant message); every other assistant
    message is either ``<|silent|>`` or an earlier non-silent reply (not supervised).
    """

    model_config = ConfigDict(extra="forbid")
    id: str
    video_id: str
    video: str | None
    anchor_chunk: int
    anchor_time: float
    question_id: str
    qa_type: QAType | None
    response_kind: ResponseKind
    evidence_time: float | None = None
    messages: list[Message]


def chunk_of(time: float, config: ContextConfig) -> int:
    """The index of the chunk that contains ``time`` (chunk k spans [k*c, (k+1)*c))."""
    return math.floor(time / config.chunk_seconds + 1e-9)


def timeline_events(timeline: Timeline, config: ContextConfig) -> Iterator[tuple[Event, TimelineResponse | None]]:
    """The timeline as stream events in order, each reply paired with its timeline response.

    Raises ``TimelineError`` for items outside the video or two replies in one chunk.
    """
    c = config.chunk_seconds
    n_chunks = max(1, math.ceil(timeline.duration / c - 1e-9))
    questions: dict[int, list[TimelineQuestion]] = {}
    for q in timeline.questions:
        k = chunk_of(q.time, config)
        if k >= n_chunks:
            raise TimelineError(f"{timeline.video_id}: question {q.id!r} at t={q.time:g}s is past the end")
        questions.setdefault(k, []).append(q)
    responses: dict[int, TimelineResponse] = {}
    for r in timeline.responses:
        k = chunk_of(r.time, config)
        if k >= n_chunks:
            raise TimelineError(f"{timeline.video_id}: response at t={r.time:g}s is past the end")
        if k in responses:
            raise TimelineError(f"{timeline.video_id}: two responses in chunk {k} (t={r.time:g}s)")
        responses[k] = r
    for k in range(n_chunks):
        start, end = k * c, min((k + 1) * c, timeline.duration)
        yield VideoChunk(k, start, end), None
        for q in sorted(questions.get(k, []), key=lambda q: q.time):
            yield UserQuestion(q.text, min(max(q.time, start), end), q.id), None
        r = responses.get(k)
        if r is None:
            yield Silence(end), None
        else:
            yield AssistantResponse(r.text, end, r.question_id), r


def replay(
    timeline: Timeline, config: ContextConfig | None = None
) -> Iterator[tuple[StreamContext, Event, TimelineResponse | None]]:
    """The timeline's events in order, each with the ``StreamContext`` just *before* it is fed
    (the context inference renders at that moment); the event is fed when the next one is asked for.

    Raises ``TimelineError`` (naming the video) if the timeline does not fit the stream rules.
    """
    config = config or ContextConfig()
    ctx = StreamContext(config)
    for event, response in timeline_events(timeline, config):
        yield ctx, event, response
        try:
            ctx.feed(event)
        except StreamError as exc:
            raise TimelineError(f"{timeline.video_id}: {exc}") from None


def unroll(timeline: Timeline, config: ContextConfig | None = None) -> Iterator[Sample]:
    """One sample per non-silent response, anchored at that response's chunk, in time order.

    Raises ``TimelineError`` (naming the video) if the timeline does not fit the stream rules.
    """
    qtypes = {q.id: q.type for q in timeline.questions}
    pending: Sample | None = None  # yielded once its response has been fed (and so checked)
    for ctx, event, response in replay(timeline, config):
        if pending is not None:
            yield pending
            pending = None
        if response is not None:
            assert isinstance(event, AssistantResponse)
            chunk = ctx.window[-1].chunk if ctx.window else None
            messages = [*ctx.messages(), assistant_message(event.text.strip())]
            anchor = chunk.index if chunk is not None else 0
            pending = Sample(
                id=f"{timeline.video_id}#{anchor}",
                video_id=timeline.video_id,
                video=timeline.video,
                anchor_chunk=anchor,
                anchor_time=event.time,
                question_id=response.question_id,
                qa_type=qtypes.get(response.question_id),
                response_kind=response.kind,
                evidence_time=response.evidence_time,
                messages=messages,
            )
    if pending is not None:
        yield pending
