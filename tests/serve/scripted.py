"""A deterministic, scripted ``StreamingModel`` test double for the session tests.

It is NOT a model: it answers from a script so timing, cancellation and bounds can be checked
exactly. It keeps a real ``StreamContext`` (so the recorded replies are checked too) and reports
each decoded piece's cost to a callback (tests advance a manual clock and feed frames there).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator

from aura.models.base import StepGeneration, StepResult, StepTimings, StreamingModel
from aura.stream import AssistantResponse, ContextConfig, Silence, StreamContext, UserQuestion, VideoChunk

Script = Callable[[VideoChunk, str | None], str | None]


def answer_questions(chunk: VideoChunk, question: str | None) -> str | None:
    """Answer every question with a fixed two-sentence text; stay silent otherwise."""
    if question is None:
        return None
    return f"You asked: {question.splitlines()[-1]}. The answer is on chunk {chunk.index}."


class ScriptedGeneration(StepGeneration):
    def __init__(self, model: ScriptedModel, chunk: VideoChunk, text: str | None) -> None:
        self.model, self.chunk = model, chunk
        self.pieces = [] if text is None else [w + " " for w in text.split(" ")]
        if self.pieces:
            self.pieces[-1] = self.pieces[-1].rstrip()
        self.said: list[str] = []
        self.cancelled = False
        self.finished: StepResult | None = None

    def __iter__(self) -> Iterator[str]:
        self.model.cost(self.model.prefill_cost)
        for piece in self.pieces[len(self.said):]:
            if self.cancelled:
                return
            self.model.cost(self.model.piece_cost)
            if self.cancelled:  # cancelled while this piece was decoding: it is never said
                return
            self.said.append(piece)
            self.model.pieces_decoded += 1
            yield piece

    def cancel(self) -> None:
        self.cancelled = True

    def finish(self) -> StepResult:
        if self.finished is not None:
            return self.finished
        if not self.cancelled:
            for _ in self:
                pass
        text = "".join(self.said).strip()
        if text:
            self.model.context.feed(AssistantResponse(text, self.chunk.end))
        else:
            self.model.context.feed(Silence(self.chunk.end))
        timings = StepTimings(prefill_tokens=10, reused_tokens=100 * self.chunk.index, generated_tokens=len(self.said))
        self.finished = StepResult(self.chunk.index, silent=not text, text=text,
                                   cancelled=self.cancelled, timings=timings)
        return self.finished


class ScriptedModel(StreamingModel):
    """Replies from ``script``; every piece costs ``piece_cost`` seconds reported to ``on_cost``."""

    def __init__(self, script: Script = answer_questions, *, piece_cost: float = 0.0, prefill_cost: float = 0.0,
                 on_cost: Callable[[float], None] | None = None, config: ContextConfig | None = None) -> None:
        self.script = script
        self.piece_cost, self.prefill_cost = piece_cost, prefill_cost
        self.on_cost = on_cost
        self.context = StreamContext(config)
        self.seen: deque[tuple[VideoChunk, str | None]] = deque(maxlen=100)
        self.pieces_decoded = 0

    @property
    def name(self) -> str:
        return "scripted-test-double"

    def cost(self, seconds: float) -> None:
        if self.on_cost is not None and seconds:
            self.on_cost(seconds)

    def reset(self) -> None:
        self.context = StreamContext(self.context.config)
        self.seen.clear()

    def begin_step(self, chunk: VideoChunk, question: str | None = None) -> StepGeneration:
        self.context.feed(chunk)
        if question:
            self.context.feed(UserQuestion(question, chunk.start))
        self.seen.append((chunk, question))
        return ScriptedGeneration(self, chunk, self.script(chunk, question))
