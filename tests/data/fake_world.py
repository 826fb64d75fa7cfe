"""The fake MLLM for world videos: answers every vision step from ``aura.world``'s exact ground truth.

Candidates are the world's own questions with the replies they are owed; verification accepts
a reply only if its evidence lies inside the frames the request showed; state questions
(variants) are answered from the scene's state at the last frame shown; the judge accepts a
target that is either a reply the world owes or the true state answer at the reply time.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import Counter
from typing import Any

from aura.world import WorldStream

_VIDEO = re.compile(r"Video: (\S+) \(([\d.]+) s long\)")
_TIME = re.compile(r"^\[t=([\d.]+)s\]$")
_SPAN = re.compile(r"\[video: \d+ frames from t=([\d.]+)s to t=([\d.]+)s\]")
_EVENT = re.compile(r"(?:when|each time|every time) (.*?)(?:, tell me)?[.?]?$", re.I)

VARIANTS = [
    "How many objects do you see right now?",
    "Which shapes are on screen right now?",
    "Which colours are on screen right now?",
    "What is the most common colour on screen right now?",
]


def state_answer(stream: WorldStream, question: str, t: float) -> str | None:
    """The true answer to one of the ``VARIANTS`` at time ``t`` (None for other questions)."""
    state = stream.scene.state(t)
    if question == VARIANTS[0]:
        return f"There are {len(state)} objects."
    if question == VARIANTS[1]:
        return "I see: " + ", ".join(sorted({s.shape for s in state})) + "." if state else "Nothing."
    if question == VARIANTS[2]:
        return "I see: " + ", ".join(sorted({s.colour for s in state})) + "." if state else "Nothing."
    if question == VARIANTS[3]:
        if not state:
            return "Nothing."
        colour, _ = sorted(Counter(s.colour for s in state).items(), key=lambda kv: (-kv[1], kv[0]))[0]
        return f"Mostly {colour}."
    return None


class WorldMLLM:
    """Plays the MLLM for rendered world streams, keyed by their file name (``world-<seed>``)."""

    def __init__(self, streams: dict[str, WorldStream]) -> None:
        self.streams = streams
        self.sleep_s = 1.0
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def stream_for(self, segment_id: str) -> WorldStream:
        for name, s in self.streams.items():
            if segment_id.startswith(name + "-"):
                return s
        raise KeyError(segment_id)

    def answer(self, body: dict[str, Any]) -> tuple[int, str]:
        messages = body["messages"]
        task = re.match(r"aura-task: (\w+)/v\d+", messages[0]["content"]).group(1)
        user = messages[1]["content"]
        texts = [p["text"] for p in user if p.get("type") == "text"]
        prompt = texts[-1]
        times = [float(m.group(1)) for t in texts if (m := _TIME.match(t))]
        for t in texts:
            if m := _SPAN.search(t):
                times.append(float(m.group(2)))
        seen = max(times) if times else -1.0
        with self._lock:
            self.requests.append({"task": task, "seen": seen})
        if task == "rewrite":
            return 200, json.dumps(self._rewrite(prompt))
        m = _VIDEO.search(prompt) or re.search(r"Video: (\S+)\.", prompt)
        stream = self.stream_for(m.group(1))
        duration = stream.scene.duration
        return 200, json.dumps(getattr(self, f"_{task}")(stream, prompt, duration, seen))

    # ---- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _replies(stream: WorldStream, qid: str) -> list[Any]:
        return [r for r in stream.responses if r.question_id == qid and r.kind == "answer"]

    @staticmethod
    def _entities(q: Any) -> list[str]:
        return [v for k, v in q.target.items() if k in ("colour", "shape")]

    @staticmethod
    def _field(prompt: str, name: str) -> tuple[float, str]:
        m = re.search(name + r" \((?:asked|given) at ([\d.]+) s\): (.*)", prompt)
        return float(m.group(1)), m.group(2)

    # ---- tasks --------------------------------------------------------------------------------
    def _scenes(self, stream: WorldStream, prompt: str, duration: float, seen: float) -> dict[str, Any]:
        cuts = sorted({0.0, duration, *[e.time for e in stream.scene.events if 0 < e.time < duration]})
        out = []
        for a, b in itertools.pairwise(cuts):
            objs = ", ".join(f"a {s.colour} {s.shape}" for s in stream.scene.state(a)) or "an empty background"
            out.append({"start": a, "end": b, "description": f"{objs} moving on a background"})
        return {"scenes": out}

    def _candidates(self, stream: WorldStream, prompt: str, duration: float, seen: float) -> dict[str, Any]:
        rt, pa = [], []
        for q in stream.questions:
            replies = self._replies(stream, q.id)
            if not replies:
                continue
            if q.type == "realtime":
                rt.append({"question": q.text, "answer": replies[0].text, "time": q.time,
                           "entities": self._entities(q)})
            elif q.type == "proactive":
                pa.append({"question": q.text, "answer": replies[0].text, "question_time": q.time,
                           "answer_time": replies[0].time, "entities": self._entities(q)})
        return {"realtime": rt, "proactive": pa}

    def _question(self, stream: WorldStream, text: str) -> Any:
        return next(q for q in stream.questions if q.text == text)

    def _verify_candidate(self, stream: WorldStream, prompt: str, duration: float, seen: float) -> dict[str, Any]:
        qt, qtext = self._field(prompt, "Question")
        at, atext = self._field(prompt, "Answer")
        q = self._question(stream, qtext)
        r = next((r for r in self._replies(stream, q.id) if r.text == atext), None)
        ok = r is not None and (r.evidence_time or r.time) <= seen + 0.5 + 1e-6
        return {"reasonable": True, "supported": ok, "timestamp_ok": ok and abs(at - r.time) <= 1.0,
                "natural": r is not None and (q.type == "realtime" or qt < r.time), "reason": "ground truth"}

    def _multi_questions(self, stream: WorldStream, prompt: str, duration: float, seen: float) -> dict[str, Any]:
        return {"questions": [{"question": q.text, "time": q.time, "entities": self._entities(q)}
                              for q in stream.questions if q.type == "multi"]}

    def _verify_multi_question(self, stream: WorldStream, prompt: str, duration: float, seen: float) -> dict:
        _, qtext = self._field(prompt, "Question")
        n = len(self._replies(stream, self._question(stream, qtext).id))
        return {"reasonable": True, "repeatable": n >= 2, "reason": f"{n} answers owed"}

    def _multi_answers(self, stream: WorldStream, prompt: str, duration: float, seen: float) -> dict[str, Any]:
        _, qtext = self._field(prompt, "Question")
        q = self._question(stream, qtext)
        return {"answers": [{"text": r.text, "time": r.time} for r in self._replies(stream, q.id)]}

    def _verify_answer(self, stream: WorldStream, prompt: str, duration: float, seen: float) -> dict[str, Any]:
        _, qtext = self._field(prompt, "Question")
        at, atext = self._field(prompt, "Answer")
        q = self._question(stream, qtext)
        ok = any(r.text == atext and abs(r.time - at) <= 1.0 and (r.evidence_time or r.time) <= seen + 0.5 + 1e-6
                 for r in self._replies(stream, q.id))
        return {"supported": ok, "timestamp_ok": ok}

    def _variants(self, stream: WorldStream, prompt: str, duration: float, seen: float) -> dict[str, Any]:
        return {"variants": [{"level": i + 1, "question": v} for i, v in enumerate(VARIANTS)]}

    def _answer(self, stream: WorldStream, prompt: str, duration: float, seen: float) -> dict[str, Any]:
        question = re.search(r"Question \(at [\d.]+ s\): (.*)", prompt).group(1)
        return {"answer": state_answer(stream, question, seen) or "I cannot tell."}

    def _rewrite(self, prompt: str) -> dict[str, Any]:
        orig = re.search(r"question\): (.*)", prompt).group(1)
        template = re.search(r"Template: (.*)", prompt).group(1)
        m = _EVENT.search(orig)
        return {"question": template.replace("{event}", m.group(1)) if m else orig}

    def _judge(self, stream: WorldStream, prompt: str, duration: float, seen: float) -> dict[str, Any]:
        start, end = (float(x) for x in re.search(r"Window: ([\d.]+) s to ([\d.]+) s", prompt).groups())
        reply_t = float(re.search(r"Reply time: ([\d.]+) s", prompt).group(1))
        question = re.search(r"Question being answered: (.*)", prompt).group(1)
        target = re.search(r"TARGET reply: (.*)", prompt).group(1)
        owed = {r.text: r for r in stream.responses if r.kind == "answer"}
        truth = state_answer(stream, question, reply_t)
        if target in owed:
            ev = owed[target].evidence_time or owed[target].time
            correct, grounded = True, start - 1e-6 <= ev <= end + 0.5
        else:
            correct = grounded = truth is not None and truth == target
        return {"correct": correct, "grounded": grounded, "temporally_consistent": True,
                "not_hallucinated": correct, "timing_ok": True, "reason": "ground truth"}
