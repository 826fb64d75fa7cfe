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


def _frames(sample: dict) -> list[dict]:
    return [p for m in sample["messages"] if isinstance(m["content"], list) for p in m["content"]
            if p.get("type") == "video"]


def _texts(sample: dict) -> list[str]:
    return [m["content"] if isinstance(m["content"], str) else p.get("text", "") for m in sample["messages"]
            for p in (m["content"] if isinstance(m["content"], list) else [m])]


def test_decision_pairs_are_the_same_moment_with_opposite_decisions() -> None:
    from aura.models.nano.stream_decisions import decision_pairs
    from aura.world import split_seeds
    from aura.world.twins import question_twins

    twins = 0
    for seed in split_seeds("train", 3):
        stream = make_stream(seed, duration=200.0, config=CONFIG, plan=1)
        events = event_chunks(stream.scene)
        base = {s["anchor_chunk"]: s for s in stream_decisions(stream.to_timeline(video="v.mp4"), CONFIG, events,
                                                                plan=1)}
        rows = list(decision_pairs(stream, CONFIG, events, video="v.mp4", plan=1, seed=0, per_twin=2))
        assert rows == list(decision_pairs(stream, CONFIG, events, video="v.mp4", plan=1, seed=0, per_twin=2))
        originals = [r for r in rows if "twin" not in r]
        assert len({r["id"] for r in originals}) == len(originals)  # each original decision once
        assert all(r == base[r["anchor_chunk"]] for r in originals)
        twin_of = dict(question_twins(stream, CONFIG, seed=0))
        per_question: dict[str, int] = {}
        for r in rows:
            if "twin" not in r:
                continue
            twins += 1
            per_question[r["twin"]] = per_question.get(r["twin"], 0) + 1
            o = base[r["anchor_chunk"]]
            assert r["id"] == f"{o['id']}~twin-{r['twin']}" and o in originals
            assert {r["watch"], o["watch"]} == {"stream-report", "stream-silent"}  # opposite decisions
            check_messages(r)
            # the same frames: only words (and the turns they owe) differ
            assert _frames(r) == _frames(o) and _frames(r)[-1]["chunk"] == r["anchor_chunk"]
            # the original's question is in its context, the twin's question in the twin's
            original = next(q for q in stream.questions if q.id == r["twin"])
            changed = next(q for q in twin_of[r["twin"]].questions if q.id == r["twin"])
            assert original.text != changed.text
            assert original.text in _texts(o) and changed.text in _texts(r)
        assert all(n <= 2 for n in per_question.values())
    assert twins > 0
