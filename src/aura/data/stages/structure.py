"""Stage 4: merge a segment's QAs of all three types into one timeline, ordered by time, and
unroll it with ``aura.stream.unroll`` (the one implementation of the streaming format) into one
sample per non-silent reply.

The stream allows one reply per chunk; a QA whose question or replies would land in a chunk
another QA already replies in is dropped whole (recorded with the chunk), earliest question first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aura.data.config import StructureConfig
from aura.data.runner import Outcome
from aura.data.schemas import QA, SegmentQAs
from aura.stream import ContextConfig, Timeline, TimelineQuestion, TimelineResponse, unroll
from aura.stream.messages import message_text
from aura.stream.timeline import chunk_of

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
    n_chunks = max(1, chunk_of(duration - 1e-9, config) + 1)
    taken: dict[int, str] = {}
    asked: dict[int, int] = {}
    questions: list[TimelineQuestion] = []
    responses: list[TimelineResponse] = []
    dropped: list[dict[str, Any]] = []
    for qa in sorted(seg.qas, key=lambda q: (q.question_time, q.id)):
        if qa.type == "multi":  # answers clashing with earlier replies go; the rest may still stand
            free = [a for a in qa.answers if chunk_of(a.time, config) not in taken]
            if len(free) >= 2 and len(free) < len(qa.answers):
                dropped.append({"qa": qa.id, "type": qa.type,
                                "reason": f"{len(qa.answers) - len(free)} answer(s) clash with earlier replies"})
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
