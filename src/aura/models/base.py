"""The interface every streaming backend implements.

A backend owns a ``StreamContext`` (what the model sees) and its own KV cache, kept in step with
the context's prefix-stability signal. One call per 1-second chunk::

    model.reset()
    for chunk in chunks:                       # VideoChunk with frames: uint8 (F, H, W, 3) RGB
        gen = model.begin_step(chunk, question)   # question: str | None
        for piece in gen:                      # text pieces as they are decoded (none if silent)
            ...                                # stop iterating (gen.close()) to cancel
        result = gen.finish()                  # StepResult; the reply (or what was said) is recorded

``step()`` does all of that at once.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass, field

from aura.errors import AuraError
from aura.stream import AssistantResponse, ContextConfig, Silence, StreamContext, VideoChunk


@dataclass
class StepTimings:
    """What one step cost: tokens prefilled vs reused from the cache, and times in seconds."""

    prefill_tokens: int = 0
    reused_tokens: int = 0
    ttft_s: float = 0.0
    decode_s: float = 0.0
    total_s: float = 0.0
    generated_tokens: int = 0
    cache_rebuilt: bool = False


@dataclass
class StepResult:
    """The outcome of one chunk: silence, or a response text (possibly cut short by a cancel)."""

    chunk_index: int
    silent: bool
    text: str = ""
    cancelled: bool = False
    timings: StepTimings = field(default_factory=StepTimings)
    silence_margin: float | None = None
    """First-token logit of silence (``<|silent|>`` or end of turn) minus the best other token's,
    before any silence bias; positive means the model chose silence. ``None`` where a backend
    does not see logits."""


class StepGeneration(abc.ABC):
    """An in-flight step: iterate for text pieces; ``finish()`` records the reply and returns the result.

    Closing early (``cancel()``) keeps what was already said as the reply; nothing said is silence.
    """

    @abc.abstractmethod
    def __iter__(self) -> Iterator[str]: ...

    @abc.abstractmethod
    def cancel(self) -> None:
        """Stop decoding now; the text so far becomes the recorded reply."""

    @abc.abstractmethod
    def finish(self) -> StepResult:
        """Drain any remaining pieces (unless cancelled), record the reply, return the result."""


class StreamingModel(abc.ABC):
    """A model that watches a stream one chunk at a time and answers or stays silent."""

    context: StreamContext

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """A short name for reports (backend and checkpoint)."""

    @property
    def context_config(self) -> ContextConfig:
        """The windowing configuration this model's context uses."""
        return self.context.config

    @abc.abstractmethod
    def reset(self) -> None:
        """Start a new stream: empty context and cache."""

    @abc.abstractmethod
    def begin_step(self, chunk: VideoChunk, question: str | None = None) -> StepGeneration:
        """Add one chunk (and a question asked during it) and start deciding the reply."""

    def record_reply(self, chunk: VideoChunk, text: str) -> None:
        """Close ``chunk``'s turn with ``text``, or with silence when it is empty.

        A reply the context refuses (say, it answers no open question) is kept out of the
        context as silence: the model did say it, but no later step should build on it.
        """
        if text:
            try:
                self.context.feed(AssistantResponse(text, chunk.end))
                return
            except AuraError:
                pass  # the context changed nothing
        self.context.feed(Silence(chunk.end))

    def step(self, chunk: VideoChunk, question: str | None = None) -> StepResult:
        """Run one whole step: silence, or the full response."""
        gen = self.begin_step(chunk, question)
        for _ in gen:
            pass
        return gen.finish()
