"""Hard negatives: the silent turns of stream samples at chunks where something happens."""

from __future__ import annotations

import copy
import json
import math

from aura.models.nano.hard_negatives import event_chunks, mark_hard_silences
from aura.stream import unroll
from aura.stream.messages import is_silent
from aura.world import make_stream


def _chunk(message: dict) -> int | None:
    if not isinstance(message.get("content"), list):
        return None
    return next((p["chunk"] for p in message["content"] if p["type"] == "video"), None)


def test_marks_exactly_the_silent_turns_at_event_chunks() -> None:
    stream = make_stream(5, duration=120.0)
    events = event_chunks(stream.scene)
    assert events == {math.floor(e.sample_time) for e in stream.scene.events} and events
    samples = [json.loads(s.model_dump_json()) for s in unroll(stream.to_timeline(video="v.mp4"))]
    marked_total = 0
    for sample in samples:
        before = copy.deepcopy(sample)
        out = mark_hard_silences(sample, events)
        assert sample == before  # the input is left alone
        assert out["messages"][-1] == sample["messages"][-1]  # never the target
        chunk = None
        for i, (m, o) in enumerate(zip(sample["messages"], out["messages"], strict=True)):
            if m["role"] == "user":
                chunk = _chunk(m)
            want = m["role"] == "assistant" and is_silent(m) and chunk in events and i < len(sample["messages"]) - 1
            assert o.get("hard", False) is want
            assert {k: v for k, v in o.items() if k != "hard"} == m
            marked_total += want
    assert marked_total > 0
    # a quiet stream has nothing to mark
    assert all("hard" not in m for s in samples for m in mark_hard_silences(s, set())["messages"])
