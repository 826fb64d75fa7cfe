"""Hard negatives for stage 2: the silent turns at chunks where something happens.

A stream sample's silent turns mostly fall on quiet chunks, where staying silent is easy. The
ones that teach *relevance* fall on chunks where an object appears, vanishes or changes colour
and no pending question asks about it: the model sees an event and must still say nothing.
Under the balanced loss each silent turn weighs 1/N_silent, so these few decisions are drowned
by the easy ones. ``mark_hard_silences`` flags them (``"hard": true``, read by
``aura.train.labels``) so the loss can weigh them up (``train.hard_silent_weight``).

Samples are anchored at replies, so a silent turn is only ever trained in the middle of some
later reply's context; after a window eviction that is not the context inference rendered at its
chunk. ``silent_anchors`` adds one sample per hard negative, anchored there: the context exactly
as inference renders it at that chunk, and ``<|silent|>`` as the (hard) target.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

from aura.stream.config import SILENT_TOKEN, ContextConfig
from aura.stream.events import Silence
from aura.stream.messages import is_silent, video_parts
from aura.stream.timeline import Timeline, replay
from aura.world.scene import Scene


def event_chunks(scene: Scene) -> set[int]:
    """The chunks that first show an event of ``scene`` (the chunk of its first sampling instant)."""
    return {math.floor(e.sample_time) for e in scene.events}


def mark_hard_silences(sample: dict[str, Any], events: Iterable[int]) -> dict[str, Any]:
    """``sample`` with ``"hard": true`` on every silent assistant turn that answers a chunk in
    ``events``, a silent target included (a new dict; every other message is left as it is)."""
    chunks = set(events)
    messages = [dict(m) for m in sample["messages"]]
    current: int | None = None
    for m in messages:
        if m.get("role") == "user":
            parts = video_parts(m)
            current = int(parts[-1]["chunk"]) if parts and parts[-1].get("chunk") is not None else None
        elif m.get("role") == "assistant" and is_silent(m) and current in chunks:
            m["hard"] = True
    return {**sample, "messages": messages}


def mark_decision(sample: dict[str, Any]) -> dict[str, Any]:
    """``sample`` with ``"hard": true`` on its last silent assistant turn only (a stage-1 watch or
    unasked sample's silent decision, which a real-time question about the next chunk follows), so
    the loss can weigh that one decision (a new dict; unchanged if it has no silent turn)."""
    messages = [dict(m) for m in sample["messages"]]
    for m in reversed(messages):
        if m.get("role") == "assistant" and is_silent(m):
            m["hard"] = True
            break
    return {**sample, "messages": messages}


def silent_anchors(timeline: Timeline, config: ContextConfig, events: Iterable[int]) -> Iterator[dict[str, Any]]:
    """One sample per silent chunk of ``timeline`` that is in ``events``: the context inference
    renders at that chunk (as ``aura.stream.unroll`` builds it) and a ``<|silent|>`` target
    marked ``"hard": true``; the other silent turns at ``events`` chunks are marked as well.

    Raises ``TimelineError`` (naming the video) if the timeline does not fit the stream rules.
    """
    chunks = set(events)
    for ctx, event, _ in replay(timeline, config):
        if isinstance(event, Silence) and ctx.window and ctx.window[-1].chunk.index in chunks:
            k = ctx.window[-1].chunk.index
            messages = [*ctx.messages(), {"role": "assistant", "content": SILENT_TOKEN, "hard": True}]
            sample = {"id": f"{timeline.video_id}#silent{k}", "video_id": timeline.video_id,
                      "video": timeline.video, "anchor_chunk": k, "anchor_time": event.time,
                      "messages": messages}
            yield mark_hard_silences(sample, chunks)
