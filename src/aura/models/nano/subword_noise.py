"""Subword noise: training-only random segmentations of the user's words (BPE-dropout-like).

A tokenizer trained on the world's text has one token for each word the training phrasings use
(`` disappears``, `` colour``) and splits a word it never saw into short pieces (``Report`` ->
``R``, ``e``, ``port``; ``disappearance`` -> `` disappear``, ``an``, ``ce``). A model that has
only ever read the canonical tokens meets those pieces for the first time in a held-out
phrasing. Provilkov et al. (2020, "BPE-Dropout") train on random segmentations of the same
text, so the model learns to read words from their pieces too; this does the same for the
user's messages (the questions) of nano's training samples:

- every word token of a user message is, with probability ``p``, cut at a random place and each
  part re-tokenized by the same BPE model; the parts are cut again with probability ``p``;
- the text is unchanged (the pieces decode to the same string), the header and the special
  tokens are never cut, and assistant messages (the targets and the history of replies) keep the
  canonical tokens the model must generate;
- with ``keep`` (``world_word_ids``), the world's colour, shape and event words stay whole: only
  the framing of a question is cut, not the words that name what it asks about;
- with ``stems`` (``event_verb_ids``), the event verbs may be cut too, but only within their last
  ``STEM_SUFFIX`` characters, and the piece before the cut is never cut again: `` disappears``
  becomes `` disappear`` + ``s``, `` changes`` becomes `` chang`` + ``es``. That is the
  segmentation another inflection of the same verb gets (`` disappearance`` -> `` disappear``,
  ``an``, ``ce``; `` change`` -> `` chang``, ``e``), so the model learns the kind from the stem
  token, while a random cut (`` dis`` + ``appears``) could read as another kind;
- the randomness is a seeded ``numpy`` generator, so a run is reproducible (from the start: a
  resumed run draws again from the seed).

Inference always uses the canonical tokens (``nano_chat_format``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aura.models.hf.chat import TEXT, ChatFormat, EncodedMessage

STEM_SUFFIX = 3
"""A stem-only cut (``SubwordPieces`` with ``stems``) falls within a word's last this many characters."""


class SubwordPieces:
    """Cuts tokens of one byte-level BPE tokenizer into smaller valid tokens of the same text."""

    def __init__(self, tokenizer: Any, keep: frozenset[int] = frozenset(),
                 stems: frozenset[int] = frozenset()) -> None:
        backend = tokenizer.backend_tokenizer
        self._model = backend.model
        specials = {int(i) for i in tokenizer.added_tokens_decoder}  # every special token is an added one
        self._stems = frozenset(int(i) for i in stems) - specials  # a stem-only cut overrides ``keep``
        self._whole = frozenset(specials | {int(i) for i in keep}) - self._stems
        self._vocab: dict[int, str] = {int(i): s for s, i in backend.get_vocab(with_added_tokens=True).items()}
        self._pieces: dict[str, list[int]] = {}

    def cuttable(self, token_id: int) -> bool:
        """True for a token of two or more characters with a letter in it that is neither a special
        token nor one of the kept ones."""
        if token_id in self._whole:
            return False
        s = self._vocab.get(int(token_id), "")
        return len(s) >= 2 and any(c.isalpha() for c in s)

    def _tokenize(self, piece: str) -> list[int]:
        hit = self._pieces.get(piece)
        if hit is None:
            hit = [int(t.id) for t in self._model.tokenize(piece)]
            self._pieces[piece] = hit
        return hit

    def cut(self, token_id: int, rng: np.random.Generator, p: float, depth: int = 0) -> list[int]:
        """``token_id`` as one or more tokens of the same text: cut with probability ``p`` at a
        uniformly drawn place, each part re-tokenized and cut again the same way (at most 4 deep).
        A ``stems`` token is cut, with probability ``p``, only once, within its last ``STEM_SUFFIX``
        characters, and its two parts are re-tokenized without further cuts."""
        if depth >= 4 or not self.cuttable(token_id) or rng.random() >= p:
            return [int(token_id)]
        s = self._vocab[int(token_id)]
        if int(token_id) in self._stems:
            at = len(s) - int(rng.integers(1, min(STEM_SUFFIX, len(s) - 1) + 1))
            return [*self._tokenize(s[:at]), *self._tokenize(s[at:])]
        at = int(rng.integers(1, len(s)))
        out: list[int] = []
        for part in (s[:at], s[at:]):
            for t in self._tokenize(part):
                out.extend(self.cut(t, rng, p, depth + 1))
        return out


