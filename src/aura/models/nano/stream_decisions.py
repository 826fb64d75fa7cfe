"""Stage-1 decisions in a real stream's context: the turn at an event chunk, alone supervised.

Stage 1's watch samples ask one question 1..gap chunks before the decision (and sometimes give
it a short made-up history). In a stream the decision at an event chunk is taken under whatever
the stream holds at that moment: several questions, some asked dozens of chunks back and now in
the text history, beside earlier replies, proactive questions already answered and real-time
ones. ``stream_decisions`` takes those moments from real world streams: at every chunk that first
shows an event, the exact context inference renders there (``aura.stream.replay``) and the turn
the stream owes (a report or answer, or ``<|silent|>``). Every earlier turn is context only
(``"supervise": false``), so the sample trains that one decision: under the balanced loss a
silent decision weighs as much as a reply's first token.

Stage 2 supervises the same turns inside whole stretches, where a silence at an event is one of
many silent turns sharing one unit of weight. The recipe builds these samples from other question
plans of the training videos than stage 2's (``RecipeConfig.look_stream_plans``), so they also
pair the events with other questions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from aura.stream.config import SILENT_TOKEN, ContextConfig
from aura.stream.events import AssistantResponse, Silence
from aura.stream.messages import assistant_message
from aura.stream.timeline import Timeline, chunk_of, replay
from aura.world.questions import WorldStream


def stream_decisions(timeline: Timeline, config: ContextConfig, events: Iterable[int], *,
                     plan: int = 0) -> Iterator[dict[str, Any]]:
    """One sample per chunk of ``timeline`` in ``events`` (chunks that first show an event) whose
    turn is a reply or a silence and at which no question is asked: the context inference renders
    at that chunk, every earlier assistant turn marked ``"supervise": false``, and the owed turn
    (``"supervise": true``) last. Tagged ``"watch"`` ``stream-report`` or ``stream-silent``, with
    ``"anchor_chunk"`` and ``"plan"``; in time order.

    Raises ``TimelineError`` (naming the video) if the timeline does not fit the stream rules.
    """
    chunks = set(events)
    asked = {chunk_of(q.time, config) for q in timeline.questions}
    for ctx, event, _ in replay(timeline, config):
        if not isinstance(event, (Silence, AssistantResponse)) or not ctx.window:
            continue
        k = ctx.window[-1].chunk.index
        if k not in chunks or k in asked:
            continue
        reply = event.text if isinstance(event, AssistantResponse) else SILENT_TOKEN
        messages = [dict(m, supervise=False) if m["role"] == "assistant" else m for m in ctx.messages()]
        messages.append(dict(assistant_message(reply), supervise=True))
        tag = "stream-silent" if reply == SILENT_TOKEN else "stream-report"
        yield {"id": f"{timeline.video_id}#decision{k}@plan{plan}", "video_id": timeline.video_id,
               "video": timeline.video, "stage": "look", "kind": "decision", "watch": tag,
               "anchor_chunk": k, "plan": plan, "messages": messages}


def decision_pairs(stream: WorldStream, config: ContextConfig, events: Iterable[int], *, video: str, plan: int,
                   seed: int, per_twin: int, types: tuple[str, ...] = ("proactive", "multi"),
                   ) -> Iterator[dict[str, Any]]:
    """Minimal pairs of stream decisions from ``stream`` (question plan ``plan`` of a training
    video) and its question twins of the types in ``types`` (``aura.world.twins``): for each twin,
    up to ``per_twin`` event chunks (the first ones) where the stream owes a reply and the twin
    silence or the other way round, both decisions, each as ``stream_decisions`` renders it (the
    twin's id ends in ``~twin-QID``, its row carries ``"twin": QID``). A chunk's decision from
    ``stream`` is given once however many twins flip it. Deterministic.
    """
    from aura.world.twins import question_twins

    chunks = sorted(set(events))
    base = {row["anchor_chunk"]: row for row in stream_decisions(stream.to_timeline(video=video), config, chunks,
                                                                  plan=plan)}
    given: set[int] = set()
    for qid, twin in question_twins(stream, config, seed=seed, types=types):
        flipped = [row for row in stream_decisions(twin.to_timeline(video=video), config, chunks, plan=plan)
                   if row["anchor_chunk"] in base and row["watch"] != base[row["anchor_chunk"]]["watch"]]
        for row in flipped[:per_twin]:
            k = row["anchor_chunk"]
            if k not in given:
                given.add(k)
                yield base[k]
            yield {**row, "id": f"{row['id']}~twin-{qid}", "twin": qid}
