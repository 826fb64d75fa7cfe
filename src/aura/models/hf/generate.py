"""Token-by-token decoding on an ``HFEngine`` after a prefill: silence decided by the first token."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from aura.models.hf.engine import HFEngine

Clock = Callable[[], float]


class Sampler:
    """Greedy (temperature 0) or temperature sampling with its own seeded generator."""

    def __init__(self, temperature: float = 0.0, seed: int = 0) -> None:
        if temperature < 0:
            raise ValueError("temperature must be >= 0")
        self.temperature = temperature
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, logits: torch.Tensor) -> int:
        """Pick the next token id from next-token logits."""
        if self.temperature <= 0:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits.float() / self.temperature, dim=-1)
        return int(torch.multinomial(probs, 1, generator=self.generator))


class Decoder:
    """Iterate text pieces of one reply; ``silent`` when the first token is ``<|silent|>`` or end-of-turn.

    Stops at end-of-turn, at ``<|silent|>``/padding, after ``max_new_tokens``, or at ``cancel()``;
    the text decoded so far is kept. The engine's cache is cropped back to the prompt when done.
    """

    def __init__(self, engine: HFEngine, first_logits: torch.Tensor, sampler: Sampler, max_new_tokens: int,
                 clock: Clock, start: float) -> None:
        self.engine = engine
        self.sampler = sampler
        self.max_new_tokens = max_new_tokens
        self.clock = clock
        self.start = start
        self.ids: list[int] = []
        self.text = ""
        self.silent = False
        self.cancelled = False
        self.done = False
        self.ttft_s = 0.0
        self.decode_s = 0.0
        self.finish_reason = "stop"
        fmt = engine.format
        self.first_logits = first_logits
        self._first = sampler(first_logits)  # the first token decides silence, right after the prefill
        self.ttft_s = clock() - start
        self.silent = self._first in (fmt.silent_token_id, fmt.end_of_turn_id)
        self._iter = self._run()

    def __iter__(self) -> Iterator[str]:
        return self._iter

    def cancel(self) -> None:
        """Stop before the next token; what was said stays said."""
        self.cancelled = True

    def drain(self) -> None:
        """Run to the end (unless cancelled)."""
        if not self.cancelled:
            for _ in self._iter:
                pass
        self._close()

    def _close(self) -> None:
        if not self.done:
            self.done = True
            self.engine.end_generation()

    def _run(self) -> Iterator[str]:
        fmt, tok = self.engine.format, self.engine.tokenizer
        token = self._first
        try:
            if self.silent:
                return
            if self.max_new_tokens <= 0:
                self.finish_reason = "length"
                return
            stops = {fmt.end_of_turn_id, fmt.silent_token_id, tok.pad_token_id, tok.eos_token_id}
            decode_start = self.clock()
            while not self.cancelled:
                self.ids.append(token)
                text = tok.decode(self.ids, skip_special_tokens=True)
                if not text.endswith("\ufffd") and len(text) > len(self.text):
                    piece, self.text = text[len(self.text):], text
                    yield piece
                if self.cancelled:
                    break
                if len(self.ids) >= self.max_new_tokens:
                    self.finish_reason = "length"
                    break
                logits = self.engine.advance(token)
                token = self.sampler(logits)
                if token in stops:
                    break
            self.decode_s = self.clock() - decode_start
        finally:
            self._close()
