"""Stage-1 stream decisions: the owed turn at each event chunk, alone supervised, in its exact context."""

from __future__ import annotations

import math

from aura.models.nano.hard_negatives import event_chunks
from aura.models.nano.stream_decisions import stream_decisions
from aura.stream import ContextConfig, StreamContext
from aura.stream.events import AssistantResponse, Silence
from aura.stream.timeline import chunk_of, timeline_events
from aura.train.labels import check_messages
from aura.world import make_stream

CONFIG = ContextConfig(window_chunks=8, float_chunks=4, history_groups=10)


def _strip(message: dict) -> dict:
    return {k: v for k, v in message.items() if k != "supervise"}


def test_each_event_chunk_gets_its_inference_context_and_owed_turn() -> None:
    stream = make_stream(7, duration=200.0, config=CONFIG)
    timeline = stream.to_timeline(video="v.mp4")
    events = event_chunks(stream.scene)
    samples = {s["anchor_chunk"]: s for s in stream_decisions(timeline, CONFIG, events, plan=2)}
    asked = {chunk_of(q.time, CONFIG) for q in timeline.questions}
    n_chunks = math.ceil(stream.scene.duration)
    assert set(samples) == {k for k in events if k not in asked and k < n_chunks}
    ctx = StreamContext(CONFIG)
    seen = {"stream-report": 0, "stream-silent": 0}
    for event, _ in timeline_events(timeline, CONFIG):
        if isinstance(event, (Silence, AssistantResponse)) and ctx.window[-1].chunk.index in samples:
            sample = samples[ctx.window[-1].chunk.index]
            messages = sample["messages"]
            assert [_strip(m) for m in messages[:-1]] == ctx.messages()  # exactly what inference renders
            owed = event.text if isinstance(event, AssistantResponse) else "<|silent|>"
            assert messages[-1] == {"role": "assistant", "content": owed, "supervise": True}
            # the owed turn alone is trained: every earlier assistant turn is context only
            assert all(m.get("supervise") is False for m in messages[:-1] if m["role"] == "assistant")
            assert sample["watch"] == ("stream-silent" if owed == "<|silent|>" else "stream-report")
            assert sample["plan"] == 2 and sample["id"].endswith("@plan2")
            check_messages(sample)  # a valid training sample, silent target included
            seen[sample["watch"]] += 1
        ctx.feed(event)
    assert sum(seen.values()) == len(samples)
    assert seen["stream-report"] > 0 and seen["stream-silent"] > 0, seen
    # some decisions sit under a multi-response question asked further back than the video window,
    # now in the text history (a text-only user message)
    multis = {q.text: chunk_of(q.time, CONFIG) for q in timeline.questions if q.type == "multi"}
    far = [k for k, s in samples.items() for m in s["messages"]
           if m["role"] == "user" and isinstance(m["content"], str) and m["content"] in multis
           and k - multis[m["content"]] > CONFIG.window_chunks]
    assert far


def test_no_events_no_decisions() -> None:
    stream = make_stream(7, duration=90.0, config=CONFIG)
    assert list(stream_decisions(stream.to_timeline(video="v.mp4"), CONFIG, set())) == []
