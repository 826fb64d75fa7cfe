"""A real OpenAI-compatible chat server for the data-engine tests (FastAPI + uvicorn on loopback).

It plays the MLLM from the ground truth of the test patterns (``patterns.Square``): it reads the
task tag of the prompt, the segment id, and the times of the frames it was shown, and answers
only from the squares visible in those frames' time span (so a request that shows too little
video gets a "not supported" verdict). It makes a few honest mistakes on purpose (a candidate
answered too early, a hallucinated multi-response answer, a "why" question answered with an
invented object, a rewrite that drops the colour) and misbehaves on demand per source video:
``timeout`` (sleeps past the client's timeout), ``500``, ``nonjson``, ``flaky`` (one 500, then
fine), ``junk_once`` (one non-JSON reply per request, then fine).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from tests.data.patterns import COLOURS, Square

_VIDEO = re.compile(r"Video: (\S+) \(([\d.]+) s long\)")
_TIME = re.compile(r"^\[t=([\d.]+)s\]$")
_SPAN = re.compile(r"\[video: \d+ frames from t=([\d.]+)s to t=([\d.]+)s\]")
_WINDOW = re.compile(r"Window: ([\d.]+) s to ([\d.]+) s")
ALL_COLOURS = [*COLOURS, "purple"]


@dataclass
class Truth:
    """Squares of one source video, and how the server misbehaves for it."""

    squares: list[Square]
    fault: str | None = None


@dataclass
class FakeMLLM:
    """Ground truth per source-name prefix, segment length, and a log of what was asked."""

    truths: dict[str, Truth] = field(default_factory=dict)
    segment_seconds: float = 300.0
    sleep_s: float = 3.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    rewriter: Any = None  # e.g. SmolRewriter: a real LLM answers the text-only rewriting step
    _seen: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---- request parsing ----------------------------------------------------------------------
    def truth_for(self, segment_id: str) -> tuple[Truth | None, float]:
        src, _, idx = segment_id.rpartition("_s")
        offset = int(idx) * self.segment_seconds if idx.isdigit() else 0.0
        for prefix, truth in self.truths.items():
            if src.startswith(prefix):
                return truth, offset
        return None, offset

    def answer(self, body: dict[str, Any]) -> tuple[int, str]:
        """(status, reply text) for one chat request."""
        messages = body["messages"]
        system = messages[0]["content"]
        task = re.match(r"aura-task: (\w+)/v\d+", system).group(1)
        user = messages[1]["content"]
        texts = [p["text"] for p in user if p.get("type") == "text"]
        prompt = texts[-1]
        times = [float(m.group(1)) for t in texts if (m := _TIME.match(t))]
        for t in texts:
            if m := _SPAN.search(t):
                times += [float(m.group(1)), float(m.group(2))]
        n_images = sum(1 for p in user if p.get("type") in ("image_url", "video_url"))
        m = _VIDEO.search(prompt)
        segment_id = m.group(1) if m else None
        duration = float(m.group(2)) if m else None
        if task == "judge":
            segment_id = re.search(r"Video: (\S+)\.", prompt).group(1)
        truth, offset = self.truth_for(segment_id) if segment_id else (None, 0.0)
        key = f"{segment_id}|{task}|{prompt}"
        with self._lock:
            self.requests.append({"task": task, "segment": segment_id, "times": times, "images": n_images,
                                  "retry": len(messages) > 2})
            self._seen[key] = self._seen.get(key, 0) + 1
            nth = self._seen[key]
        fault = truth.fault if truth else None
        if fault == "500" or (fault == "flaky" and nth == 1):
            return 500, "internal error"
        if fault == "nonjson" or (fault == "junk_once" and nth == 1):
            return 200, "Sure! Here is what I see: a nice video."
        if fault == "timeout":
            return -1, ""
        squares = [Square(s.colour, s.start - offset, s.end - offset) for s in (truth.squares if truth else [])]
        seen_until = max(times) if times else -1.0
        reply = getattr(self, f"_{task}")(prompt, squares, duration, seen_until)
        return 200, "```json\n" + json.dumps(reply) + "\n```"

    # ---- the tasks --------------------------------------------------------------------------------
    @staticmethod
    def _appear(squares: list[Square], duration: float | None) -> list[Square]:
        return [s for s in squares if 0 < s.start < (duration or 1e9)]

    def _scenes(self, prompt: str, squares: list[Square], duration: float, seen: float) -> dict[str, Any]:
        cuts = sorted({0.0, duration, *[t for s in squares for t in (s.start, s.end) if 0 < t < duration]})
        scenes = []
        for a, b in itertools.pairwise(cuts):
            vis = [s.colour for s in squares if s.start <= a < s.end]
            what = f"a {vis[0]} square over a scrolling gradient" if vis else "a scrolling colour gradient"
            scenes.append({"start": a, "end": b, "description": what})
        return {"scenes": scenes}

    def _candidates(self, prompt: str, squares: list[Square], duration: float, seen: float) -> dict[str, Any]:
        rt = []
        for s in squares:
            a, b = max(s.start, 0.0), min(s.end, duration)
            if b - a >= 1:
                t = float(int((a + b) / 2))
                rt.append({"question": "What colour is the square on screen now?", "answer": f"It is {s.colour}.",
                           "time": t, "entities": ["square"]})
        rt.append({"question": "What happens at the very end?", "answer": "It ends.", "time": duration + 5})
        pa = []
        for s in self._appear(squares, duration):
            if s.start >= 2:
                pa.append({"question": f"Tell me when a {s.colour} square appears.",
                           "answer": f"A {s.colour} square just appeared.", "question_time": s.start - 2,
                           "answer_time": s.start, "entities": [s.colour, "square"]})
            if s.end < duration:
                pa.append({"question": f"Tell me when the {s.colour} square disappears.",
                           "answer": f"The {s.colour} square is gone.", "question_time": max(0.0, s.start),
                           "answer_time": s.end - 1.0, "entities": [s.colour, "square"]})
        return {"realtime": rt, "proactive": pa, "note": "extra keys are ignored"}

    def _verify_candidate(self, prompt: str, squares: list[Square], duration: float, seen: float) -> dict[str, Any]:
        q = re.search(r"Question \(asked at ([\d.]+) s\): (.*)", prompt)
        a = re.search(r"Answer \(given at ([\d.]+) s\): (.*)", prompt)
        qt, question, at = float(q.group(1)), q.group(2), float(a.group(1))
        if m := re.search(r"when (?:a|the) (\w+) square (appears|disappears)", question):
            s = next((s for s in squares if s.colour == m.group(1)), None)
            ev = None if s is None else (s.start if m.group(2) == "appears" else s.end)
            ok = ev is not None and ev <= seen + 1e-6
            return {"reasonable": True, "supported": ok, "timestamp_ok": ok and abs(at - ev) <= 1.0,
                    "natural": ev is not None and qt < ev, "reason": "checked against the frames up to the answer"}
        vis = [s for s in squares if s.start <= at < s.end]
        ok = bool(vis) and vis[0].colour in a.group(2) and seen >= at - 1.0
        return {"reasonable": True, "supported": ok, "timestamp_ok": ok, "reason": "what is on screen at that time"}

    def _multi_questions(self, prompt: str, squares: list[Square], duration: float, seen: float) -> dict[str, Any]:
        return {"questions": [{"question": "Tell me each time a new square appears.", "time": 1.0,
                               "entities": ["square"]}]}

    def _verify_multi_question(self, prompt: str, squares: list[Square], duration: float, seen: float) -> dict:
        n = len([s for s in self._appear(squares, duration) if s.start > 1.0])
        return {"reasonable": True, "repeatable": n >= 2, "reason": f"{n} squares appear later"}

    def _multi_answers(self, prompt: str, squares: list[Square], duration: float, seen: float) -> dict[str, Any]:
        ans = [{"text": f"A {s.colour} square just appeared.", "time": s.start}
               for s in self._appear(squares, duration) if s.start > 1.0]
        gaps = [t + 0.5 for t in range(int(duration)) if not any(s.start - 1 <= t + 0.5 < s.end for s in squares)]
        if gaps:  # one hallucinated answer, for the answer verification to catch
            ans.append({"text": "A yellow square just appeared.", "time": gaps[-1]})
        return {"answers": sorted(ans, key=lambda x: x["time"])}

    def _verify_answer(self, prompt: str, squares: list[Square], duration: float, seen: float) -> dict[str, Any]:
        a = re.search(r"Answer \(given at ([\d.]+) s\): (.*)", prompt)
        at, text = float(a.group(1)), a.group(2)
        ok = any(s.colour in text and at - 1.0 <= s.start <= at and s.start <= seen + 1e-6 for s in squares)
        return {"supported": ok, "timestamp_ok": ok, "reason": "compared with the frames"}

    def _variants(self, prompt: str, squares: list[Square], duration: float, seen: float) -> dict[str, Any]:
        return {"variants": [
            {"level": 2, "question": "Which colour is the shape in the upper half right now?"},
            {"level": 1, "question": "What colour is the square you see at this moment?"},
            {"level": 3, "question": "Is the colour of the square now warm or cool? Name the colour."},
            {"level": 4, "question": "Why might the square have this colour?"},
        ]}

    def _answer(self, prompt: str, squares: list[Square], duration: float, seen: float) -> dict[str, Any]:
        if "Why" in prompt:
            return {"answer": "Because a purple ball rolled past it."}
        vis = [s for s in squares if s.start <= seen < s.end]
        return {"answer": f"It is {vis[0].colour}." if vis else "I see no square."}

    def _rewrite(self, prompt: str, squares: list[Square], duration: float, seen: float) -> dict[str, Any]:
        orig = re.search(r"question\): (.*)", prompt).group(1)
        template = re.search(r"Template: (.*)", prompt).group(1)
        if self.rewriter is not None:
            return {"question": self.rewriter.rewrite(orig, template) or orig}
        event = re.search(r"(?:when|each time) (.*?)[.?]?$", orig).group(1)
        if template.startswith("Keep watching"):  # a sloppy rewrite that loses the colour
            event = re.sub(r"\b(" + "|".join(COLOURS) + r") ", "", event)
        return {"question": template.replace("{event}", event)}

    def _judge(self, prompt: str, squares: list[Square], duration: float, seen: float) -> dict[str, Any]:
        w = _WINDOW.search(prompt)
        start, end = float(w.group(1)), float(w.group(2))
        reply_t = float(re.search(r"Reply time: ([\d.]+) s", prompt).group(1))
        target = re.search(r"TARGET reply: (.*)", prompt).group(1)
        named = [c for c in ALL_COLOURS if c in target]
        visible = {s.colour for s in squares if s.start < end and s.end > start}
        grounded = all(c in visible for c in named)
        timing = True
        if "appeared" in target:
            timing = any(c == s.colour and reply_t - 1.0 <= s.start <= reply_t + 1e-6 for c in named for s in squares)
        return {"correct": grounded, "grounded": grounded, "temporally_consistent": True,
                "not_hallucinated": grounded, "timing_ok": timing, "reason": f"visible: {sorted(visible)}"}


def build_app(fake: FakeMLLM) -> FastAPI:
    """The FastAPI app serving ``POST /v1/chat/completions`` from ``fake``."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        status, text = fake.answer(body)
        if status == -1:
            await asyncio.sleep(fake.sleep_s)
            return PlainTextResponse("too late", status_code=504)
        if status != 200:
            return PlainTextResponse(text, status_code=status)
        return JSONResponse({
            "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })

    return app


class ServerThread:
    """Runs the app with uvicorn on 127.0.0.1 on a free port, in a daemon thread."""

    def __init__(self, app: FastAPI) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                    lifespan="off", timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("fake MLLM server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
