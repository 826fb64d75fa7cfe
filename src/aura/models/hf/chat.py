"""Per-message ChatML encoding of rendered stream messages (the one tokenisation for training and inference).

Every message is encoded on its own, so the encoding of a conversation is exactly the
concatenation of its messages' encodings. Training (labels from ``supervised`` spans) and
incremental inference (prefill only the messages appended since the cached prefix) therefore
agree token for token. For text-only messages the result equals the tokenizer's ChatML chat
template; video parts expand into the placeholder layout each model family expects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aura.errors import AuraError
from aura.stream.config import SILENT_TOKEN

Style = Literal["qwen3_vl", "qwen2_5_vl", "plain"]
GridFn = Callable[[dict], tuple[int, int, int]]

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
VISION_START, VISION_END = "<|vision_start|>", "<|vision_end|>"
IMAGE_PAD, VIDEO_PAD = "<|image_pad|>", "<|video_pad|>"
_RESERVED = (IM_START, IM_END, VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD)
CHATML_SPECIAL_TOKENS = ("<|endoftext|>", *_RESERVED)
"""The special tokens of the ChatML layout, in Qwen's id order (``<|silent|>`` comes after them)."""
ROLE_TOKENS = {"system": "<|system|>", "user": "<|user|>", "assistant": "<|assistant|>"}
"""The compact layout's one-token message headers (a tokenizer made for it has them as specials)."""
PAUSE_TOKEN = "<|pause|>"
"""Input-only positions between an assistant header and its reply (``ChatFormat(pauses=K)``)."""

TEXT, IMAGE, VIDEO = 0, 1, 2


def message_header(role: str, *, compact: bool = False, pauses: int = 0) -> str:
    """The text that opens a message of ``role``: ``<|im_start|>ROLE\\n``, or its role token in the
    compact layout; an assistant's then ends with ``pauses`` pause tokens."""
    head = ROLE_TOKENS[role] if compact else f"{IM_START}{role}\n"
    return head + PAUSE_TOKEN * pauses if role == "assistant" else head


def message_text(role: str, body: str, *, compact: bool = False, pauses: int = 0) -> str:
    """One message's whole text in the layout: header, body, ``<|im_end|>`` (and a newline in ChatML)."""
    return message_header(role, compact=compact, pauses=pauses) + body + IM_END + ("" if compact else "\n")


class ChatFormatError(AuraError):
    """A message cannot be encoded (unknown part type, reserved token text, tokenizer lacks a token)."""


@dataclass(frozen=True)
class EncodedMessage:
    """One message's tokens.

    ``mm_token_type_ids`` marks each token as text (0), image (1) or video (2) placeholder, as
    transformers' Qwen-VL ``get_rope_index`` expects. ``supervised`` is the ``[start, end)``
    span of an assistant message's content plus its ``<|im_end|>`` (None for other roles).
    ``video_chunks`` lists the chunk indexes whose frames fill the video placeholders, in order.
    """

    input_ids: list[int]
    mm_token_type_ids: list[int]
    supervised: tuple[int, int] | None
    video_chunks: list[int]
    video_grids: tuple[tuple[int, int, int], ...] = ()

    def __len__(self) -> int:
        return len(self.input_ids)


