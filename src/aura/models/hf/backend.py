"""The ``hf`` streaming backend: a transformers Qwen3-VL / Qwen2.5-VL checkpoint behind ``StreamingModel``.

Each step feeds the chunk (and question) to the stream context, renders it, and lets the
prefix-cached engine reuse the KV cache of every message the render reports stable, prefilling
only the new turn (or rebuilding once after a floating-window eviction). The first generated
token decides silence. The reply (or what was said before a cancel) is recorded in the context.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from aura.errors import EmptyQuestionError, QuestionTooLongError
from aura.models.base import StepGeneration, StepResult, StepTimings, StreamingModel
from aura.models.hf.chat import strip_reserved
from aura.models.hf.engine import ChunkPixels, HFEngine, chunk_pixels
from aura.models.hf.generate import Clock, Decoder, Sampler
from aura.models.hf.loader import LoadedCheckpoint, load_checkpoint
from aura.models.hf.preprocess import FrameError
from aura.stream import ContextConfig, Silence, StreamContext, UserQuestion, VideoChunk
from aura.stream.messages import video_parts


class HFStreamingModel(StreamingModel):
    """A local transformers VLM that watches a stream one chunk at a time."""

    def __init__(
        self,
        loaded: LoadedCheckpoint,
        config: ContextConfig | None = None,
        *,
        temperature: float = 0.0,
        max_new_tokens: int = 128,
        seed: int = 0,
        clock: Clock = time.perf_counter,
    ) -> None:
        self.loaded = loaded
        self._config = config or ContextConfig()
        self.engine = HFEngine(loaded.model, loaded.tokenizer, loaded.style, loaded.spec, fps=self._config.fps)
        self.temperature = temperature
        self.max_new_tokens = max_new_tokens
        self.seed = seed
        self.clock = clock
        self.reset()

    @classmethod
    def from_pretrained(cls, path: str | Path, config: ContextConfig | None = None, *, dtype: str = "float32",
                        max_pixels: int | None = None, device: str = "cpu", **kwargs: object) -> HFStreamingModel:
        """Load a local checkpoint directory (never downloads) onto ``device`` and wrap it."""
        loaded = load_checkpoint(path, dtype=dtype, max_pixels=max_pixels, device=device)
        return cls(loaded, config, **kwargs)  # type: ignore[arg-type]

    @property
    def name(self) -> str:
        return f"hf:{self.loaded.path}"

    def reset(self) -> None:
        """Start a new stream: empty context, cache and frame store."""
        self.context = StreamContext(self._config)
        self.engine.reset()
        self.pixels: dict[int, ChunkPixels] = {}
        self.sampler = Sampler(self.temperature, self.seed)

    def _check_question(self, question: str | None) -> None:
        if question is None:
            return
        text = question.strip()
        if not text:
            raise EmptyQuestionError("the question is empty")
        if len(text) > self._config.max_question_chars:
            raise QuestionTooLongError(f"question has {len(text)} characters (limit {self._config.max_question_chars})")
        self.engine.format._check_text(text, "user")

    def begin_step(self, chunk: VideoChunk, question: str | None = None) -> StepGeneration:
        """Add the chunk (and question), prefill the new turn on the cached prefix, return the decoder."""
        start = self.clock()
        if chunk.frames is None:
            raise FrameError(f"chunk {chunk.index} has no frames")
        try:
            pixels = chunk_pixels(chunk.frames, self.engine.spec)
        except FrameError as exc:
            raise FrameError(f"chunk {chunk.index}: {exc}") from None
        self._check_question(question)
        self.context.feed(chunk)  # a StreamError here changes nothing
        try:
            if question is not None:
                self.context.feed(UserQuestion(question, chunk.start))
            self.pixels[chunk.index] = pixels
            rendered = self.context.render()
            live = {p["chunk"] for m in rendered.messages for p in video_parts(m)}
            for idx in [i for i in self.pixels if i not in live]:
                del self.pixels[idx]  # chunks that left the window: the store stays bounded
            pre = self.engine.prefill(rendered.messages, self.pixels, keep=rendered.stable_prefix)
        except BaseException:
            self.engine.reset()
            self.context.feed(Silence(chunk.end))  # close the turn: the session stays usable
            raise
        timings = StepTimings(
            prefill_tokens=pre.prefill_tokens,
            reused_tokens=pre.reused_tokens,
            cache_rebuilt=pre.rebuilt or rendered.evicted,
        )
        decoder = Decoder(self.engine, pre.logits, self.sampler, self.max_new_tokens, self.clock, start)
        return HFStep(self, chunk, decoder, timings, start)

    def _record(self, chunk: VideoChunk, text: str) -> None:
        self.record_reply(chunk, strip_reserved(text))


class HFStep(StepGeneration):
    """One in-flight step: iterate text pieces; ``finish()`` records the reply."""

    def __init__(self, owner: HFStreamingModel, chunk: VideoChunk, decoder: Decoder, timings: StepTimings,
                 start: float) -> None:
        self.owner = owner
        self.chunk = chunk
        self.decoder = decoder
        self.timings = timings
        self.start = start
        self._result: StepResult | None = None

    def __iter__(self) -> Iterator[str]:
        return iter(self.decoder)

    def cancel(self) -> None:
        """Stop decoding now; the text so far becomes the recorded reply."""
        self.decoder.cancel()

    def finish(self) -> StepResult:
        """Drain (unless cancelled), record the reply in the context, return the result."""
        if self._result is not None:
            return self._result
        d = self.decoder
        try:
            d.drain()
        finally:
            text = strip_reserved(d.text)
            self.owner._record(self.chunk, text)
        t = self.timings
        t.ttft_s, t.decode_s = d.ttft_s, d.decode_s
        t.generated_tokens = len(d.ids) + (1 if d.silent else 0)
        t.total_s = self.owner.clock() - self.start
        self._result = StepResult(self.chunk.index, silent=not text, text=text, cancelled=d.cancelled, timings=t)
        return self._result
