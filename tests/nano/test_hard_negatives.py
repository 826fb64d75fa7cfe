"""Hard negatives: the silent turns of stream samples at chunks where something happens."""

from __future__ import annotations

import copy
import json
import math

from aura.models.nano.hard_negatives import event_chunks, mark_decision, mark_hard_silences, silent_anchors
from aura.stream import ContextConfig, StreamContext, unroll
from aura.stream.messages import is_silent
from aura.stream.timeline import timeline_events
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


def test_silent_anchors_are_the_inference_context_at_each_silent_event_chunk() -> None:
    config = ContextConfig(window_chunks=8, float_chunks=4, history_groups=10)
    stream = make_stream(7, duration=150.0, config=config)
    timeline = stream.to_timeline(video="v.mp4")
    events = event_chunks(stream.scene)
    anchors = {a["anchor_chunk"]: a for a in silent_anchors(timeline, config, events)}
    replied = {math.floor(r.time + 1e-9) for r in timeline.responses}
    assert set(anchors) == {k for k in events if k not in replied and k < math.ceil(stream.scene.duration)}
    assert anchors, "a 150-s stream has silent event chunks"
    # replay the stream as inference does: at every anchor chunk the rendered context is the sample's
    ctx = StreamContext(config)
    seen = 0
    for event, _ in timeline_events(timeline, config):
        if type(event).__name__ == "Silence" and ctx.window[-1].chunk.index in anchors:
            sample = anchors[ctx.window[-1].chunk.index]
            assert [{k: v for k, v in m.items() if k != "hard"} for m in sample["messages"][:-1]] == ctx.messages()
            assert sample["messages"][-1] == {"role": "assistant", "content": "<|silent|>", "hard": True}
            assert all(bool(m.get("hard")) == (is_silent(m) and _chunk(prev) in events)
                       for prev, m in zip(sample["messages"], sample["messages"][1:], strict=False)
                       if m["role"] == "assistant" and prev["role"] == "user")
            seen += 1
        ctx.feed(event)
    assert seen == len(anchors)


def test_mark_decision_flags_only_the_last_silent_turn() -> None:
    """The last silent assistant turn (a watch sample's decision) is flagged, nothing else, and the
    input is not changed; a sample without silent turns comes back equal."""
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "Okay."},
                {"role": "user", "content": "c"}, {"role": "assistant", "content": "<|silent|>"},
                {"role": "user", "content": "c"}, {"role": "assistant", "content": "<|silent|>"},
                {"role": "user", "content": "How many?"}, {"role": "assistant", "content": "Two."}]
    sample = {"id": "s", "messages": messages}
    out = mark_decision(sample)
    assert [i for i, m in enumerate(out["messages"]) if m.get("hard")] == [5]
    assert not any("hard" in m for m in sample["messages"])
    loud = {"id": "t", "messages": [messages[0], messages[1]]}
    assert mark_decision(loud) == loud
