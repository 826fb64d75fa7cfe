"""TEST DOUBLES, not product models: ``StreamingModel``s that answer from the world's ground truth.

They exist to check the world evaluation's plumbing and scoring: an ORACLE that says exactly
what each stream owes in exactly the owed chunk (it must score 100% everywhere), a copy that
gives proactive answers and multi-response reports one chunk too early, one that never speaks,
and one that speaks at random. They see only what a real model sees (chunks and questions); the
oracles identify the stream from the questions they hear (nothing is owed before the first).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from aura.models.base import StepGeneration, StepResult, StreamingModel
from aura.stream import ContextConfig, StreamContext, VideoChunk
from aura.world import WorldStream


class _Gen(StepGeneration):
    def __init__(self, index: int, text: str) -> None:
        self.index, self.text, self.cancelled = index, text, False

    def __iter__(self) -> Iterator[str]:
        if self.text:
            yield self.text

    def cancel(self) -> None:
        self.cancelled = True

    def finish(self) -> StepResult:
        return StepResult(chunk_index=self.index, silent=not self.text, text=self.text)


class _Double(StreamingModel):
    label = "double"

    def __init__(self) -> None:
        self.context = StreamContext(ContextConfig())
        self.steps = 0

    @property
    def name(self) -> str:
        return self.label

    def reset(self) -> None:
        self.context = StreamContext(ContextConfig())

    def reply(self, chunk: VideoChunk, question: str | None) -> str:
        return ""

    def begin_step(self, chunk: VideoChunk, question: str | None = None) -> StepGeneration:
        assert chunk.frames.ndim == 4 and chunk.frames.shape[0] == 2  # a real decoded 2-frame chunk
        self.steps += 1
        return _Gen(chunk.index, self.reply(chunk, question))


class SilentModel(_Double):
    """Never says anything."""

    label = "silent-double"


class RandomTalker(_Double):
    """Says a random colour-and-shape sentence in about half of all chunks (seeded)."""

    label = "random-double"

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.rng = np.random.default_rng(seed)

    def reply(self, chunk: VideoChunk, question: str | None) -> str:
        if self.rng.random() < 0.5:
            return ""
        colour = ["red", "green", "blue", "yellow"][int(self.rng.integers(4))]
        shape = ["circle", "square", "triangle"][int(self.rng.integers(3))]
        return f"A {colour} {shape}."


class OracleModel(_Double):
    """ORACLE: the owed replies of the stream it recognises, in their chunks (``shift`` moves answers)."""

    label = "oracle-double"

    def __init__(self, streams: list[WorldStream], shift: int = 0) -> None:
        super().__init__()
        self.streams = streams
        self.shift = shift
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.heard: list[tuple[int, str]] = []
        self.plan: dict[int, str] | None = None

    def _identify(self) -> None:
        found = [s for s in self.streams
                 if [(math.floor(q.time + 1e-9), q.text) for q in s.questions][: len(self.heard)] == self.heard]
        assert len(found) == 1, f"oracle cannot tell the stream from {self.heard} ({len(found)} candidates)"
        self.plan = {}
        qtype = {q.id: q.type for q in found[0].questions}
        for r in found[0].responses:
            k = math.floor(r.time + 1e-9)
            if r.kind != "ack" and qtype[r.question_id] in ("proactive", "multi"):
                k += self.shift
            self.plan[k] = r.text

    def reply(self, chunk: VideoChunk, question: str | None) -> str:
        if question is not None and self.plan is None:
            self.heard.append((chunk.index, question))
            self._identify()
        return (self.plan or {}).get(chunk.index, "")


class EarlyModel(OracleModel):
    """Like the oracle, but every proactive answer and multi report comes one chunk early."""

    label = "early-double"

    def __init__(self, streams: list[WorldStream]) -> None:
        super().__init__(streams, shift=-1)
