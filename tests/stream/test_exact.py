"""Exact-context samples: every turn supervised once, in the context inference renders at it."""

from __future__ import annotations

import math

import pytest

from aura.errors import TimelineError
from aura.stream import SILENT_TOKEN, ContextConfig, StreamContext, unroll_exact
from aura.stream.events import AssistantResponse, Silence
from aura.stream.timeline import Timeline, TimelineQuestion, TimelineResponse, timeline_events
from aura.world import make_stream

CONFIGS = [ContextConfig(window_chunks=8, float_chunks=4, history_groups=10),
           ContextConfig(window_chunks=4, float_chunks=1, history_groups=3),
           ContextConfig(window_chunks=6, float_chunks=6, history_groups=2)]


def _plain(messages: list[dict]) -> list[dict]:
    return [{k: v for k, v in m.items() if k != "supervise"} for m in messages]


def _chunk(message: dict) -> int | None:
    if not isinstance(message.get("content"), list):
        return None
    return next((p["chunk"] for p in message["content"] if p["type"] == "video"), None)


def _supervised(sample: dict) -> list[tuple[int, int]]:
    """(message index, chunk) of each supervised assistant turn."""
    out, chunk = [], None
    for i, m in enumerate(sample["messages"]):
        if m["role"] == "user":
            chunk = _chunk(m)
        elif m.get("supervise") is True:
            out.append((i, chunk))
    return out


@pytest.mark.parametrize("config", CONFIGS, ids=["n8f4m10", "n4f1m3", "n6f6m2"])
def test_every_turn_is_supervised_once_in_its_inference_context(config: ContextConfig) -> None:
    stream = make_stream(11, duration=200.0, config=config)
    timeline = stream.to_timeline(video="v.mp4")
    samples = list(unroll_exact(timeline, config))
    # replay as inference does: the context at every chunk, and the reply given there
    contexts: dict[int, list[dict]] = {}
    replies: dict[int, str] = {}
    ctx = StreamContext(config)
    for event, _ in timeline_events(timeline, config):
        if isinstance(event, (Silence, AssistantResponse)):
            k = ctx.window[-1].chunk.index
            contexts[k] = ctx.messages()
            replies[k] = event.text.strip() if isinstance(event, AssistantResponse) else SILENT_TOKEN
        ctx.feed(event)
    n_chunks = math.ceil(stream.scene.duration)
    assert sorted(contexts) == list(range(n_chunks))
    seen: list[int] = []
    for sample in samples:
        sup = _supervised(sample)
        assert sup and sup[-1][0] == len(sample["messages"]) - 1  # the last message is supervised
        assert [k for _, k in sup] == list(range(sample["first_chunk"], sample["anchor_chunk"] + 1))
        for i, k in sup:
            # everything before this turn's reply is exactly what inference rendered at chunk k
            assert _plain(sample["messages"][:i]) == contexts[k]
            assert sample["messages"][i]["content"] == replies[k]
            seen.append(k)
        # every other assistant message is context only
        assert all(m.get("supervise") is False for j, m in enumerate(sample["messages"])
                   if m["role"] == "assistant" and j not in {i for i, _ in sup})
    assert seen == list(range(n_chunks))  # each chunk once, in order
    assert any(replies[k] != SILENT_TOKEN for k in seen)  # the stream has replies
    # stretches are bounded by the floating window: at most N+N'-1 chunks in any sample's window
    longest = max(sum(m["role"] == "user" and _chunk(m) is not None for m in s["messages"]) for s in samples)
    assert longest <= config.window_chunks + config.float_chunks - 1
    if len(samples) > 1:
        assert all(s["anchor_chunk"] - s["first_chunk"] + 1 <= config.float_chunks for s in samples[1:-1])


def test_a_bad_timeline_names_the_video() -> None:
    timeline = Timeline(video_id="clip7", duration=5.0,
                        questions=[TimelineQuestion(id="q", time=1.2, text="What is this?")],
                        responses=[TimelineResponse(time=1.5, text="A", question_id="q"),
                                   TimelineResponse(time=1.7, text="B", question_id="q")])
    with pytest.raises(TimelineError, match="clip7"):
        list(unroll_exact(timeline, ContextConfig()))
