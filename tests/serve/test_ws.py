"""The WebSocket server: answers, refusals, garbage, floods and disconnects, one client never affecting another."""

from __future__ import annotations

import time

import httpx
import pytest

from aura.serve.protocol import pack_media
from aura.serve.realtime_app import create_realtime_app
from aura.serve.runtime import ConnectionLimits
from aura.serve.ws import RealtimeConfig
from tests.serve.live_server import Client, jpeg, running
from tests.serve.scripted import ScriptedModel, answer_questions


def slow_model() -> ScriptedModel:
    return ScriptedModel(answer_questions, piece_cost=0.02, on_cost=time.sleep)


@pytest.fixture(scope="module")
def server():
    config = RealtimeConfig(max_sessions=3, token="s3cret", limits=ConnectionLimits(max_frames_per_s=10))
    app = create_realtime_app(slow_model, config)
    with running(app) as address:
        yield address, app.state.realtime


def ask_and_answer(c: Client, question: str, t0: float = 0.0) -> dict:
    c.send_json({"type": "question", "text": question})
    for i in range(5):
        c.frame(t0 + 0.5 * i)
    return c.wait_for(lambda m: m["type"] == "response")


def test_typed_question_gets_streamed_answer_and_metrics(server) -> None:
    address, _state = server
    c = Client(address, "s3cret")
    try:
        ready = c.recv()
        assert ready["type"] == "ready" and ready["model"] == "scripted-test-double"
        assert ready["speak"] is False and ready["notes"]  # no speech stack given: says so
        resp = ask_and_answer(c, "What is on the table?")
        assert resp["text"] == "You asked: What is on the table?. The answer is on chunk 0." and not resp["cancelled"]
        types = [m["type"] for m in c.received]
        assert types.index("question") < types.index("response_start") < types.index("token") < types.index("response")
        tokens = "".join(m["text"] for m in c.received if m["type"] == "token")
        assert tokens.strip() == resp["text"]
        metrics = c.wait_for(lambda m: m["type"] == "metrics")["metrics"]
        assert metrics["counters"]["questions"] == 1 and metrics["counters"]["frames_in"] == 5
        text = httpx.get(f"http://{address}/metrics?token=s3cret", timeout=10).text
        assert 'aura_questions_total{session="' in text and "aura_sessions_active 1" in text
        assert httpx.get(f"http://{address}/metrics", timeout=10).status_code == 401
    finally:
        c.close()


def test_wrong_token_is_refused_with_an_error(server) -> None:
    address, _ = server
    c = Client(address, "nope")
    msg = c.recv()
    assert msg["type"] == "error" and msg["code"] == "unauthorised" and msg["fatal"]
    c.close()


def test_garbage_gets_error_messages_and_the_session_keeps_working(server) -> None:
    address, _ = server
    c = Client(address, "s3cret")
    try:
        c.recv()
        bad = [
            lambda: c.ws.send("{not json"),
            lambda: c.send_json({"type": "launch_missiles"}),
            lambda: c.send_json({"type": "question", "text": ""}),
            lambda: c.send_json({"type": "question", "text": "hi", "extra": 1}),
            lambda: c.ws.send(b"\x00\x01"),
            lambda: c.ws.send(pack_media("F", 0.0, b"this is not a jpeg")),
            lambda: c.ws.send(pack_media("F", -1.0, jpeg())),
            lambda: c.ws.send(pack_media("A", 0.0, b"\x00\x00")),  # speech input is off here
            lambda: c.ws.send(b"F" + b"\x00" * 2_000_000),  # over the message size limit
        ]
        for send in bad:
            send()
            err = c.wait_for(lambda m: m["type"] == "error")
            assert not err["fatal"] and err["message"]
        codes = [m["code"] for m in c.received if m["type"] == "error"]
        assert {"bad_message", "bad_frame", "no_speech", "too_large"} <= set(codes)
        assert ask_and_answer(c, "Still there?")["text"].startswith("You asked: Still there?")
    finally:
        c.close()


def test_flood_and_abrupt_disconnect_do_not_affect_another_session(server) -> None:
    address, state = server
    calm, flood, quitter = Client(address, "s3cret"), Client(address, "s3cret"), Client(address, "s3cret")
    try:
        for c in (calm, flood, quitter):
            assert c.recv()["type"] == "ready"
        assert len(state.sessions) == 3
        extra = Client(address, "s3cret")  # a fourth is refused: max_sessions=3
        assert extra.recv()["code"] == "busy"
        extra.close()
        # the quitter starts a long answer and vanishes mid-stream
        quitter.send_json({"type": "question", "text": "Tell me everything"})
        for i in range(3):
            quitter.frame(0.5 * i)
        quitter.wait_for(lambda m: m["type"] == "token")
        quitter.ws.close_socket() if hasattr(quitter.ws, "close_socket") else quitter.ws.socket.close()
        # the flooder sends 300 frames as fast as it can
        data = jpeg()
        for i in range(300):
            flood.frame(0.01 * i, data)
        # the calm client is served normally meanwhile
        start = time.monotonic()
        resp = ask_and_answer(calm, "Are you fine?")
        assert resp["text"].startswith("You asked: Are you fine?") and time.monotonic() - start < 10
        errors = []
        while True:
            m = flood.wait_for(lambda m: m["type"] in ("error", "metrics"))
            if m["type"] == "metrics":
                break
            errors.append(m)
        assert errors and all(e["code"] == "rate_limited" for e in errors)
        assert m["metrics"]["counters"]["frames_in"] <= 40  # the bucket let only a burst through
        deadline = time.monotonic() + 10
        while len(state.sessions) != 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(state.sessions) == 2  # the quitter's session was cleaned up
    finally:
        for c in (calm, flood, quitter):
            c.close()


def test_ingestion_and_the_socket_stay_responsive_while_the_model_is_slow() -> None:
    def model() -> ScriptedModel:  # every chunk gets a 10-piece answer at 0.15 s per piece: 1.5 s per step
        return ScriptedModel(lambda c, q: "one two three four five six seven eight nine ten.",
                             piece_cost=0.15, on_cost=time.sleep)

    app = create_realtime_app(model, RealtimeConfig(limits=ConnectionLimits(max_frames_per_s=20)))
    with running(app) as address:
        c = Client(address)
        try:
            c.recv()
            c.send_json({"type": "question", "text": "Keep talking"})
            pings = []
            for i in range(30):  # 15 s of stream time sent in 3 s of wall time
                c.frame(0.5 * i)
                if i % 5 == 4:
                    sent = time.monotonic()
                    c.send_json({"type": "ping", "id": i})
                    c.wait_for(lambda m, i=i: m["type"] == "pong" and m["id"] == i, 5)
                    pings.append(time.monotonic() - sent)
                time.sleep(0.1)
            assert max(pings) < 0.5  # the event loop never waited for the decoder
            m = c.wait_for(lambda m: m["type"] == "metrics", 5)["metrics"]
            while m["counters"]["frames_in"] < 30:
                m = c.wait_for(lambda m: m["type"] == "metrics", 5)["metrics"]
            assert m["counters"]["frames_in"] == 30 and m["counters"]["frames_dropped"] == 0
            step = c.wait_for(lambda m: m["type"] == "step" and m["chunks"] > 1, 10)  # a catch-up step
            assert step["chunk_end"] - step["chunk_start"] > 1.0
        finally:
            c.close()
