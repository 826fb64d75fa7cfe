"""aura-nano as a ``StreamingModel``: one chunk per step, prefix KV-cache reuse, silence first.

Each step renders the stream context, prefills only the messages appended since the cached
prefix (or rebuilds the cache once after a floating-window eviction), then decodes. The first
generated token decides: ``<|silent|>`` or end-of-turn means silence and decoding stops at once.
After the step the cache is cropped back to the end of the user turn, so the next step prefills
the reply exactly as the chat format encodes it: cached and from-scratch encodings are identical.

``silence_bias`` is added to the first token's silence logits (``<|silent|>`` and end of turn):
the Silent-Speech Balanced Loss trains silence at weight 1/N_silent, which shifts the model's
odds towards speaking; a positive bias, calibrated on validation streams (``aura eval
calibrate``), moves them back. A checkpoint's ``generation.json`` holds its calibrated value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np
import torch

from aura.errors import EmptyQuestionError, QuestionTooLongError
from aura.models.base import StepGeneration, StepResult, StepTimings, StreamingModel
from aura.models.hf.chat import EncodedMessage, concat
from aura.models.nano.model import KVCache, NanoVLM, cache_length, crop_cache
from aura.models.nano.pixels import FrameError, encoder_pixels
from aura.models.nano.training import nano_chat_format
from aura.stream import (
    ContextConfig,
    Silence,
    StreamContext,
    UserQuestion,
    VideoChunk,
)
from aura.stream.messages import Message, video_parts

Clock = Callable[[], float]


class NanoStreamingModel(StreamingModel):
    """aura-nano behind the streaming interface (greedy by default; temperature sampling with a seed)."""

    def __init__(
        self,
        model: NanoVLM,
        tokenizer: object,
        config: ContextConfig | None = None,
        *,
        temperature: float = 0.0,
        max_new_tokens: int = 128,
        seed: int = 0,
        silence_bias: float = 0.0,
        clock: Clock = time.perf_counter,
        name: str = "nano",
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.format = nano_chat_format(tokenizer, model.cfg)
        self.temperature = temperature
        self.max_new_tokens = max_new_tokens
        self.seed = seed
        self.silence_bias = float(silence_bias)
        self.clock = clock
        self._name = name
        self._config = config or ContextConfig()
        self.reset()

    @property
    def name(self) -> str:
        return self._name

    def reset(self) -> None:
        """Start a new stream: empty context, cache and pixel store."""
        self.context = StreamContext(self._config)
        self._cache: KVCache | None = None
        self._cached_messages = 0
        self._visual: dict[int, torch.Tensor] = {}  # chunk index -> its visual tokens (computed once)
        self._previous: torch.Tensor | None = None  # the last chunk's pixels (context frames for the next)
        self._generator = torch.Generator().manual_seed(self.seed)

    # ------------------------------------------------------------------ encoding
    def _grid(self, part: dict) -> tuple[int, int, int]:
        return self.model.cfg.token_grid

    def encode(self, messages: list[Message]) -> list[EncodedMessage]:
        """Per-message encodings of rendered messages (the same ones training uses)."""
        return self.format.encode_messages(messages, self._grid)

    def visual_for(self, encoded: list[EncodedMessage]) -> torch.Tensor | None:
        """The visual tokens of the chunks whose placeholders appear in ``encoded``, in order."""
        chunks = [c for e in encoded for c in e.video_chunks]
        if not chunks:
            return None
        return torch.cat([self._visual[c] for c in chunks])

    # ------------------------------------------------------------------ stepping
    def begin_step(self, chunk: VideoChunk, question: str | None = None) -> StepGeneration:
        """Add a chunk (and a question) to the context, prefill, and return the decoding generator."""
        frames = chunk.frames
        if not isinstance(frames, np.ndarray):
            raise FrameError(f"chunk {chunk.index} has no frames (expected a uint8 (F, H, W, 3) array)")
        pixels = encoder_pixels(frames, self.model.cfg, self._previous)
        current = pixels[3 * self.model.cfg.context_frames :]
        if question is not None:
            text = question.strip()
            if not text:
                raise EmptyQuestionError(f"question at chunk {chunk.index} is empty")
            if len(text) > self._config.max_question_chars:
                raise QuestionTooLongError(
                    f"question has {len(text)} characters (limit {self._config.max_question_chars})"
                )
            self.format._check_text(text, "user")  # reserved chat tokens would break every later step
        self.context.feed(chunk)
        self._previous = current
        if question is not None:
            self.context.feed(UserQuestion(question, chunk.start))
        with torch.inference_mode():
            self._visual[chunk.index] = self.model.encode_chunks(pixels[None])
        try:
            return self._prefill(chunk)
        except Exception:
            self._cache, self._cached_messages = None, 0  # the next step rebuilds from scratch
            self.context.feed(Silence(chunk.end))
            raise

    def _prefill(self, chunk: VideoChunk) -> NanoStep:
        start = self.clock()
        rendered = self.context.render()
        messages = rendered.messages
        live = {p["chunk"] for m in messages for p in video_parts(m)}
        for idx in [i for i in self._visual if i not in live]:
            del self._visual[idx]  # chunks that left the window: bounded store
        rebuild = rendered.evicted or self._cache is None or rendered.stable_prefix < self._cached_messages
        if rebuild:
            self._cache, self._cached_messages = None, 0
        new = self.encode(messages[self._cached_messages :])
        ids, _ = concat(new)
        ids = ids + self.format.generation_prompt()
        reused = cache_length(self._cache)
        with torch.inference_mode():
            logits, cache = self.model(torch.tensor([ids]), None, self._cache, visual=self.visual_for(new))
        prompt_end = reused + len(ids) - len(self.format.generation_prompt())
        self._cache = cache
        self._cached_messages = len(messages)
        timings = StepTimings(prefill_tokens=len(ids), reused_tokens=reused, cache_rebuilt=rebuild)
        return NanoStep(self, chunk, logits[0, -1], prompt_end, start, timings)

    def _pick(self, logits: torch.Tensor) -> int:
        if self.temperature <= 0:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits.float() / self.temperature, dim=-1)
        return int(torch.multinomial(probs, 1, generator=self._generator))

    def _record(self, chunk: VideoChunk, text: str, prompt_end: int) -> None:
        assert self._cache is not None
        self._cache = crop_cache(self._cache, prompt_end)
        self.record_reply(chunk, text)


class NanoStep(StepGeneration):
    """One in-flight nano step: yields text pieces; the first token decides silence."""

    def __init__(
        self, owner: NanoStreamingModel, chunk: VideoChunk, first_logits: torch.Tensor, prompt_end: int,
        start: float, timings: StepTimings,
    ) -> None:
        self.owner = owner
        self.chunk = chunk
        self.prompt_end = prompt_end
        self.start = start
        self.timings = timings
        self._first_logits = first_logits
        self._ids: list[int] = []
        self._text = ""
        self._done = False
        self._cancelled = False
        self._silent = False
        self._margin: float | None = None
        self._result: StepResult | None = None
        self._iter = self._run()

    def __iter__(self) -> Iterator[str]:
        return self._iter

    def _run(self) -> Iterator[str]:
        owner, fmt = self.owner, self.owner.format
        first = self._first_logits.float().clone()
        quiet = torch.tensor([fmt.silent_token_id, fmt.end_of_turn_id])
        others = first.clone()
        others[quiet] = float("-inf")
        self._margin = float(first[quiet].max() - others.max())
        first[quiet] += owner.silence_bias
        token = owner._pick(first)
        self.timings.ttft_s = owner.clock() - self.start
        if token in (fmt.silent_token_id, fmt.end_of_turn_id):
            self._silent, self._done = True, True
            return
        decode_start = owner.clock()
        cache = owner._cache
        stops = {fmt.end_of_turn_id, fmt.silent_token_id, owner.tokenizer.pad_token_id}
        while not self._cancelled:
            self._ids.append(token)
            text = owner.tokenizer.decode(self._ids, skip_special_tokens=True)
            if not text.endswith("\ufffd") and len(text) > len(self._text):
                piece, self._text = text[len(self._text) :], text
                yield piece
            if len(self._ids) >= owner.max_new_tokens or self._cancelled:
                break
            with torch.inference_mode():
                logits, cache = owner.model(torch.tensor([[token]]), None, cache)
            token = owner._pick(logits[0, -1])
            if token in stops:
                break
        owner._cache = cache
        self.timings.decode_s = owner.clock() - decode_start
        self._done = True

    def cancel(self) -> None:
        """Stop decoding; what was already yielded becomes the reply."""
        self._cancelled = True

    def finish(self) -> StepResult:
        """Drain (unless cancelled), record the reply in the context, and return the result."""
        if self._result is not None:
            return self._result
        if not self._cancelled:
            for _ in self._iter:
                pass
        text = self._text.strip()
        self.owner._record(self.chunk, text, self.prompt_end)
        self.timings.generated_tokens = len(self._ids) + (1 if self._silent else 0)
        self.timings.total_s = self.owner.clock() - self.start
        self._result = StepResult(
            chunk_index=self.chunk.index,
            silent=not text,
            text=text,
            cancelled=self._cancelled,
            timings=self.timings,
            silence_margin=self._margin,
        )
        return self._result
