"""The ``openai`` backend: a client of an OpenAI-compatible server (``vllm serve aurateam/AURA``, ``aura serve``).

Each step renders the stream context and sends it as one chat-completions request: video
chunks become ``video_url`` parts carrying base64 H.264 mp4 data URIs of the 1-second chunk
(the format AURA's released evaluation code sends). The server's prefix cache does the reuse.
The reply streams back token by token; ``<|silent|>`` (or an empty reply) means silence.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from aura.errors import AuraError, EmptyQuestionError, QuestionTooLongError
from aura.models.base import StepGeneration, StepResult, StepTimings, StreamingModel
from aura.stream import ContextConfig, Silence, StreamContext, UserQuestion, VideoChunk
from aura.stream.config import SILENT_TOKEN
from aura.stream.messages import Message, video_parts

Clock = Callable[[], float]


class BackendError(AuraError):
    """The remote model server cannot be reached or answered with an error."""


def chunk_data_uri(frames: Any, fps: float) -> str:
    """A ``data:video/mp4;base64,...`` URI of one chunk's uint8 (F, H, W, 3) frames (H.264)."""
    from aura.models.hf.preprocess import check_frames
    from aura.video.encode import encode_mp4_bytes

    arr = check_frames(frames)
    return "data:video/mp4;base64," + base64.b64encode(encode_mp4_bytes(list(arr), fps)).decode("ascii")


def to_openai_messages(messages: list[Message], uris: dict[int, str]) -> list[dict]:
    """Rendered messages in the OpenAI chat format, video parts as ``video_url`` data URIs."""
    out = []
    for m in messages:
        content = m["content"]
        if isinstance(content, list):
            parts = []
            for p in content:
                if p.get("type") == "video":
                    parts.append({"type": "video_url", "video_url": {"url": uris[p["chunk"]]}})
                elif p.get("type") == "text":
                    parts.append({"type": "text", "text": p["text"]})
            out.append({"role": m["role"], "content": parts})
        else:
            out.append({"role": m["role"], "content": content})
    return out


def parse_spec(spec: str) -> tuple[str, str | None]:
    """``http://host:port/v1#model`` -> (base URL, model name or None)."""
    url, _, model = spec.partition("#")
    if not url.startswith(("http://", "https://")):
        raise BackendError(f"openai backend needs an http(s) URL, got {url!r}")
    return url.rstrip("/"), model or None


