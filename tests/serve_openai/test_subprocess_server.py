"""``aura serve`` in a subprocess on a free loopback port, driven by the official ``openai`` client.

The ``openai`` streaming backend talking to that server produces the same replies as the local
``hf`` backend fed the same (H.264-decoded) frames.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import openai
import pytest

from aura.models.hf.backend import HFStreamingModel
from aura.models.openai_backend import BackendError, chunk_data_uri, frames_roundtrip
from aura.models.registry import load_model
from aura.stream import ContextConfig, VideoChunk

CFG = ContextConfig(window_chunks=4, float_chunks=2, history_groups=2)
QUESTIONS = {0: "What is on the table?", 3: "Tell me when the dog appears.", 7: "How many birds?"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def frames(k: int) -> np.ndarray:
    return np.random.default_rng(100 + k).integers(0, 256, (2, 56, 56, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def server(tiny_ckpt):
    port = free_port()
    cmd = [sys.executable, "-m", "aura.cli.main", "serve", "--model", f"hf:{tiny_ckpt}", "--port", str(port),
           "--threads", "1", "--served-model-name", "tiny", "--no-live"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    try:
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
            try:
                if httpx.get(f"{url}/models", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("server did not start within 90 s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_official_client(server):
    client = openai.OpenAI(base_url=server, api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list().data] == ["tiny"]
    messages = [
        {"role": "system", "content": "You are receiving a live video stream."},
        {"role": "user", "content": [{"type": "video_url", "video_url": {"url": chunk_data_uri(frames(0), 2.0)}},
                                     {"type": "text", "text": "What is it?"}]},
    ]
    full = client.chat.completions.create(model="tiny", messages=messages, max_tokens=6, temperature=0)
    text = full.choices[0].message.content
    assert isinstance(text, str) and text
    assert full.usage.prompt_tokens > 0
    pieces = [
        e.choices[0].delta.content or ""
        for e in client.chat.completions.create(model="tiny", messages=messages, max_tokens=6, temperature=0,
                                                stream=True)
        if e.choices
    ]
    assert "".join(pieces).strip() == text.strip()
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": [
            {"type": "video_url", "video_url": {"url": "data:video/mp4;base64,aGVsbG8="}}]}])
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="other", messages=[{"role": "user", "content": "hi"}])


def test_openai_backend_equals_local_backend(server, tiny_ckpt):
    remote = load_model(f"openai:{server}#tiny", CFG, max_new_tokens=5)
    local = HFStreamingModel.from_pretrained(tiny_ckpt, CFG, max_new_tokens=5)
    reused = []
    for k in range(10):
        q = QUESTIONS.get(k)
        r = remote.step(VideoChunk(k, float(k), k + 1.0, frames(k)), q)
        loc = local.step(VideoChunk(k, float(k), k + 1.0, frames_roundtrip(frames(k), 2.0)), q)
        assert (r.silent, r.text) == (loc.silent, loc.text), f"step {k}"
        reused.append(r.timings.reused_tokens)
    assert remote.context.evictions >= 1
    assert remote.context.messages() == local.context.messages()
    assert sum(x > 0 for x in reused) >= 8  # the server's prefix cache was reused on most steps


def test_unreachable_server_is_a_clear_error():
    m = load_model(f"openai:http://127.0.0.1:{free_port()}/v1#x", CFG)
    with pytest.raises(BackendError, match="failed"):
        m.step(VideoChunk(0, 0.0, 1.0, frames(0)))
    assert m.context.open_turn is None  # the turn was closed: the session stays usable


def test_client_leaving_mid_stream_frees_the_server(server):
    body = {"model": "tiny", "max_tokens": 64, "stream": True, "messages": [
        {"role": "user", "content": [{"type": "video_url", "video_url": {"url": chunk_data_uri(frames(1), 2.0)}},
                                     {"type": "text", "text": "Describe it."}]}]}
    with httpx.Client(timeout=30) as http:
        with http.stream("POST", f"{server}/chat/completions", json=body) as r:
            assert r.status_code == 200
            next(r.iter_lines())  # read one event, then hang up
        r2 = http.post(f"{server}/chat/completions", json={**body, "stream": False, "max_tokens": 2})
        assert r2.status_code == 200
