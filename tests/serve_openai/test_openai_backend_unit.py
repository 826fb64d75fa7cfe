"""The openai backend against a scripted client: silence detection, hold-back, usage, cancel, errors."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from aura.models.openai_backend import BackendError, OpenAIStreamingModel, to_openai_messages
from aura.stream import ContextConfig, VideoChunk


def event(text=None, usage=None):
    choices = [] if text is None else [SimpleNamespace(delta=SimpleNamespace(content=text))]
    return SimpleNamespace(choices=choices, usage=usage)


class Stream:
    def __init__(self, events):
        self.events = list(events)
        self.closed = False

    def __iter__(self):
        yield from self.events

    def close(self):
        self.closed = True


class Client:
    def __init__(self, scripts):
        self.scripts = list(scripts)
        self.requests = []
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.create))

    def create(self, **kw):
        self.requests.append(kw)
        script = self.scripts.pop(0)
        if isinstance(script, Exception):
            raise script
        return Stream(script)


def chunk(k):
    return VideoChunk(k, float(k), k + 1.0, np.full((2, 32, 32, 3), k, dtype=np.uint8))


def usage(prompt, cached, completion):
    return SimpleNamespace(prompt_tokens=prompt, completion_tokens=completion,
                           prompt_tokens_details=SimpleNamespace(cached_tokens=cached))


def test_silence_reply_usage_and_request_format():
    client = Client([
        [event(""), event("<|sil"), event("ent|>"), event(None, usage(100, 0, 1))],
        [event("<"), event("b>ig"), event(" dog"), event(None, usage(150, 90, 3))],
    ])
    m = OpenAIStreamingModel("http://x/v1", "aura", ContextConfig(window_chunks=3), client=client)
    r0 = m.step(chunk(0))
    assert r0.silent and r0.text == "" and r0.timings.prefill_tokens == 100
    gen = m.begin_step(chunk(1), "What is it?")
    pieces = list(gen)
    r1 = gen.finish()
    assert pieces == ["<b>ig", " dog"]  # "<" was held back until it could no longer be <|silent|>
    assert r1.text == "<b>ig dog" and not r1.silent
    assert (r1.timings.reused_tokens, r1.timings.prefill_tokens, r1.timings.generated_tokens) == (90, 60, 3)
    req = client.requests[1]
    assert req["model"] == "aura" and req["stream"] is True
    user = req["messages"][-1]
    assert user["role"] == "user"
    assert user["content"][0]["type"] == "video_url"
    assert user["content"][0]["video_url"]["url"].startswith("data:video/mp4;base64,")
    assert user["content"][1] == {"type": "text", "text": "What is it?"}
    assert req["messages"][2] == {"role": "assistant", "content": "<|silent|>"}
    assert m.context.messages()[-1] == {"role": "assistant", "content": "<b>ig dog"}


def test_cancel_keeps_what_was_said_and_closes_the_stream():
    client = Client([[event("Hello"), event(" there"), event(" friend")]])
    m = OpenAIStreamingModel("http://x/v1", "aura", client=client)
    gen = m.begin_step(chunk(0), "Hi?")
    assert next(iter(gen)) == "Hello"
    gen.cancel()
    r = gen.finish()
    assert r.cancelled and r.text == "Hello"


def test_server_errors_close_the_turn():
    client = Client([RuntimeError("502 Bad Gateway\nmore"), [event("ok")]])
    m = OpenAIStreamingModel("http://x/v1", "aura", client=client)
    with pytest.raises(BackendError, match="502 Bad Gateway"):
        m.step(chunk(0))
    assert m.context.open_turn is None
    assert m.step(chunk(1), "Still there?").text == "ok"


def test_uris_are_bounded():
    n = 40
    client = Client([[event("<|silent|>")]] * n)
    cfg = ContextConfig(window_chunks=3, float_chunks=2)
    m = OpenAIStreamingModel("http://x/v1", "aura", cfg, client=client)
    for k in range(n):
        m.step(chunk(k))
        assert len(m.uris) <= cfg.max_window_chunks


def test_to_openai_messages():
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": ""},
            {"role": "user", "content": [{"type": "video", "chunk": 3, "start": 3.0, "end": 4.0}]}]
    out = to_openai_messages(msgs, {3: "data:video/mp4;base64,AAA"})
    assert out[1] == {"role": "user", "content": ""}
    assert out[2]["content"] == [{"type": "video_url", "video_url": {"url": "data:video/mp4;base64,AAA"}}]
