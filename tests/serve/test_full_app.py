"""`aura serve`'s app: the OpenAI-compatible API and the live page, WebSocket and /metrics side by side."""

from __future__ import annotations

import httpx
import pytest
import torch
from fastapi.testclient import TestClient

from aura.cli.main import main
from aura.models.hf.chat_backend import HFChatBackend
from aura.models.hf.tiny import build_tiny_checkpoint
from aura.serve.app import create_app
from aura.serve.openai_api import APISettings
from aura.serve.realtime_app import live_router
from tests.serve.live_server import Client, jpeg, running

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "qwen3_vl", "qwen3_vl")


def test_one_app_serves_the_api_the_page_and_live_sessions(tiny) -> None:
    backend = HFChatBackend.from_pretrained(str(tiny))
    router = live_router(f"hf:{tiny}", token="k3y", speech=False, max_new_tokens=4)
    app = create_app(backend, APISettings(api_key="k3y"), routers=[router])
    with TestClient(app) as client:
        page = client.get("/")
        assert page.status_code == 200 and "aura <span>live</span>" in page.text
        assert "getUserMedia" in client.get("/static/app.js").text
        assert client.get("/static/../ws.py").status_code == 404
        assert client.get("/v1/models", headers={"Authorization": "Bearer k3y"}).status_code == 200
    with running(app) as address:
        ws = Client(address, "k3y")
        try:
            ready = ws.recv()
            assert ready["type"] == "ready" and ready["model"].startswith("hf:") and not ready["listen"]
            ws.send_json({"type": "question", "text": "What is there?"})
            for i in range(4):
                ws.frame(0.5 * i, jpeg((40 * i) % 256, (64, 64)))
            first = ws.wait_for(lambda m: m["type"] == "step", 60)
            # the question closed the first chunk at its first frame ([0, 0.5)); if the model was still
            # loading when [0.5, 1) completed too, both were merged into one catch-up step
            assert first["chunk_start"] == 0.0 and (first["chunk_end"], first["chunks"]) in ((0.5, 1), (1.0, 2))
            for i in range(4, 8):
                ws.frame(0.5 * i, jpeg((40 * i) % 256, (64, 64)))
            later = ws.wait_for(lambda m: m["type"] == "step", 60)
            assert later["chunk_start"] == first["chunk_end"]
            metrics = httpx.get(f"http://{address}/metrics", headers={"Authorization": "Bearer k3y"}, timeout=10).text
            assert "aura_steps_total" in metrics and "aura_sessions_active 1" in metrics
        finally:
            ws.close()


def test_demo_refuses_bad_options_with_one_line(capsys, tmp_path) -> None:
    assert main(["demo", "--model", str(tmp_path), "--no-browser", "--no-speech"]) == 2
    assert "not a checkpoint directory" in capsys.readouterr().err
    assert main(["demo", "--video", str(tmp_path / "none.mp4"), "--no-browser"]) == 2
    assert "no such video file" in capsys.readouterr().err


def test_demo_app_serves_the_page_and_the_sample_stream(tiny) -> None:
    import argparse

    from aura.cli.demo_cmd import build_demo_app

    args = argparse.Namespace(model=f"hf:{tiny}", video=None, host="127.0.0.1", port=0, token=None, temperature=0.5,
                              max_new_tokens=8, max_sessions=1, threads=0, no_speech=True, whisper=None,
                              voice=None)
    app = build_demo_app(args)
    assert app.state.realtime.speech.notes == ["speech off: --no-speech"]
    with TestClient(app) as client:
        assert "Sample stream" in client.get("/").text
        video = client.get("/sample-video")
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"  # the bundled mp4
