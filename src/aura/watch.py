"""The main job: stream a video through a streaming model and report what it says, as it says it.

``watch`` is the loop behind ``aura watch``: one ``begin_step`` per 1-second chunk, scheduled
questions attached to the chunk their time falls in, optional real-time pacing, and one event
per question and reply handed to a callback. The clock and the sleep are injected.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from aura.errors import AuraError, InputFileError
from aura.fileio import read_json
from aura.models.base import StreamingModel
from aura.stream import VideoChunk

_ASK = re.compile(r"^\s*(?:(\d+):)?(\d+(?:\.\d+)?)\s*:\s*(.*\S)\s*$", re.S)


class AskError(AuraError):
    """A scheduled question is malformed or lies outside the video."""


@dataclass(frozen=True)
class ScheduledQuestion:
    """A question to ask at ``time`` seconds of stream time."""

    time: float
    text: str


@dataclass
class WatchEvent:
    """Something that happened in the stream: a question asked or a reply given."""

    time: float
    type: Literal["question", "response"]
    text: str
    question: str | None = None
    chunk: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The event as the JSON object ``--jsonl`` prints."""
        row: dict[str, Any] = {"time": self.time, "type": self.type}
        if self.type == "response":
            row["question"] = self.question
        row["text"] = self.text
        row["chunk"] = self.chunk
        row.update(self.extra)
        return row


def parse_ask(value: str) -> ScheduledQuestion:
    """``"TIME: QUESTION"`` (TIME in seconds, or ``M:SS``) as a scheduled question."""
    m = _ASK.match(value)
    if not m:
        raise AskError(f"--ask {value!r}: expected 'TIME: QUESTION', e.g. '12.5: What colour is the circle?'")
    minutes, seconds, text = m.groups()
    t = float(seconds) + 60 * int(minutes or 0)
    return ScheduledQuestion(t, text)


def load_questions(path: str) -> list[ScheduledQuestion]:
    """Questions from a JSON file: ``[{"time": 3.0, "question": "..."}, ...]``."""
    data = read_json(path)
    if not isinstance(data, list):
        raise InputFileError(f"{path}: expected a JSON list of {{\"time\", \"question\"}} objects")
    out = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise InputFileError(f"{path}: item {i} has no \"question\" text")
        t = item.get("time")
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
            raise InputFileError(f"{path}: item {i} has no valid \"time\" (seconds >= 0)")
        out.append(ScheduledQuestion(float(t), item["question"]))
    return out


def check_schedule(questions: list[ScheduledQuestion], duration: float | None) -> list[ScheduledQuestion]:
    """Questions sorted by time; one past the video's end (when known) is an ``AskError``."""
    for q in questions:
        if not q.text.strip():
            raise AskError(f"the question at {q.time:g}s is empty")
        if duration is not None and q.time >= duration:
            raise AskError(f"the question at {q.time:g}s is past the end of the video ({duration:.1f}s)")
    return sorted(questions, key=lambda q: q.time)


def watch(
    model: StreamingModel,
    chunks: Iterable[VideoChunk],
    questions: list[ScheduledQuestion],
    on_event: Callable[[WatchEvent], None],
    *,
    realtime: bool = False,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_token: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Stream ``chunks`` through ``model``; report each question and reply; return run statistics.

    Questions are asked in the chunk containing their time (several in one chunk are joined by a
    newline). With ``realtime``, each chunk is processed no earlier than its end in wall time.
    """
    model.reset()
    pending = list(questions)
    latencies: list[float] = []
    replies = 0
    names: dict[str, str] = {}
    start = clock()
    n = 0
    for chunk in chunks:
        if realtime:
            delay = chunk.end - (clock() - start)
            if delay > 0:
                sleep(delay)
        asked = []
        while pending and pending[0].time < chunk.end:
            asked.append(pending.pop(0))
        text = "\n".join(q.text.strip() for q in asked) or None
        for q in asked:
            on_event(WatchEvent(round(max(q.time, chunk.start), 3), "question", q.text.strip(), chunk=chunk.index))
        t0 = clock()
        gen = model.begin_step(chunk, text)
        turn = model.context.window[-1] if model.context.window else None
        if turn is not None:
            names.update(dict(turn.questions))
        for piece in gen:
            if on_token is not None:
                on_token(piece)
        result = gen.finish()
        latencies.append(clock() - t0)
        n += 1
        if not result.silent:
            replies += 1
            group = turn.reply_group if turn is not None and turn.closed else None
            on_event(WatchEvent(chunk.end, "response", result.text, names.get(group or ""), chunk.index,
                                {"ttft_ms": round(result.timings.ttft_s * 1000, 1)}))
    p50, p99 = (float(np.percentile(latencies, q)) for q in (50, 99)) if latencies else (0.0, 0.0)
    return {"chunks": n, "replies": replies, "step_p50_s": p50, "step_p99_s": p99,
            "unasked": [q.text for q in pending]}
