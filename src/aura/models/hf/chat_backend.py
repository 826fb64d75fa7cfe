"""The hf engine as a chat-completions backend (what ``aura serve`` exposes over HTTP).

Stateless from the caller's view: each request brings the whole conversation; the engine still
reuses its KV cache for the longest unchanged message prefix, like vLLM's prefix caching.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aura.models.hf.chat import strip_reserved
from aura.models.hf.engine import ChunkPixels, HFEngine, chunk_pixels
from aura.models.hf.generate import Decoder, Sampler
from aura.models.hf.loader import LoadedCheckpoint, load_checkpoint
from aura.stream.messages import Message


@dataclass
class ChatGeneration:
    """One in-flight completion: iterate text pieces; ``silent`` if the first token was silence."""

    decoder: Decoder
    prompt_tokens: int
    cached_tokens: int
    _pieces: Iterator[str] = field(init=False)

    def __post_init__(self) -> None:
        self._pieces = iter(self.decoder)

    def __iter__(self) -> Iterator[str]:
        return self._pieces

    @property
    def silent(self) -> bool:
        return self.decoder.silent

    @property
    def text(self) -> str:
        """The reply so far, without chat-structure tokens."""
        return strip_reserved(self.decoder.text)

    @property
    def completion_tokens(self) -> int:
        return len(self.decoder.ids) + (1 if self.decoder.silent else 0)

    @property
    def finish_reason(self) -> str:
        return self.decoder.finish_reason

    def cancel(self) -> None:
        """Stop decoding (e.g. the client went away)."""
        self.decoder.cancel()

    def close(self) -> None:
        """Release the engine (crop the cache back to the prompt)."""
        self.decoder.cancel()
        self.decoder.drain()


class HFChatBackend:
    """A local Qwen-VL checkpoint answering chat-completion requests with prefix-cache reuse (not thread-safe)."""

    def __init__(self, loaded: LoadedCheckpoint, *, fps: float = 2.0, name: str | None = None) -> None:
        self.loaded = loaded
        self.engine = HFEngine(loaded.model, loaded.tokenizer, loaded.style, loaded.spec, fps=fps)
        self.name = name or loaded.path.name

    @classmethod
    def from_pretrained(cls, path: str | Path, *, dtype: str = "float32", max_pixels: int | None = None,
                        device: str = "cpu", **kwargs: object) -> HFChatBackend:
        """Load a local checkpoint directory (never downloads) onto ``device``."""
        loaded = load_checkpoint(path, dtype=dtype, max_pixels=max_pixels, device=device)
        return cls(loaded, **kwargs)  # type: ignore[arg-type]

    def prepare_video(self, frames: np.ndarray) -> ChunkPixels:
        """Preprocess one video's uint8 (F, H, W, 3) frames (raises ``FrameError`` on bad frames)."""
        return chunk_pixels(frames, self.engine.spec)

    def generate(self, messages: list[Message], videos: Mapping[int, ChunkPixels], *, temperature: float = 0.0,
                 max_tokens: int = 128, seed: int = 0) -> ChatGeneration:
        """Prefill (reusing the cached prefix) and return the decoding generation."""
        start = time.perf_counter()
        pre = self.engine.prefill(messages, videos)
        decoder = Decoder(self.engine, pre.logits, Sampler(temperature, seed), max_tokens, time.perf_counter, start)
        return ChatGeneration(decoder, pre.prefill_tokens + pre.reused_tokens, pre.reused_tokens)
