"""A prefix-cached Qwen-VL engine: prefill only what follows the cached message prefix, then decode.

The engine keeps one KV cache for one conversation. ``prefill(messages, ...)`` finds how many
leading messages equal the cached ones, crops the cache to the end of that prefix, and runs
the model on the remaining messages plus the generation prompt. Multimodal rotary positions
are computed per message with the model's own ``get_rope_index`` and offset by the position
after the prefix (transformers falls back to text positions once a cache is present, so the
engine always passes ``position_ids`` itself). Every message ends in text tokens, so the
position after a message is its last position + 1, exactly as in a from-scratch forward.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from aura.errors import AuraError
from aura.models.hf.chat import ChatFormat, EncodedMessage, Style
from aura.models.hf.preprocess import PatchSpec, preprocess_frames
from aura.stream.messages import Message

ChunkPixels = tuple[torch.Tensor, tuple[int, int, int]]


class MissingFramesError(AuraError):
    """A message names a video chunk whose frames the engine was not given."""


@dataclass
class Prefill:
    """The outcome of a prefill: next-token logits and what it cost."""

    logits: torch.Tensor  # (vocab,) after the generation prompt
    new_logits: torch.Tensor | None  # (new tokens, vocab) when requested
    prefill_tokens: int
    reused_tokens: int
    rebuilt: bool


def chunk_pixels(frames: np.ndarray, spec: PatchSpec) -> ChunkPixels:
    """Preprocess one chunk's uint8 (F, H, W, 3) frames into the vision tower's patches and grid."""
    pv, grid = preprocess_frames(frames, spec)
    return torch.from_numpy(pv), grid


class HFEngine:
    """One conversation's KV cache over a Qwen3-VL / Qwen2.5-VL model (not thread-safe)."""

    def __init__(self, model: Any, tokenizer: Any, style: Style, spec: PatchSpec, *, fps: float = 2.0) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.style = style
        self.spec = spec
        self.fps = fps
        self.format = ChatFormat.from_tokenizer(
            tokenizer, style, spec.merge_size, temporal_patch_size=spec.temporal_patch_size, fps=fps
        )
        self.reset()

    @property
    def device(self) -> torch.device:
        """Where the model's weights (and so every input) live."""
        return next(self.model.parameters()).device

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget the cached conversation."""
        self.cache: Any = None
        self._features: dict[int, tuple[torch.Tensor, list[torch.Tensor]]] = {}  # chunk -> vision tower output
        self.messages: list[Message] = []
        self._ends: list[tuple[int, int]] = []  # per cached message: (tokens so far, next position)
        self._gen_pos = 0

    @property
    def cached_tokens(self) -> int:
        """Tokens of the cached message prefix (not counting a generation in progress)."""
        return self._ends[-1][0] if self._ends else 0

    def common_prefix(self, messages: Sequence[Message]) -> int:
        """How many leading ``messages`` equal the cached ones."""
        n = 0
        for old, new in zip(self.messages, messages, strict=False):
            if old != new:
                break
            n += 1
        return n

    def _crop(self, tokens: int) -> None:
        if self.cache is None:
            return
        extra = self.cache.get_seq_length() - tokens
        if extra > 0:
            self.cache.crop(-extra)

    # ------------------------------------------------------------------ encoding
    def encode(self, messages: Sequence[Message], pixels: Mapping[int, ChunkPixels]) -> list[EncodedMessage]:
        """Per-message encodings, with each video's grid taken from ``pixels``."""

        def grid(part: dict) -> tuple[int, int, int]:
            item = pixels.get(part.get("chunk"))  # type: ignore[arg-type]
            if item is None:
                raise MissingFramesError(f"video chunk {part.get('chunk')} has no frames")
            return item[1]

        return self.format.encode_messages(messages, grid)

    def _positions(self, enc: EncodedMessage) -> torch.Tensor:
        """Rotary positions (3, L) of one message, starting at 0."""
        n = len(enc.input_ids)
        if not enc.video_grids:
            return torch.arange(n).view(1, -1).expand(3, -1)
        kwargs: dict[str, Any] = {
            "input_ids": torch.tensor([enc.input_ids]),
            "mm_token_type_ids": torch.tensor([enc.mm_token_type_ids]),
            "video_grid_thw": torch.tensor(enc.video_grids),
        }
        if self.style == "qwen2_5_vl":
            kwargs["second_per_grid_ts"] = self.second_per_grid(len(enc.video_grids))
        pos, _ = self.model.model.get_rope_index(**kwargs)
        return pos[:, 0]

    def second_per_grid(self, n: int) -> torch.Tensor:
        """Seconds per temporal patch of each video (Qwen2.5-VL's temporal rotary spacing)."""
        return torch.full((n,), self.spec.temporal_patch_size / self.fps)

    def _vision_inputs(self, encoded: Sequence[EncodedMessage], pixels: Mapping[int, ChunkPixels]) -> dict[str, Any]:
        """Vision-tower outputs for the videos in ``encoded``, each chunk encoded once while it stays live.

        The tower encodes every video on its own (attention never crosses videos), so a chunk's
        features do not depend on which other chunks share the batch: cached features are exact.
        """
        for key in [k for k in self._features if k not in pixels]:
            del self._features[key]  # chunks that left the conversation: the store stays bounded
        chunks = [c for e in encoded for c in e.video_chunks]
        if not chunks:
            return {}
        missing = list(dict.fromkeys(c for c in chunks if c not in self._features))
        if missing:
            with torch.inference_mode():
                out = self.model.model.get_video_features(
                    pixel_values_videos=torch.cat([pixels[c][0] for c in missing]).to(self.device),
                    video_grid_thw=torch.tensor([pixels[c][1] for c in missing], device=self.device),
                )
            deep = getattr(out, "deepstack_features", None) or []
            for i, c in enumerate(missing):
                self._features[c] = (out.pooler_output[i], [layer[i] for layer in deep])
            self._output_type = type(out)
        pooled = tuple(self._features[c][0] for c in chunks)
        fields: dict[str, Any] = {"pooler_output": pooled}
        if self._features[chunks[0]][1]:
            layers = len(self._features[chunks[0]][1])
            fields["deepstack_features"] = [tuple(self._features[c][1][i] for c in chunks) for i in range(layers)]
        out: dict[str, Any] = {
            "mm_encoder_outputs": {"video": self._output_type(**fields)},
            "video_grid_thw": torch.tensor([pixels[c][1] for c in chunks], device=self.device),
        }
        if self.style == "qwen2_5_vl":
            out["second_per_grid_ts"] = self.second_per_grid(len(chunks)).to(self.device)
        return out

    def model_inputs(self, encoded: Sequence[EncodedMessage], pixels: Mapping[int, ChunkPixels]) -> dict[str, Any]:
        """Pixel inputs of the videos in ``encoded`` (empty when there are none)."""
        chunks = [c for e in encoded for c in e.video_chunks]
        if not chunks:
            return {}
        out: dict[str, Any] = {
            "pixel_values_videos": torch.cat([pixels[c][0] for c in chunks]).to(self.device),
            "video_grid_thw": torch.tensor([pixels[c][1] for c in chunks], device=self.device),
        }
        if self.style == "qwen2_5_vl":
            out["second_per_grid_ts"] = self.second_per_grid(len(chunks)).to(self.device)
        return out

    # ------------------------------------------------------------------ running
    def prefill(
        self,
        messages: Sequence[Message],
        pixels: Mapping[int, ChunkPixels],
        *,
        keep: int | None = None,
        new_logits: bool = False,
    ) -> Prefill:
        """Reuse the cached prefix (at most ``keep`` messages), prefill the rest + generation prompt.

        On any error the cache is dropped, so the next call rebuilds from scratch.
        """
        try:
            return self._prefill(list(messages), pixels, keep, new_logits)
        except BaseException:
            self.reset()
            raise

    def _prefill(self, messages: list[Message], pixels: Mapping[int, ChunkPixels], keep: int | None,
                 want_new: bool) -> Prefill:
        k = self.common_prefix(messages)
        if keep is not None:
            k = min(k, keep)
        rebuilt = k < len(self.messages)
        new = messages[k:]
        encoded = self.encode(new, pixels)
        if k == 0:
            self.cache, tokens, pos = None, 0, 0
        else:
            tokens, pos = self._ends[k - 1]
            self._crop(tokens)
        reused = tokens
        ids: list[int] = []
        types: list[int] = []
        positions: list[torch.Tensor] = []
        ends = list(self._ends[:k])
        for enc in encoded:
            rel = self._positions(enc)
            positions.append(rel + pos)
            pos = pos + int(rel[0, -1]) + 1
            ids.extend(enc.input_ids)
            types.extend(enc.mm_token_type_ids)
            tokens += len(enc.input_ids)
            ends.append((tokens, pos))
        gen = self.format.generation_prompt()
        positions.append(torch.arange(len(gen)).view(1, -1).expand(3, -1) + pos)
        ids.extend(gen)
        types.extend([0] * len(gen))
        position_ids = torch.cat(positions, dim=1).unsqueeze(1).to(self.device)  # (3, 1, L)
        with torch.inference_mode():
            out = self.model(
                input_ids=torch.tensor([ids], device=self.device),
                mm_token_type_ids=torch.tensor([types], device=self.device),
                position_ids=position_ids,
                past_key_values=self.cache,
                use_cache=True,
                logits_to_keep=0 if want_new else 1,
                **self._vision_inputs(encoded, pixels),
            )
        self.cache = out.past_key_values
        self.messages = messages
        self._ends = ends
        self._gen_pos = pos + len(gen)
        logits = out.logits[0]
        return Prefill(
            logits=logits[-1].float(),
            new_logits=logits.float() if want_new else None,
            prefill_tokens=len(ids),
            reused_tokens=reused,
            rebuilt=rebuilt,
        )

    def advance(self, token: int) -> torch.Tensor:
        """Feed one generated token; return the next-token logits."""
        try:
            pos = torch.full((3, 1, 1), self._gen_pos, device=self.device)
            with torch.inference_mode():
                out = self.model(
                    input_ids=torch.tensor([[token]], device=self.device),
                    position_ids=pos,
                    past_key_values=self.cache,
                    use_cache=True,
                )
            self.cache = out.past_key_values
            self._gen_pos += 1
            return out.logits[0, -1].float()
        except BaseException:
            self.reset()
            raise

    def end_generation(self) -> None:
        """Drop the generation prompt and generated tokens from the cache (the reply is re-encoded later)."""
        self._crop(self.cached_tokens)

    def forward_from_scratch(self, messages: Sequence[Message], pixels: Mapping[int, ChunkPixels]) -> torch.Tensor:
        """Logits (L, vocab) of one full forward of ``messages`` + generation prompt, no cache.

        The reference the cached path must equal; the model computes its own positions here.
        """
        encoded = self.encode(messages, pixels)
        ids = [t for e in encoded for t in e.input_ids] + self.format.generation_prompt()
        types = [t for e in encoded for t in e.mm_token_type_ids] + [0] * len(self.format.generation_prompt())
        with torch.inference_mode():
            out = self.model(
                input_ids=torch.tensor([ids], device=self.device),
                mm_token_type_ids=torch.tensor([types], device=self.device),
                use_cache=False,
                **self.model_inputs(encoded, pixels),
            )
        return out.logits[0].float()
