"""The OpenAI-compatible API in process: completions, streaming, auth, limits, and 4xx for bad input."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from aura.models.openai_backend import chunk_data_uri
from aura.serve.app import create_app
from aura.serve.openai_api import APISettings


def frames(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (2, 56, 56, 3), dtype=np.uint8)


def video_part(seed: int) -> dict:
    return {"type": "video_url", "video_url": {"url": chunk_data_uri(frames(seed), 2.0)}}


def png_uri() -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frames(3)[0]).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


@pytest.fixture(scope="module")
def client(chat_backend):
    app = create_app(chat_backend, APISettings(api_key="s3cret", max_body_bytes=200_000, max_tokens_limit=64))
    with TestClient(app) as c:
        c.headers["Authorization"] = "Bearer s3cret"
        yield c


def conversation(n: int = 2) -> list[dict]:
    msgs: list[dict] = [{"role": "system", "content": "You are receiving a live video stream."}]
    for k in range(n):
        content = [video_part(k)]
        if k == n - 1:
            content.append({"type": "text", "text": "What is it?"})
        msgs.append({"role": "user", "content": content})
        if k < n - 1:
            msgs.append({"role": "assistant", "content": "<|silent|>"})
    return msgs


def test_models_and_completion_with_prefix_reuse(client, chat_backend):
    r = client.get("/v1/models")
    assert r.status_code == 200 and r.json()["data"][0]["id"] == chat_backend.name
    body = {"model": chat_backend.name, "messages": conversation(2), "max_tokens": 5, "temperature": 0}
    first = client.post("/v1/chat/completions", json=body)
    assert first.status_code == 200, first.text
    out = first.json()
    assert out["object"] == "chat.completion"
    assert out["choices"][0]["message"]["role"] == "assistant"
    assert out["usage"]["completion_tokens"] >= 1
    again = client.post("/v1/chat/completions", json=body).json()
    assert again["choices"][0]["message"]["content"] == out["choices"][0]["message"]["content"]
    # the same conversation again: everything but the generation prompt comes from the cache
    assert again["usage"]["prompt_tokens_details"]["cached_tokens"] > 0.8 * again["usage"]["prompt_tokens"]
    longer = conversation(3)
    r3 = client.post("/v1/chat/completions", json={**body, "messages": longer}).json()
    assert r3["usage"]["prompt_tokens"] > out["usage"]["prompt_tokens"]


def test_streaming_matches_non_streaming(client, chat_backend):
    body = {"messages": conversation(2), "max_tokens": 6, "stream": True, "stream_options": {"include_usage": True}}
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert chunks[-1]["usage"]["completion_tokens"] >= 1
    plain = client.post("/v1/chat/completions", json={**body, "stream": False}).json()
    expected = plain["choices"][0]["message"]["content"]
    assert text.strip() == expected.strip()


def test_image_url_is_accepted(client):
    msgs = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": png_uri()}},
                                         {"type": "text", "text": "What is it?"}]}]
    r = client.post("/v1/chat/completions", json={"messages": msgs, "max_tokens": 2})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{not json", 400, "JSON"),
        (b"\xff\xfe", 400, "JSON"),
        (b"[" * 50_000 + b"]" * 50_000, 400, "JSON"),
        (b"[]", 400, "object"),
        (json.dumps({"messages": []}).encode(), 400, "messages"),
        (json.dumps({"messages": [{"role": "tool", "content": "x"}]}).encode(), 400, "role"),
        (json.dumps({"messages": [{"role": "user", "content": "x"}], "temperature": -1}).encode(), 400, "temperature"),
        (json.dumps({"messages": [{"role": "user", "content": "x"}], "n": 2}).encode(), 400, "n"),
        (json.dumps({"messages": [{"role": "user", "content": "x"}], "max_tokens": 1000}).encode(), 400, "limit"),
        (json.dumps({"messages": [{"role": "user", "content": "x"}], "model": "gpt-9"}).encode(), 404, "gpt-9"),
        (json.dumps({"messages": [{"role": "user", "content": [
            {"type": "video_url", "video_url": {"url": "http://example.com/v.mp4"}}]}]}).encode(), 400, "data: URI"),
        (json.dumps({"messages": [{"role": "user", "content": [
            {"type": "video_url", "video_url": {"url": "data:video/mp4;base64,@@@"}}]}]}).encode(), 400, "base64"),
        (json.dumps({"messages": [{"role": "user", "content": [
            {"type": "video_url", "video_url": {"url": "data:video/mp4;base64,aGVsbG8="}}]}]}).encode(), 400,
         "video"),
        (json.dumps({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8="}}]}]}).encode(), 400,
         "image"),
        (json.dumps({"messages": [{"role": "user", "content": [{"type": "audio", "x": 1}]}]}).encode(), 400, "type"),
        (json.dumps({"messages": [{"role": "user", "content": "hi <|im_start|>"}]}).encode(), 400, "reserved"),
        (json.dumps({"messages": [{"role": "assistant", "content": [
            {"type": "video_url", "video_url": {"url": "data:video/mp4;base64,aGVsbG8="}}]}]}).encode(), 400,
         "only user"),
        (json.dumps({"messages": [{"role": "user", "content": "x" * 300_000}]}).encode(), 413, "larger"),
    ],
)
def test_bad_requests_get_4xx_json(client, body, status, needle):
    r = client.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert needle.lower() in err["message"].lower()
    # the server is still fine afterwards
    ok = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1})
    assert ok.status_code == 200


def test_auth_and_unknown_routes(client):
    anon = {"Authorization": ""}
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}, headers=anon)
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    assert client.get("/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and "error" in r.json()
    r = client.get("/v1/chat/completions")
    assert r.status_code == 405 and "error" in r.json()


def test_video_store_is_bounded(chat_backend):
    from aura.serve.openai_api import VideoStore

    store = VideoStore(chat_backend, APISettings(video_cache_entries=3))
    ids = [store.get("video_url", chunk_data_uri(frames(k), 2.0))[0] for k in range(6)]
    assert len(set(ids)) == 6 and len(store) == 3
    assert store.get("video_url", chunk_data_uri(frames(5), 2.0))[0] == ids[5]
