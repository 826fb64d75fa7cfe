"""TEST DOUBLE, not a product model: a deterministic rule-following ``StreamingModel`` for harness tests.

It reads the synthetic test videos' pixels (``make_video``): red = 10 x the second the frame
belongs to, green high while "the event" is on. Its rules are simple and time-dependent, so the
harness's plumbing (chunk alignment, teacher-forced windows, injections, polls, scoring) decides
whether it scores: a chunk off by one, or a window missing its frames, changes its answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from aura.models.base import StepGeneration, StepResult, StepTimings, StreamingModel
from aura.stream import AssistantResponse, ContextConfig, Silence, StreamContext, UserQuestion, VideoChunk


def make_video(path: Path, seconds: int, event: tuple[int, int] | None = None, fps: int = 4, size: int = 32) -> Path:
    """A tiny H.264 mp4: second k is a solid frame, red = 10k mod 250; green = 200 during ``event`` [start, end)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(seconds * fps):
            k = i // fps
            frame = np.zeros((size, size, 3), dtype=np.uint8)
            frame[..., 0] = (10 * k) % 250
            if event and event[0] <= k < event[1]:
                frame[..., 1] = 200
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def second_of(frames: np.ndarray) -> int:
    """The second a chunk shows (from its red channel)."""
    return round(float(frames[..., 0].mean()) / 10)


def event_on(frames: np.ndarray) -> bool:
    """Whether the event is on in a chunk (green channel)."""
    return float(frames[..., 1].mean()) > 100


class _Gen(StepGeneration):
    def __init__(self, model: ScriptedModel, chunk: VideoChunk, text: str | None) -> None:
        self.model, self.chunk, self.text = model, chunk, text
        self.said: list[str] = []
        self.cancelled = False
        self.finished = False

    def __iter__(self) -> Iterator[str]:
        words = self.text.split(" ") if self.text else []
        while not self.cancelled and len(self.said) < len(words):
            word = words[len(self.said)]
            piece = word if not self.said else " " + word
            self.said.append(piece)
            yield piece

    def cancel(self) -> None:
        self.cancelled = True

    def finish(self) -> StepResult:
        if not self.cancelled:
            for _ in self:
                pass
        text = "".join(self.said).strip()
        ctx = self.model.context
        if text:
            ctx.feed(AssistantResponse(text, self.chunk.end))
            self.model.pending = None if text == self.model.pending else self.model.pending
        else:
            ctx.feed(Silence(self.chunk.end))
        timings = StepTimings(ttft_s=0.001 if text else 0.0, total_s=0.002, generated_tokens=len(text.split()))
        return StepResult(self.chunk.index, silent=not text, text=text, cancelled=self.cancelled, timings=timings)


class ScriptedModel(StreamingModel):
    """TEST DOUBLE. Rules (first match wins), given this chunk's second ``k`` and event flag:

    - "Is it the right time to output" -> "yes" if the event is on, else "no";
    - "Options" -> the letter of option ``k % 4`` ("B." style answer);
    - "How many times" -> "<n> times", n = event chunks among the context window's chunks;
    - "Yes or No" -> "Yes." if the event is on, else "No.";
    - 'output "X"' or "Notify me" or "What does he do next" -> X / "It is happening now." at once if
      the event is on, else "OK, I will let you know." and say it later at the first event chunk;
    - "User:" (a conversation to overhear) -> silence; "echo: X" -> X;
    - any other question -> "red" while the event is on, else "blue";
    - no question: the pending announcement at an event chunk, else silence.
    """

    def __init__(self, config: ContextConfig | None = None) -> None:
        self.config = config or ContextConfig()
        self.context = StreamContext(self.config)
        self.pending: str | None = None
        self.window_sizes: list[int] = []

    @property
    def name(self) -> str:
        return "test-double:scripted"

    def reset(self) -> None:
        self.context = StreamContext(self.config)
        self.pending = None

    def begin_step(self, chunk: VideoChunk, question: str | None = None) -> StepGeneration:
        self.context.feed(chunk)
        if question:
            self.context.feed(UserQuestion(question, chunk.start))
        return _Gen(self, chunk, self._decide(chunk, question))

    def _decide(self, chunk: VideoChunk, question: str | None) -> str | None:
        k, on = second_of(chunk.frames), event_on(chunk.frames)
        if question:
            self.window_sizes.append(len(self.context.window))
        if not question:
            return self.pending if (self.pending and on) else None
        if "Is it the right time to output" in question:
            return "yes" if on else "no"
        if "Options" in question:
            return f"{chr(65 + k % 4)}."
        if "How many times" in question:
            n = sum(event_on(t.chunk.frames) for t in self.context.window)
            return f"{n} times"
        if "Yes or No" in question:
            return "Yes." if on else "No."
        m = re.search(r'output "([^"]+)"', question)
        if m or "Notify me" in question or "do next" in question:
            announce = m.group(1) if m else "It is happening now."
            if on:
                return announce
            self.pending = announce
            return "OK, I will let you know."
        if question.startswith("User:"):
            return None
        if question.startswith("echo:"):
            return question[len("echo:"):].strip() or None
        return "red" if on else "blue"
