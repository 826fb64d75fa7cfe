"""Random but valid streams, produced by driving a live context (for property tests)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from aura.stream import (
    AssistantResponse,
    ContextConfig,
    Silence,
    StreamContext,
    Timeline,
    TimelineQuestion,
    TimelineResponse,
    UserQuestion,
    VideoChunk,
)
from aura.stream.messages import Message


@dataclass
class LiveRun:
    """What a live run saw: the timeline it played and the render before every reply."""

    timeline: Timeline
    renders: list[list[Message]] = field(default_factory=list)
    stable: list[int] = field(default_factory=list)
    evicted: list[bool] = field(default_factory=list)
    context: StreamContext | None = None


def live_run(
    n_chunks: int, seed: int, config: ContextConfig, p_question: float = 0.08, p_answer: float = 0.15,
    check: object = None,
) -> LiveRun:
    """Play ``n_chunks`` chunks with random questions and replies; record renders and the timeline.

    ``check(ctx)`` (if given) runs after every chunk.
    """
    rng = random.Random(seed)
    ctx = StreamContext(config)
    questions: list[TimelineQuestion] = []
    responses: list[TimelineResponse] = []
    run = LiveRun(Timeline(video_id=f"rand{seed}", duration=float(n_chunks)))
    qn = 0
    for k in range(n_chunks):
        ctx.feed(VideoChunk(k, float(k), float(k + 1)))
        if rng.random() < p_question:
            for _ in range(rng.choice([1, 1, 1, 2])):
                t = k + rng.random() * 0.99
                t = max(t, questions[-1].time if questions and questions[-1].time >= k else t)
                q = TimelineQuestion(id=f"g{qn}", time=t, text=f"question {qn}?")
                qn += 1
                ctx.feed(UserQuestion(q.text, q.time, q.id))
                questions.append(q)
        rendered = ctx.render()
        run.renders.append(rendered.messages)
        run.stable.append(rendered.stable_prefix)
        run.evicted.append(rendered.evicted)
        alive = ctx.open_questions()
        asked_now = [qid for qid, _ in ctx.window[-1].questions]
        if asked_now and rng.random() < 0.7:
            gid = rng.choice(asked_now)
        elif alive and rng.random() < p_answer:
            gid = rng.choice(alive)
        else:
            gid = None
        if gid is None:
            ctx.feed(Silence(k + 1.0))
        else:
            text = f"answer to {gid} at {k}"
            ctx.feed(AssistantResponse(text, k + 1.0, gid))
            responses.append(TimelineResponse(time=k + 0.999, text=text, question_id=gid))
        if check is not None:
            check(ctx)  # type: ignore[operator]
    run.timeline = Timeline(video_id=f"rand{seed}", duration=float(n_chunks), questions=questions,
                            responses=responses)
    run.context = ctx
    return run
