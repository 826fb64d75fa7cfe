"""Token ids, loss kinds and video parts of a training sample, from its rendered messages.

A sample's ``messages`` are encoded one message at a time by the backend's ``ChatFormat``
(``aura.models.hf.chat``); the sequence is the concatenation. Each assistant message's
supervised span (its content plus the end-of-turn token) gets a ``TokenKind``:

- the last message is the target (``TARGET``) and must be a non-silent assistant reply, except
  that a hard negative may be the target (a *silent anchor*: ``<|silent|>`` with ``"hard": true``,
  kind ``HARD_SILENT``), so the decision to stay silent is also trained in the exact context
  inference renders at that chunk;
- every assistant message whose content is exactly ``<|silent|>`` is ``SILENT``, or
  ``HARD_SILENT`` when the message says ``"hard": true`` (a hard negative: something happened in
  its chunk that no question asked about; the loss can weigh these up);
- every other (earlier, non-silent) assistant message is ``EARLIER``.

A message may also say ``"supervise"`` (exact-context samples, ``aura.stream.exact``): with
``false`` it is context only (``NONE``, not counted as silent); with ``true`` a non-silent
earlier reply is a ``TARGET`` too (trained in its exact context), and a silent last message
is a target like a silent anchor.

``EncodedSample.targets(variant)`` turns kinds into labels (``-100`` where unsupervised) and
per-token weights with the very function the loss uses, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from aura.errors import AuraError
from aura.stream.messages import is_silent, video_parts
from aura.train.loss import LossVariant, TokenKind, labels_from, supervision

GridForPart = Callable[[dict[str, Any]], tuple[int, int, int]]


class SampleError(AuraError):
    """A training sample cannot be turned into labels (no target, too long, malformed)."""


class SampleTooLongError(SampleError):
    """A sample (or its target alone) does not fit the maximum sequence length."""


@dataclass
class EncodedSample:
    """One sample as token arrays.

    ``input_ids``/``mm_token_type_ids``/``kinds`` are int64 arrays of equal length; ``n_silent``
    counts the silent assistant messages; ``video_parts`` lists the sample's video parts in the
    order their placeholders appear (the order their pixels must be concatenated in).
    """

    id: str
    input_ids: np.ndarray
    mm_token_type_ids: np.ndarray
    kinds: np.ndarray
    n_silent: int
    video_parts: list[dict[str, Any]] = field(default_factory=list)
    video_grids: list[tuple[int, int, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def targets(self, variant: LossVariant = "balanced",
                hard_weight: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Labels (``-100`` where unsupervised) and per-token weights under the loss ``variant``."""
        kinds = torch.from_numpy(self.kinds)[None]
        mask, weights = supervision(kinds, torch.tensor([self.n_silent]), variant, hard_weight)
        labels = labels_from(torch.from_numpy(self.input_ids)[None], mask)
        return labels[0].numpy(), weights[0].numpy()


def _sample_name(sample: dict[str, Any]) -> str:
    return str(sample.get("id", "?"))


def check_messages(sample: dict[str, Any]) -> list[dict[str, Any]]:
    """The sample's messages, after checking the last one is a non-silent assistant reply (or a
    silent anchor: ``<|silent|>`` marked ``"hard": true``).

    Raises ``SampleError`` (one line, naming the sample) otherwise.
    """
    name = _sample_name(sample)
    messages = sample.get("messages") if isinstance(sample, dict) else None
    if not isinstance(messages, list) or not messages:
        raise SampleError(f"sample {name}: no messages")
    if not all(isinstance(m, dict) for m in messages):
        raise SampleError(f"sample {name}: a message is not an object")
    if not any(m.get("role") == "assistant" for m in messages):
        raise SampleError(f"sample {name}: no assistant turn")
    last = messages[-1]
    if last.get("role") != "assistant":
        raise SampleError(f"sample {name}: the last message (the target) is a {last.get('role')!r} turn, not assistant")
    if is_silent(last):
        if last.get("hard") is True or last.get("supervise") is True:
            return messages  # a silent anchor (a hard negative, or an exact-context turn, as the target)
        raise SampleError(f"sample {name}: the target (last message) is <|silent|>; samples are anchored at "
                          "replies (or at silent turns marked \"hard\": true or \"supervise\": true)")
    if not isinstance(last.get("content"), str) or not last["content"].strip():
        raise SampleError(f"sample {name}: the target (last message) is empty")
    return messages


def encode_sample(
    sample: dict[str, Any],
    chat_format: Any,
    grid_for_part: GridForPart,
    max_length: int | None = None,
) -> EncodedSample:
    """Encode ``sample`` with ``chat_format`` (a ``ChatFormat``); kinds per the module rules.

    ``grid_for_part(video_part)`` gives each video part's (t, h, w) patch grid. A sample longer
    than ``max_length`` tokens, or whose target alone is, raises ``SampleTooLongError``; a
    sample without a proper target raises ``SampleError``; a message the format cannot encode
    raises its ``ChatFormatError``.
    """
    name = _sample_name(sample)
    messages = check_messages(sample)
    encoded = chat_format.encode_messages(messages, grid_for_part)
    last = len(messages) - 1
    pieces_ids: list[Sequence[int]] = []
    pieces_types: list[Sequence[int]] = []
    pieces_kinds: list[np.ndarray] = []
    parts: list[dict[str, Any]] = []
    grids: list[tuple[int, int, int]] = []
    n_silent = 0
    for i, (msg, enc) in enumerate(zip(messages, encoded, strict=True)):
        kinds = np.zeros(len(enc.input_ids), dtype=np.int64)
        if enc.supervised is not None and msg.get("supervise") is not False:
            if (i == last or msg.get("supervise") is True) and not is_silent(msg):
                kind = TokenKind.TARGET
                target_len = enc.supervised[1] - enc.supervised[0]
                if max_length is not None and target_len > max_length:
                    raise SampleTooLongError(
                        f"sample {name}: the target alone is {target_len} tokens, over max_length {max_length}"
                    )
            elif is_silent(msg):
                kind = TokenKind.HARD_SILENT if msg.get("hard") is True else TokenKind.SILENT
                n_silent += 1
            else:
                kind = TokenKind.EARLIER
            kinds[enc.supervised[0] : enc.supervised[1]] = int(kind)
        pieces_ids.append(enc.input_ids)
        pieces_types.append(enc.mm_token_type_ids)
        pieces_kinds.append(kinds)
        vparts = video_parts(msg)
        parts.extend(vparts)
        grids.extend(tuple(int(x) for x in g) for g in getattr(enc, "video_grids", ()))
    ids = np.fromiter((t for p in pieces_ids for t in p), dtype=np.int64)
    if max_length is not None and ids.shape[0] > max_length:
        raise SampleTooLongError(f"sample {name}: {ids.shape[0]} tokens, over max_length {max_length}")
    types = np.fromiter((t for p in pieces_types for t in p), dtype=np.int64)
    return EncodedSample(
        id=name,
        input_ids=ids,
        mm_token_type_ids=types,
        kinds=np.concatenate(pieces_kinds),
        n_silent=n_silent,
        video_parts=parts,
        video_grids=grids,
    )