class SubwordNoiseFormat(ChatFormat):
    """A ``ChatFormat`` whose user messages are tokenized with subword noise (training only)."""

    def __init__(self, base: ChatFormat, p: float, seed: int, keep: frozenset[int] = frozenset(),
                 stems: frozenset[int] = frozenset()) -> None:
        if not 0.0 <= p < 1.0:
            raise ValueError(f"subword noise must be in [0, 1), got {p}")
        super().__init__(base.tokenizer, base.style, base.merge_size, base.temporal_patch_size, base.fps,
                         base.text_first, base.compact, base.pauses)
        self.p = float(p)
        self.rng = np.random.default_rng([int(seed), 23])
        self.pieces = SubwordPieces(base.tokenizer, keep, stems)
        self._header = len(self._encode(self.header("user")))

    def encode_message(self, message: dict, grid_for_chunk: Any) -> EncodedMessage:
        """The message's canonical encoding; for a user message, its word tokens after the header
        cut as the module says (video pads, specials and the header untouched)."""
        enc = super().encode_message(message, grid_for_chunk)
        if message.get("role") != "user" or self.p == 0.0:
            return enc
        ids: list[int] = []
        types: list[int] = []
        for k, (tid, kind) in enumerate(zip(enc.input_ids, enc.mm_token_type_ids, strict=True)):
            if k < self._header or kind != TEXT:
                ids.append(tid)
                types.append(kind)
                continue
            parts = self.pieces.cut(tid, self.rng, self.p)
            ids.extend(parts)
            types.extend([TEXT] * len(parts))
        return EncodedMessage(ids, types, enc.supervised, enc.video_chunks, enc.video_grids)


def world_word_ids(tokenizer: Any) -> frozenset[int]:
    """The token ids of the world's colour, shape and (training phrasings') event words, as words
    inside a sentence and at its start, where they are one token."""
    from aura.models.nano.tokenizer import EVENT_WORDS
    from aura.world.vocab import COLOURS, SHAPES

    return _single_token_ids(tokenizer, [*COLOURS, *SHAPES, *(w for ws in EVENT_WORDS.values() for w in ws)])


def event_verb_ids(tokenizer: Any) -> frozenset[int]:
    """The token ids of the event words that are verbs (every event word but the noun ``colour``:
    `` appears``, `` disappears``, `` changes``, ...), in the forms ``world_word_ids`` takes."""
    from aura.models.nano.tokenizer import EVENT_WORDS

    return _single_token_ids(tokenizer, [w for ws in EVENT_WORDS.values() for w in ws if w != "colour"])


def _single_token_ids(tokenizer: Any, words: list[str]) -> frozenset[int]:
    out = set()
    for w in words:
        for form in (" " + w, w, w.capitalize()):
            ids = tokenizer.encode(form, add_special_tokens=False)
            if len(ids) == 1:
                out.add(int(ids[0]))
    return frozenset(out)


def with_subword_noise(chat_format: ChatFormat, p: float, seed: int, *, keep_world_words: bool = False,
                       event_stems: bool = False) -> ChatFormat:
    """``chat_format`` itself when ``p`` is 0, else a copy that adds subword noise to user messages
    (sparing the world's words with ``keep_world_words``; with ``event_stems`` as well, the event
    verbs are cut only where their stems stay whole)."""
    if p == 0.0:
        return chat_format
    keep = world_word_ids(chat_format.tokenizer) if keep_world_words else frozenset()
    stems = event_verb_ids(chat_format.tokenizer) if event_stems else frozenset()
    return SubwordNoiseFormat(chat_format, p, seed, keep, stems)
