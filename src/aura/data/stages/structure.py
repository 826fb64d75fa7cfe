"""Stage 4: merge a segment's QAs of all three types into one timeline, ordered by time, and
unroll it with ``aura.stream.unroll`` (the one implementation of the streaming format) into one
sample per non-silent reply.

The stream allows one reply per chunk; a QA whose question or replies would land in a chunk
another QA already replies in is dropped whole (recorded with the chunk), earliest question first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from aura.data.config import StructureConfig
from aura.data.runner import Outcome
from aura.data.schemas import QA, SegmentQAs
from aura.errors import StreamError, TimelineError
from aura.stream import ContextConfig, StreamContext, Timeline, TimelineQuestion, TimelineResponse, unroll
from aura.stream.messages import message_text
from aura.stream.timeline import chunk_of, timeline_events

STAGE = "structure"


def qa_responses(qa: QA) -> list[TimelineResponse]:
    """The replies one QA puts on the timeline: (ack,) then its answers with their evidence time."""
    out = []
    if qa.type in ("proactive", "multi") and qa.ack:
        out.append(TimelineResponse(time=qa.question_time, text=qa.ack, question_id=qa.id, kind="ack"))
    for a in qa.answers:
        out.append(TimelineResponse(time=a.time, text=a.text, question_id=qa.id, evidence_time=a.time))
    return out


def build_timeline(seg: SegmentQAs, config: ContextConfig) -> tuple[Timeline, list[dict[str, Any]]]:
    """The segment's merged timeline and the QAs dropped from it (with the reason)."""
    duration = seg.segment.duration
    n_chunks = max(1, math.ceil(duration / config.chunk_seconds - 1e-9))  # as aura.stream's timeline_events
    taken: dict[int, str] = {}
    asked: dict[int, int] = {}
    questions: list[TimelineQuestion] = []
    responses: list[TimelineResponse] = []
    dropped: list[dict[str, Any]] = []
    for qa in sorted(seg.qas, key=lambda q: (q.question_time, q.id)):
        if qa.type == "multi":  # answers clashing with earlier replies (or past the end) go; the rest may stand
            free = [a for a in qa.answers if chunk_of(a.time, config) not in taken
                    and chunk_of(a.time, config) < n_chunks]
            if len(free) >= 2 and len(free) < len(qa.answers):
                dropped.append({"qa": qa.id, "type": qa.type, "reason": f"{len(qa.answers) - len(free)} answer(s) "
                                "clash with earlier replies or fall past the end"})
                qa = qa.model_copy(update={"answers": free})
        replies = qa_responses(qa)
        chunks = [chunk_of(r.time, config) for r in replies]
        qchunk = chunk_of(qa.question_time, config)
        why = None
        if qchunk >= n_chunks or any(k >= n_chunks for k in chunks):
            why = "past the end of the segment"
        elif len(set(chunks)) != len(chunks):
            why = "two of its replies fall in one chunk"
        elif asked.get(qchunk, 0) >= config.max_questions_per_chunk:
            why = f"chunk {qchunk} already has {config.max_questions_per_chunk} questions"
        else:
            clash = next((k for k in chunks if k in taken), None)
            if clash is not None:
                why = f"chunk {clash} already holds a reply to {taken[clash]}"
        if why:
            dropped.append({"qa": qa.id, "type": qa.type, "reason": why})
            continue
        for k in chunks:
            taken[k] = qa.id
        asked[qchunk] = asked.get(qchunk, 0) + 1
        questions.append(TimelineQuestion(id=qa.id, time=qa.question_time, text=qa.question, type=qa.type))
        responses.extend(replies)
    timeline = Timeline(video_id=seg.segment.id, video=seg.segment.path, duration=duration,
                        questions=questions, responses=sorted(responses, key=lambda r: r.time))
    return timeline, dropped


def playable(timeline: Timeline, config: ContextConfig) -> tuple[Timeline, list[dict[str, Any]]]:
    """The timeline minus replies the stream context refuses, with what was dropped and why.

    A long-running question can be forgotten by the bounded context (its group leaves a full
    history), after which a reply to it has nothing to answer. Such a reply is dropped; a QA left
    with no answer is dropped whole (a question that is never answered would teach silence).
    The check plays the timeline through ``StreamContext`` itself, so it agrees with ``unroll``.
    """
    dropped: list[dict[str, Any]] = []
    for _ in range(len(timeline.responses) + 1):
        ctx = StreamContext(config)
        bad: TimelineResponse | None = None
        reason = ""
        for event, response in timeline_events(timeline, config):
            try:
                ctx.feed(event)
            except StreamError as exc:
                if response is None:
                    raise TimelineError(f"{timeline.video_id}: {exc}") from None
                bad, reason = response, str(exc)
                break
        if bad is None:
            return timeline, dropped
        qid = bad.question_id
        responses = [r for r in timeline.responses if r is not bad]
        if not any(r.question_id == qid and r.kind == "answer" for r in responses):
            responses = [r for r in responses if r.question_id != qid]
            questions = [q for q in timeline.questions if q.id != qid]
            dropped.append({"qa": qid, "reason": f"no answer left: {reason}"})
        else:
            questions = timeline.questions
            dropped.append({"qa": qid, "reason": f"1 answer dropped: {reason}"})
        timeline = timeline.model_copy(update={"questions": questions, "responses": responses})
    raise TimelineError(f"{timeline.video_id}: could not make the timeline playable")


def mix_category(sample_messages: list[dict[str, Any]], target_type: str | None,
                 questions: list[TimelineQuestion]) -> str:
    """``mixed`` when the sample's context shows questions of two or more types; else the target's type."""
    seen = " \n".join(message_text(m) for m in sample_messages if m.get("role") == "user")
    types = {q.type for q in questions if q.type and q.text in seen}
    if target_type:
        types.add(target_type)
    if len(types) > 1:
        return "mixed"
    return target_type or "unknown"


def structure_segment(seg: SegmentQAs, cfg: StructureConfig) -> dict[str, Any]:
    """The segment's timeline, its samples (``aura.stream.unroll``), dropped QAs and sample mix."""
    timeline, dropped = build_timeline(seg, cfg.context)
    timeline, unplayable = playable(timeline, cfg.context)
    dropped += unplayable
    samples = []
    mix: dict[str, str] = {}
    for s in unroll(timeline, cfg.context):
        row = s.model_dump(mode="json")
        samples.append(row)
        mix[s.id] = mix_category(s.messages[:-1], s.qa_type, timeline.questions)
    return {"id": seg.id, "timeline": timeline.model_dump(mode="json"), "samples": samples,
            "dropped": dropped, "mix": mix}


def make_processor(cfg: StructureConfig) -> Callable[[SegmentQAs], Outcome]:
    """The per-segment function of stage 4 for the runner."""

    def process(seg: SegmentQAs) -> Outcome:
        return Outcome(items=[structure_segment(seg, cfg)])

    return process