class ChatFormat:
    """Encodes rendered messages in Qwen's ChatML layout, one message at a time.

    Styles: ``qwen3_vl`` writes ``<t seconds><|vision_start|>`` + pads + ``<|vision_end|>`` per
    temporal patch (timestamps restart in every chunk: each chunk is its own video);
    ``qwen2_5_vl`` and ``plain`` write ``<|vision_start|>`` + pads + ``<|vision_end|>`` per video.

    ``compact`` (style ``plain`` only; aura-nano's ``compact_format``) writes the same messages in
    fewer tokens: a message is its role token (``<|user|>``, ...) + content + ``<|im_end|>``, with
    no ``<|im_start|>ROLE\\n`` header and no newline after it, and a video is its pads alone. A
    silent chunk then costs pads + 5 tokens instead of pads + 13.

    ``pauses`` (K > 0) ends every assistant header with K ``<|pause|>`` tokens: positions that are
    input, never supervised, where a model can compute before the reply's first token decides
    speech or silence (pause tokens, Goyal et al. 2023). The generation prompt includes them.
    """

    def __init__(
        self,
        tokenizer: Any,
        style: Style,
        merge_size: int = 2,
        temporal_patch_size: int = 2,
        fps: float = 2.0,
        text_first: bool = False,
        compact: bool = False,
        pauses: int = 0,
    ) -> None:
        if style not in ("qwen3_vl", "qwen2_5_vl", "plain"):
            raise ChatFormatError(f"unknown chat style {style!r} (expected qwen3_vl, qwen2_5_vl or plain)")
        if compact and style != "plain":
            raise ChatFormatError(f"the compact layout is for the plain style, not {style!r}")
        if pauses < 0:
            raise ChatFormatError(f"pauses must be >= 0, got {pauses}")
        self.tokenizer = tokenizer
        self.style: Style = style
        self.merge_size = merge_size
        self.temporal_patch_size = temporal_patch_size
        self.fps = fps
        self.text_first = text_first
        self.compact = compact
        self.pauses = int(pauses)
        self.reserved = (*_RESERVED, *(ROLE_TOKENS.values() if compact else ()), *((PAUSE_TOKEN,) if pauses else ()))
        self.ids = {tok: self._token_id(tok) for tok in (*self.reserved, SILENT_TOKEN)}
        self.silent_token_id: int = self.ids[SILENT_TOKEN]
        self.end_of_turn_id: int = self.ids[IM_END]
        self.video_pad_id: int = self.ids[VIDEO_PAD]
        self.image_pad_id: int = self.ids[IMAGE_PAD]
        self._newline = [] if compact else self._encode("\n")
        self._generation_prompt = self._encode(self.header("assistant"))

    @classmethod
    def from_tokenizer(
        cls,
        tokenizer: Any,
        style: Style,
        merge_size: int = 2,
        *,
        temporal_patch_size: int = 2,
        fps: float = 2.0,
        text_first: bool = False,
        compact: bool = False,
        pauses: int = 0,
    ) -> ChatFormat:
        """A format for ``tokenizer`` (which must know the Qwen special tokens and ``<|silent|>``).

        ``text_first`` renders a user message's text (the question) before its video parts (the
        chunk), whatever their order in the message: a model whose visual tokens then come after
        the question can read them with the question in view (aura-nano's ``question_first``).
        ``compact`` needs a tokenizer with the role tokens too, ``pauses`` one with ``<|pause|>``
        (see the class).
        """
        return cls(tokenizer, style, merge_size, temporal_patch_size, fps, text_first, compact, pauses)

    def header(self, role: str) -> str:
        """The text that opens a message of ``role`` in this format (``message_header``)."""
        return message_header(role, compact=self.compact, pauses=self.pauses)

    # ------------------------------------------------------------------ helpers
    def _token_id(self, token: str) -> int:
        tid = self.tokenizer.convert_tokens_to_ids(token)
        unk = getattr(self.tokenizer, "unk_token_id", None)
        if tid is None or (unk is not None and tid == unk and token != self.tokenizer.unk_token):
            raise ChatFormatError(f"the tokenizer has no {token} token")
        encoded = self.tokenizer.encode(token, add_special_tokens=False)
        if encoded != [tid]:
            raise ChatFormatError(f"the tokenizer does not treat {token} as one special token")
        return int(tid)

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def _check_text(self, text: str, role: str) -> str:
        if not isinstance(text, str):
            raise ChatFormatError(f"a {role} message has non-text content {type(text).__name__}")
        for tok in self.reserved:
            if tok in text:
                raise ChatFormatError(f"a {role} message contains the reserved token text {tok}")
        return text

    def _video_text(self, grid: tuple[int, int, int]) -> tuple[str, list[int]]:
        """The placeholder text of one video (one pad per vision block) and the pad count of each block."""
        t, h, w = (int(v) for v in grid)
        if t < 1 or h < 1 or w < 1 or (h * w) % (self.merge_size**2):
            raise ChatFormatError(f"video grid {grid} does not fit merge size {self.merge_size}")
        per_patch = h * w // self.merge_size**2
        if self.style == "qwen3_vl":
            pieces, counts = [], []
            tp = self.temporal_patch_size
            for k in range(t):
                first, last = k * tp, k * tp + tp - 1
                seconds = (first + last) / 2 / self.fps
                pieces.append(f"<{seconds:.1f} seconds>{VISION_START}{VIDEO_PAD}{VISION_END}")
                counts.append(per_patch)
            return "".join(pieces), counts
        if self.compact:
            return VIDEO_PAD, [t * per_patch]
        return f"{VISION_START}{VIDEO_PAD}{VISION_END}", [t * per_patch]

    # ------------------------------------------------------------------ encoding
    def encode_message(self, message: dict, grid_for_chunk: GridFn) -> EncodedMessage:
        """Encode one message; ``grid_for_chunk(video_part)`` gives the chunk's (t, h, w) patch grid."""
        role = message.get("role")
        if role not in ("system", "user", "assistant"):
            raise ChatFormatError(f"unknown message role {role!r}")
        content = message.get("content")
        body: list[str] = []
        pad_counts: list[int] = []
        chunks: list[int] = []
        grids: list[tuple[int, int, int]] = []
        if isinstance(content, str):
            body.append(self._check_text(content, role))
        elif isinstance(content, list):
            if self.text_first and role == "user":
                content = sorted(content, key=lambda part: not (isinstance(part, dict) and part.get("type") == "text"))
            for part in content:
                kind = part.get("type") if isinstance(part, dict) else None
                if kind == "text":
                    body.append(self._check_text(part.get("text", ""), role))
                elif kind == "video" and role == "user":
                    grid = tuple(int(v) for v in grid_for_chunk(part))
                    text, counts = self._video_text(grid)  # type: ignore[arg-type]
                    body.append(text)
                    pad_counts.extend(counts)
                    chunks.append(int(part["chunk"]))
                    grids.append(grid)  # type: ignore[arg-type]
                else:
                    raise ChatFormatError(f"a {role} message has an unsupported part {kind!r}")
        elif content is None:
            body.append("")
        else:
            raise ChatFormatError(f"a {role} message has content of type {type(content).__name__}")
        header = self.header(role)
        text = message_text(role, "".join(body), compact=self.compact, pauses=self.pauses)
        raw = self._encode(text)

        ids: list[int] = []
        types: list[int] = []
        pads = iter(pad_counts)
        for tid in raw:
            if tid == self.video_pad_id:
                n = next(pads, None)
                if n is None:
                    raise ChatFormatError("more video placeholders than videos in a message")
                ids.extend([tid] * n)
                types.extend([VIDEO] * n)
            else:
                ids.append(tid)
                types.append(IMAGE if tid == self.image_pad_id else TEXT)
        if next(pads, None) is not None:
            raise ChatFormatError("fewer video placeholders than videos in a message")

        supervised = None
        if role == "assistant":
            supervised = self._assistant_span(raw, text, len(header))
        return EncodedMessage(ids, types, supervised, chunks, tuple(grids))

    def _assistant_span(self, ids: list[int], text: str, header_chars: int) -> tuple[int, int]:
        """``[start, end)`` of the content and ``<|im_end|>`` inside an assistant message's tokens."""
        head = self._generation_prompt
        tail = self._newline
        if (
            ids[: len(head)] == head
            and ids[len(ids) - len(tail):] == tail
            and ids[len(ids) - len(tail) - 1] == self.end_of_turn_id
        ):
            return len(head), len(ids) - len(tail)
        # Rare: the content's first characters merged with the header's newline. Use character offsets.
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        start = next(i for i, (a, _) in enumerate(offsets) if a >= header_chars)
        end_char = len(text) - (0 if self.compact else 1)  # a final newline is not supervised
        end = max(i for i, (_, b) in enumerate(offsets) if b <= end_char) + 1
        return start, end

    def encode_messages(self, messages: Sequence[dict], grid_for_chunk: GridFn) -> list[EncodedMessage]:
        """Encode each message; the conversation's tokens are the concatenation of the results."""
        return [self.encode_message(m, grid_for_chunk) for m in messages]

    def generation_prompt(self) -> list[int]:
        """The tokens that open the assistant's reply: ``<|im_start|>assistant\\n``."""
        return list(self._generation_prompt)

    def is_silent_content(self, content: str) -> bool:
        """True when an assistant reply is the silent token."""
        return content.strip() == SILENT_TOKEN


def strip_reserved(text: str) -> str:
    """Generated text without chat-structure token text (so it can be recorded and re-encoded), stripped."""
    for tok in (*_RESERVED, *ROLE_TOKENS.values(), PAUSE_TOKEN):
        text = text.replace(tok, "")
    return text.strip()


def concat(encoded: Sequence[EncodedMessage]) -> tuple[list[int], list[int]]:
    """The conversation's token ids and token types: the concatenation of per-message encodings."""
    ids: list[int] = []
    types: list[int] = []
    for e in encoded:
        ids.extend(e.input_ids)
        types.extend(e.mm_token_type_ids)
    return ids, types
