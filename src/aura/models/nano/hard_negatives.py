"""Hard negatives for stage 2: the silent turns at chunks where something happens.

A stream sample's silent turns mostly fall on quiet chunks, where staying silent is easy. The
ones that teach *relevance* fall on chunks where an object appears, vanishes or changes colour
and no pending question asks about it: the model sees an event and must still say nothing.
Under the balanced loss each silent turn weighs 1/N_silent, so these few decisions are drowned
by the easy ones. ``mark_hard_silences`` flags them (``"hard": true``, read by
``aura.train.labels``) so the loss can weigh them up (``train.hard_silent_weight``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from aura.stream.messages import is_silent, video_parts
from aura.world.scene import Scene


def event_chunks(scene: Scene) -> set[int]:
    """The chunks that first show an event of ``scene`` (the chunk of its first sampling instant)."""
    return {math.floor(e.sample_time) for e in scene.events}


def mark_hard_silences(sample: dict[str, Any], events: Iterable[int]) -> dict[str, Any]:
    """``sample`` with ``"hard": true`` on every silent assistant turn that answers a chunk in
    ``events`` (a new dict; the target and every other message are left as they are)."""
    chunks = set(events)
    messages = [dict(m) for m in sample["messages"]]
    current: int | None = None
    for i, m in enumerate(messages):
        if m.get("role") == "user":
            parts = video_parts(m)
            current = int(parts[-1]["chunk"]) if parts and parts[-1].get("chunk") is not None else None
        elif m.get("role") == "assistant" and i < len(messages) - 1 and is_silent(m) and current in chunks:
            m["hard"] = True
    return {**sample, "messages": messages}