class OpenAIStreamingModel(StreamingModel):
    """A remote model behind an OpenAI-compatible chat-completions endpoint."""

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        config: ContextConfig | None = None,
        *,
        api_key: str | None = None,
        temperature: float = 0.0,
        max_new_tokens: int = 128,
        timeout_s: float = 60.0,
        client: Any = None,
        clock: Clock = time.perf_counter,
    ) -> None:
        import openai

        self.base_url = base_url
        self.model = model
        self._config = config or ContextConfig()
        self.temperature = temperature
        self.max_new_tokens = max_new_tokens
        self.clock = clock
        self.client = client or openai.OpenAI(
            base_url=base_url, api_key=api_key or "EMPTY", timeout=timeout_s, max_retries=0
        )
        self.reset()

    @property
    def name(self) -> str:
        return f"openai:{self.base_url}#{self.model or ''}"

    def reset(self) -> None:
        """Start a new stream (the server's prefix cache simply stops matching)."""
        self.context = StreamContext(self._config)
        self.uris: dict[int, str] = {}

    def _model_name(self) -> str:
        if self.model is None:
            try:
                models = self.client.models.list()
                self.model = models.data[0].id
            except Exception as exc:
                raise BackendError(f"cannot list models at {self.base_url}: {_first_line(exc)}") from None
        return self.model

    def begin_step(self, chunk: VideoChunk, question: str | None = None) -> StepGeneration:
        """Add the chunk (and question), send the rendered context, return the streaming reply."""
        start = self.clock()
        try:
            uri = chunk_data_uri(chunk.frames, self._config.fps)
        except AuraError as exc:
            raise type(exc)(f"chunk {chunk.index}: {exc}") from None
        if question is not None:
            text = question.strip()
            if not text:
                raise EmptyQuestionError("the question is empty")
            if len(text) > self._config.max_question_chars:
                raise QuestionTooLongError(
                    f"question has {len(text)} characters (limit {self._config.max_question_chars})"
                )
        self.context.feed(chunk)
        try:
            if question is not None:
                self.context.feed(UserQuestion(question, chunk.start))
            self.uris[chunk.index] = uri
            rendered = self.context.render()
            live = {p["chunk"] for m in rendered.messages for p in video_parts(m)}
            for idx in [i for i in self.uris if i not in live]:
                del self.uris[idx]
            stream = self.client.chat.completions.create(
                model=self._model_name(),
                messages=to_openai_messages(rendered.messages, self.uris),
                stream=True,
                stream_options={"include_usage": True},
                temperature=self.temperature,
                max_tokens=self.max_new_tokens,
            )
        except AuraError:
            self.context.feed(Silence(chunk.end))
            raise
        except Exception as exc:
            self.context.feed(Silence(chunk.end))
            raise BackendError(f"request to {self.base_url} failed: {_first_line(exc)}") from None
        return OpenAIStep(self, chunk, stream, start, rendered.evicted)

    def _record(self, chunk: VideoChunk, text: str) -> None:
        self.record_reply(chunk, text)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class OpenAIStep(StepGeneration):
    """One streamed reply; text that could still become ``<|silent|>`` is held back until it cannot."""

    def __init__(self, owner: OpenAIStreamingModel, chunk: VideoChunk, stream: Any, start: float,
                 evicted: bool) -> None:
        self.owner = owner
        self.chunk = chunk
        self.stream = stream
        self.start = start
        self.timings = StepTimings(cache_rebuilt=evicted)
        self.raw = ""
        self.text = ""
        self.cancelled = False
        self.silent = False
        self._result: StepResult | None = None
        self._iter = self._run()

    def __iter__(self) -> Iterator[str]:
        return self._iter

    def _run(self) -> Iterator[str]:
        first = True
        decode_start = 0.0
        try:
            for event in self.stream:
                usage = getattr(event, "usage", None)
                if usage is not None:
                    cached = getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", None) or 0
                    self.timings.reused_tokens = int(cached)
                    self.timings.prefill_tokens = int(usage.prompt_tokens) - int(cached)
                    self.timings.generated_tokens = int(usage.completion_tokens or 0)
                if not event.choices:
                    continue
                piece = event.choices[0].delta.content or ""
                if not piece:
                    continue
                if self.silent:
                    break  # more text after the silent token: ignore it, stop reading
                if first:
                    self.timings.ttft_s = self.owner.clock() - self.start
                    decode_start = self.owner.clock()
                    first = False
                self.raw += piece
                stripped = self.raw.lstrip()
                if SILENT_TOKEN.startswith(stripped) or stripped.startswith(SILENT_TOKEN):
                    if stripped.startswith(SILENT_TOKEN):
                        self.silent = True  # keep reading only for the trailing usage event
                    continue  # could still be the silent token: hold it back
                new = self.raw[len(self.text):]
                self.text = self.raw
                yield new
                if self.cancelled:
                    break
        except Exception as exc:
            raise BackendError(f"stream from {self.owner.base_url} failed: {_first_line(exc)}") from None
        finally:
            if first:
                self.timings.ttft_s = self.owner.clock() - self.start
            elif decode_start:
                self.timings.decode_s = self.owner.clock() - decode_start
            close = getattr(self.stream, "close", None)
            if close is not None:
                close()

    def cancel(self) -> None:
        """Stop reading the stream; what was said is the reply."""
        self.cancelled = True

    def finish(self) -> StepResult:
        """Drain (unless cancelled), record the reply, return the result."""
        if self._result is not None:
            return self._result
        try:
            if not self.cancelled:
                for _ in self._iter:
                    pass
        finally:
            self._iter.close()
            text = "" if self.silent else self.text.strip()
            if text == SILENT_TOKEN:
                text = ""
            self.owner._record(self.chunk, text)
        self.timings.total_s = self.owner.clock() - self.start
        self._result = StepResult(self.chunk.index, silent=not text, text=text, cancelled=self.cancelled,
                                  timings=self.timings)
        return self._result


def frames_roundtrip(frames: np.ndarray, fps: float) -> np.ndarray:
    """The frames a server decodes from this backend's data URI (H.264 is lossy): for comparisons."""
    from aura.video.encode import decode_mp4_bytes, encode_mp4_bytes

    return decode_mp4_bytes(encode_mp4_bytes(list(frames), fps))
